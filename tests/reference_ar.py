"""An independent pandas computation of AR figures, straight from the drop files.

It shares no code with the platform's SQL: it reads the landing CSVs, applies the
documented definitions (open at end of day, days past due, trailing-window DSO)
and gives numbers to compare gold against.
"""

from __future__ import annotations

import glob
from datetime import date
from pathlib import Path

import pandas as pd

from smepulse_lib.settings import DBT_PROJECT_DIR


def load_invoices(landing_dir: str) -> pd.DataFrame:
    frames = []
    for path in sorted(glob.glob(f"{landing_dir}/kaggle_invoices/*/*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["delivered_on"] = pd.Timestamp(Path(path).parent.name)
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True).drop_duplicates()
    rows["doc_id"] = rows["doc_id"].astype(float).astype("int64")
    rows["amount"] = rows["total_open_amount"].astype(float)
    rows["posted"] = pd.to_datetime(rows["posting_date"])
    rows["due"] = pd.to_datetime(rows["due_in_date"].str[:8], format="%Y%m%d")
    opened = rows[rows["isOpen"] == "1"].groupby("doc_id").first()
    cleared_on = rows[rows["isOpen"] == "0"].groupby("doc_id")["delivered_on"].min()
    invoices = opened[["posted", "due", "amount", "invoice_currency"]].join(cleared_on.rename("cleared_on"))
    fx = pd.read_csv(DBT_PROJECT_DIR / "seeds" / "fx_rates_shipped.csv", parse_dates=["rate_date"])
    month = invoices["posted"].dt.to_period("M").dt.to_timestamp()
    rate = [
        fx[(fx.currency == cur) & (fx.rate_date <= m)].sort_values("rate_date")["rate"].iloc[-1]
        for cur, m in zip(invoices["invoice_currency"], month, strict=False)
    ]
    invoices["amount_usd"] = (invoices["amount"] * pd.Series(rate, index=invoices.index)).round(2)
    return invoices


def ar_on(invoices: pd.DataFrame, day: date, window_days: int = 30) -> dict:
    d = pd.Timestamp(day)
    open_ = invoices[(invoices.posted <= d) & (invoices.cleared_on.isna() | (invoices.cleared_on > d))]
    overdue = (d - open_.due).dt.days.clip(lower=0)
    buckets = pd.cut(overdue, [-1, 30, 60, 90, 10**6], labels=["0-30", "31-60", "61-90", "90+"])
    trailing = invoices[(invoices.posted > d - pd.Timedelta(days=window_days)) & (invoices.posted <= d)]
    days_covered = min(window_days, (d - invoices.posted.min()).days + 1)
    return {
        "open_invoices": len(open_),
        "open_amount": round(open_.amount_usd.sum(), 2),
        "invoices_posted": int((invoices.posted == d).sum()),
        "invoices_paid": int((invoices.cleared_on == d).sum()),
        "overdue_invoices": int((overdue > 0).sum()),
        "dso_days": round(open_.amount_usd.sum() / (trailing.amount_usd.sum() / days_covered), 2),
        "aging_counts": buckets.value_counts().reindex(["0-30", "31-60", "61-90", "90+"]).tolist(),
        "aging_amounts": open_.amount_usd.groupby(buckets, observed=False).sum().round(2).tolist(),
    }
