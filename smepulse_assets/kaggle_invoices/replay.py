"""Turn a whole Kaggle invoices file into the daily deliveries an AR feed makes.

For each day D the drop holds the invoices posted on D (as open) and a
clearing update for every invoice cleared on D, so the pipeline sees invoices
appear and later get paid. Values are copied as the file has them, quirks and
all. A clearing dated before its posting (the real file has a few) is
delivered with the posting. Days in the span with nothing to deliver get a
header-only file: every business day is a partition.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from smepulse_assets.ingestion.header_report import ForeignFileError, HeaderReport
from smepulse_assets.kaggle_invoices.contract import HEADER, SOURCE_NAME
from smepulse_lib import storage

POSTING = HEADER.index("posting_date")
CLEARING = HEADER.index("clear_date")
IS_OPEN = HEADER.index("isOpen")
UNROUTABLE_FOLDER = "unroutable"


def split_into_drops(
    rows: list[list[str]], header: Sequence[str] = HEADER
) -> tuple[dict[date, list[list[str]]], list[list[str]]]:
    """Daily drops keyed by day, and the rows whose posting date cannot be read. ``header``: the
    Kaggle columns, then any extras the rows carry."""
    openings: dict[date, list[list[str]]] = defaultdict(list)
    clearings: dict[date, list[list[str]]] = defaultdict(list)
    unroutable = []
    for row in rows:
        posted = _day(row[POSTING]) if len(row) == len(header) else None
        if posted is None:
            unroutable.append(row)
            continue
        opening = list(row)
        opening[CLEARING], opening[IS_OPEN] = "", "1"
        openings[posted].append(opening)
        cleared = _day(row[CLEARING][:10])
        if cleared is not None:
            closing = list(row)
            closing[IS_OPEN] = "0"
            clearings[max(cleared, posted)].append(closing)
    days = set(openings) | set(clearings)
    if not days:
        return {}, unroutable
    first, last = min(days), max(days)
    span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return {d: openings.get(d, []) + clearings.get(d, []) for d in span}, unroutable


def _day(value: str) -> date | None:
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None


def to_csv_bytes(rows: list[list[str]], header: Sequence[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def drop_url(landing_url: str, day: date, stem: str = "invoices") -> str:
    return storage.join(landing_url, SOURCE_NAME, f"{day:%Y-%m-%d}", f"{stem}_{day:%Y-%m-%d}.csv")


def write_drops(
    drops: dict[date, list[list[str]]],
    landing_url: str,
    unroutable: Sequence[list[str]] = (),
    stem: str = "invoices",
    header: Sequence[str] = HEADER,
) -> list[str]:
    """Write each day's drop (``<stem>_<day>.csv``: an imported ledger names its own files, so it
    replaces only its own); unroutable rows go to a folder for review."""
    written = []
    for day in sorted(drops):
        url = drop_url(landing_url, day, stem)
        storage.write_bytes(url, to_csv_bytes(drops[day], header))
        written.append(url)
    if unroutable:
        url = storage.join(landing_url, SOURCE_NAME, UNROUTABLE_FOLDER, "rows.csv")
        storage.write_bytes(url, to_csv_bytes([r + [""] * (len(header) - len(r)) for r in unroutable], header))
        written.append(url)
    return written


def read_snapshot(url: str) -> list[list[str]]:
    """Read a whole Kaggle file (the real download or a generated one) as strings."""
    text = storage.read_bytes(url).decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text, newline="")))
    header, body = (records[0] if records else []), [r for r in records[1:] if r]
    report = HeaderReport(HEADER, tuple(header))
    if not report.ok:
        raise ForeignFileError(
            report.describe(f"{url} is not in the Kaggle invoices format")
            + "\nA file of another shape is imported with a mapping: smepulse import FILE --mapping MAPPING.yaml"
        )
    if tuple(header) != HEADER:  # the right columns in another order
        position = [header.index(c) for c in HEADER]
        body = [[r[i] for i in position] if len(r) == len(header) else r for r in body]  # ragged: unroutable
    return body


@dataclass(frozen=True)
class Replay:
    files: list[str]
    unroutable_rows: int
    first_day: date | None  # the earliest posting day written, None when no row had one


def replay_file(url: str, landing_url: str) -> Replay:
    drops, unroutable = split_into_drops(read_snapshot(url))
    return Replay(write_drops(drops, landing_url, unroutable), len(unroutable), min(drops, default=None))
