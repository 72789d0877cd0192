"""A corpus of broken deliveries: each function breaks a clean day's drop file one way.

They rewrite the real CSV the generator wrote for that day (all values kept as
text, so everything else stays exactly as delivered).
"""

import io
from datetime import date

import pandas as pd

from smepulse_assets.kaggle_invoices.replay import drop_url
from smepulse_lib import storage


def read_drop(landing_url: str, day: date) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(storage.read_bytes(drop_url(landing_url, day))), dtype=str, keep_default_na=False)


def write_drop(landing_url: str, day: date, frame: pd.DataFrame) -> None:
    storage.write_bytes(drop_url(landing_url, day), frame.to_csv(index=False).encode())


def rewrite(landing_url: str, day: date, breaker) -> pd.DataFrame:
    frame = breaker(read_drop(landing_url, day).copy())
    write_drop(landing_url, day, frame)
    return frame


def every_nth(frame: pd.DataFrame, n: int) -> pd.Series:
    return pd.Series(range(len(frame)), index=frame.index) % n == 0


def null_keys(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[every_nth(frame, 10), "doc_id"] = ""
    return frame


def negative_amounts(frame: pd.DataFrame, every: int = 25) -> pd.DataFrame:
    mask = every_nth(frame, every)
    frame.loc[mask, "total_open_amount"] = "-" + frame.loc[mask, "total_open_amount"]
    return frame


def trailing_whitespace(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[every_nth(frame, 5), "cust_number"] += "  "
    return frame


def shifted_business_mix(frame: pd.DataFrame) -> pd.DataFrame:
    frame["business_code"] = "U005"  # a 2% code becomes the whole day
    return frame


def inflated_amounts(frame: pd.DataFrame) -> pd.DataFrame:
    frame["total_open_amount"] = (frame["total_open_amount"].astype(float) * 1000).map("{:.2f}".format)
    return frame


def missing_invoice_ids(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[every_nth(frame, 2), "invoice_id"] = ""
    return frame


def flood_of_bad_rows(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[every_nth(frame, 2), "total_open_amount"] = "n/a"
    return frame


def old_postings(frame: pd.DataFrame, days: int = 10) -> pd.DataFrame:
    """The same day's file, but every posting (and date derived from it) pushed back: a stale re-send."""
    posting = pd.to_datetime(frame["posting_date"]) - pd.Timedelta(days=days)
    frame["posting_date"] = posting.dt.strftime("%Y-%m-%d")
    return frame


def one_amount_in_cents(frame: pd.DataFrame) -> pd.DataFrame:
    """One invoice's amount written in cents: a hundred times the ledger's usual."""
    frame.loc[frame.index[0], "total_open_amount"] = f"{float(frame['total_open_amount'].iloc[0]) * 100:.2f}"
    return frame


def cleared_before_posting(frame: pd.DataFrame) -> pd.DataFrame:
    """A clearing dated before the invoice's posting (a prepayment, or a typo)."""
    cleared = frame.index[frame["isOpen"] == "0"][:1]
    frame.loc[cleared, "clear_date"] = (
        pd.to_datetime(frame.loc[cleared, "posting_date"]) - pd.Timedelta(days=3)
    ).dt.strftime("%Y-%m-%d 00:00:00")
    return frame
