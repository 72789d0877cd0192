"""The AR pack: an Excel workbook a credit controller works from, one per day.

Cells are typed (dates as dates, amounts as numbers with a format, shares as percentages),
headers are frozen with an autofilter, columns sized to their content. Text from the data is
always stored as text: a customer named ``=HYPERLINK(...)`` stays a name, never a formula.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from smepulse_assets.reports.figures import Figures

AMOUNT = "#,##0.00"
COUNT = "#,##0"
SHARE = "0.0%"
DAY = "yyyy-mm-dd"
SHARE_WORDS = ("share", "rate", "probability", "confidence", "pct", "utilisation")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
MAX_WIDTH = 48

# Sheet names the check reads back.
SUMMARY, AGING, OPEN_ITEMS, WORKLIST, COLLECTIONS, DSO, SALES = (
    "Summary",
    "Aging by customer",
    "Open invoices",
    "Collection worklist",
    "Collections, 13 weeks",
    "DSO trend",
    "Sales ledger (VND)",
)
HEADLINE_LABELS = {
    "open_invoices": "Open invoices",
    "open_amount": "Open receivables (USD)",
    "overdue_amount": "Overdue (USD)",
    "dso_days": "DSO (days)",
    "cash_in_last_7_days": "Cash in, last 7 days (USD)",
    "predicted_cash_in_next_30_days": "Predicted cash-in, next 30 days (USD)",
    "open_alerts": "Open data alerts",
}


def ar_pack(figures: Figures) -> bytes:
    """The workbook of ``figures.day`` as .xlsx bytes."""
    book = Workbook()
    summary = book.active
    summary.title = SUMMARY
    _write_summary(summary, figures)
    for title, frame in (
        (AGING, figures.aging_by_customer()),
        (OPEN_ITEMS, figures.open_invoices()),
        (WORKLIST, figures.worklist()),
        (COLLECTIONS, figures.ar_collections()),
        (DSO, figures.dso_trend()),
    ):
        write_table(book.create_sheet(title), frame)
    sales = figures.sales_ledger()
    if len(sales):  # the SME's own ledger, where its sales sources are delivered
        write_table(book.create_sheet(SALES), sales)
    return _saved(book)


def _saved(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table_workbook(frame: pd.DataFrame, title: str) -> bytes:
    """One table as an .xlsx of its own (the dashboard's downloads)."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit on sheet names
    write_table(sheet, frame)
    return _saved(book)


def _write_summary(sheet: Worksheet, figures: Figures) -> None:
    sheet.append(["SME Pulse receivables pack", None])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(["As of", figures.day])
    sheet["B2"].number_format = DAY
    sheet.append([])
    headline = figures.headline()
    for key, label in HEADLINE_LABELS.items():
        sheet.append([label, headline[key]])
        sheet.cell(sheet.max_row, 2).number_format = COUNT if key in {"open_invoices", "open_alerts"} else AMOUNT
    sheet.append([])
    start = sheet.max_row + 1
    write_table(sheet, figures.aging_buckets(), first_row=start, freeze=False)
    sheet.column_dimensions["A"].width = 40
    sheet.column_dimensions["B"].width = 22


def write_table(sheet: Worksheet, frame: pd.DataFrame, first_row: int = 1, freeze: bool = True) -> None:
    """``frame`` from ``first_row``: a styled header, typed cells, an autofilter over the table."""
    for col, name in enumerate(frame.columns, start=1):
        cell = sheet.cell(first_row, col, str(name))
        cell.font, cell.fill = Font(bold=True, color="FFFFFF"), HEADER_FILL
    for offset, row in enumerate(frame.itertuples(index=False), start=1):
        for col, (name, value) in enumerate(zip(frame.columns, row, strict=True), start=1):
            _put(sheet, first_row + offset, col, str(name), value)
    last = get_column_letter(max(len(frame.columns), 1))
    if freeze:
        sheet.freeze_panes = f"A{first_row + 1}"  # a string: sheet.cell() would create an empty row
        sheet.auto_filter.ref = f"A{first_row}:{last}{first_row + max(len(frame), 1)}"
    for col, name in enumerate(frame.columns, start=1):
        longest = max([len(str(name)), *(len(_shown(v)) for v in frame.iloc[:200, col - 1])])
        current = sheet.column_dimensions[get_column_letter(col)].width or 0
        sheet.column_dimensions[get_column_letter(col)].width = max(current, min(longest + 2, MAX_WIDTH))


def _put(sheet: Worksheet, row: int, col: int, name: str, value) -> None:
    cell = sheet.cell(row, col)
    if not isinstance(value, str) and pd.isna(value):  # None, NaN, NaT, pd.NA: an empty cell
        return
    if isinstance(value, pd.Timestamp | datetime):
        cell.value, cell.number_format = value.date(), DAY
    elif isinstance(value, date):
        cell.value, cell.number_format = value, DAY
    elif isinstance(value, bool | np.bool_):
        cell.value = bool(value)
    elif isinstance(value, int | np.integer):
        cell.value, cell.number_format = int(value), COUNT
    elif isinstance(value, float | np.floating):
        cell.value = float(value)
        cell.number_format = SHARE if any(w in name for w in SHARE_WORDS) else AMOUNT
    else:
        cell.value = str(value)
        cell.data_type = "s"  # openpyxl takes a string starting with '=' as a formula; data is text


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def _rows(data: bytes, sheet_name: str) -> list[tuple]:
    return list(load_workbook(io.BytesIO(data), read_only=True)[sheet_name].iter_rows(values_only=True))


def read_table(data: bytes, sheet_name: str) -> pd.DataFrame:
    """A table sheet of a written pack back as a frame (what the report check and the tests read)."""
    rows = [row for row in _rows(data, sheet_name) if any(v is not None for v in row)]
    return pd.DataFrame(rows[1:], columns=rows[0]) if rows else pd.DataFrame()


def read_summary(data: bytes) -> tuple[dict, pd.DataFrame]:
    """The summary sheet back: its labelled figures, and its aging bucket table."""
    rows = _rows(data, SUMMARY)
    header = next(i for i, row in enumerate(rows) if row and row[0] == "aging_bucket")
    values = {row[0]: row[1] for row in rows[:header] if row and row[0] is not None}
    return values, pd.DataFrame(rows[header + 1 :], columns=rows[header])
