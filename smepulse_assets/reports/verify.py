"""Report checks: a written file's figures, read back from the file, against the gold tables.

The expected values are queried here from gold directly, not through the queries that built the
report, so a wrong query in the report shows as a mismatch rather than agreeing with itself.
"""

from __future__ import annotations

import math

import pandas as pd

from smepulse_assets.reports.figures import Figures
from smepulse_assets.reports.html_report import read_figures
from smepulse_assets.reports.workbook import AGING, COLLECTIONS, OPEN_ITEMS, WORKLIST, read_summary, read_table

CENT = 0.005


def _gold_ar(figures: Figures) -> dict[str, float | None]:
    row = figures.con.execute(
        "select open_invoices, open_amount, overdue_amount, dso_days from gold.kpi_ar_dso_analysis "
        "where as_of_date = ?",
        [figures.day],
    ).fetchone()
    keys = ("open_invoices", "open_amount", "overdue_amount", "dso_days")
    return dict(zip(keys, row, strict=True)) if row else dict.fromkeys(keys)


def _differs(found, expected) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return found not in (None, "", "n/a")
    try:
        return abs(float(found) - float(expected)) > CENT
    except (TypeError, ValueError):
        return True


def _compare(name: str, found, expected) -> list[str]:
    return [f"{name}: file {found}, gold {expected}"] if _differs(found, expected) else []


def pack_mismatches(data: bytes, figures: Figures) -> list[str]:
    """The workbook's headline, aging buckets, customer totals, open items and worklist against gold."""
    gold = _gold_ar(figures)
    found: list[str] = []
    values, aging = read_summary(data)
    in_file = dict(zip(aging["aging_bucket"], aging["open_amount"], strict=True))
    found += _compare("open invoices", values.get("Open invoices"), gold["open_invoices"])
    found += _compare("open receivables", values.get("Open receivables (USD)"), gold["open_amount"])
    found += _compare("overdue", values.get("Overdue (USD)"), gold["overdue_amount"])
    found += _compare("DSO", values.get("DSO (days)"), gold["dso_days"])
    buckets = figures.con.execute(
        "select aging_bucket, open_amount from gold.kpi_ar_aging where as_of_date = ?", [figures.day]
    ).fetchall()
    for bucket, amount in buckets:
        found += _compare(f"aging {bucket}", in_file.get(bucket), amount)
    customers = read_table(data, AGING)
    found += _compare("aging by customer total", _sum(customers, "total"), gold["open_amount"] or 0)
    found += _compare("open invoice rows", len(read_table(data, OPEN_ITEMS)), gold["open_invoices"] or 0)
    worklist = read_table(data, WORKLIST)
    rows, amount = figures.con.execute(
        "select count(*), coalesce(sum(open_amount), 0) from gold.ar_collection_worklist where score_date = ?",
        [figures.day],
    ).fetchall()[0]
    found += _compare("worklist rows", len(worklist), rows)
    found += _compare("worklist amount", _sum(worklist, "open_amount"), amount)
    collections = read_table(data, COLLECTIONS)
    expected = figures.ar_collections()
    found += _compare("collections weeks", len(collections), len(expected))
    found += _compare(
        "collections, 13 weeks",
        _sum(collections, "predicted_collections"),
        float(expected["predicted_collections"].sum()),
    )
    return found


def report_mismatches(data: bytes, figures: Figures) -> list[str]:
    """The HTML report's key figures against gold, and its open alerts against the count it was written with."""
    shown = read_figures(data.decode("utf-8"))
    found = _compare("as of", 0 if shown.get("as_of") == f"{figures.day}" else 1, 0)
    for key, expected in _gold_ar(figures).items():
        found += _compare(key, shown.get(key), expected)
    return found + _compare("open alerts", shown.get("open_alerts"), figures.open_alerts)


def _sum(frame: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(frame[column]).sum()) if column in frame and len(frame) else 0.0
