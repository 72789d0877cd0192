"""The AR pack: an Excel workbook a credit controller works from, one per day.

Cells are typed (dates as dates, amounts as numbers with a format, shares as percentages),
headers are frozen with an autofilter, columns sized to their content. Text from the data is
always stored as text: a customer named ``=HYPERLINK(...)`` stays a name, never a formula.

Written by XlsxWriter row by row (its constant-memory mode: a sheet's rows go to a temporary file
as they are written, so a pack of a million open invoices does not hold them as cell objects) and
read back by calamine; a table longer than a sheet's rows continues on "<title> (2)", "(3)".
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from itertools import count

import numpy as np
import pandas as pd
from python_calamine import CalamineWorkbook
from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from smepulse_assets.reports.figures import Figures

AMOUNT = "#,##0.00"
COUNT = "#,##0"
SHARE = "0.0%"
DAY = "yyyy-mm-dd"
SHARE_WORDS = ("share", "rate", "probability", "confidence", "pct", "utilisation")
HEADER_FILL = "#1F4E79"
MAX_WIDTH = 48
SHEET_ROWS = 1_048_576  # Excel's rows per sheet, the header's included
WIDTH_SAMPLE = 200  # rows a column's width is measured on
# what XlsxWriter would otherwise make of text: strings starting with '=' become formulas, numeric
# strings numbers, URLs links; data is text, as the ledger has it
OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}

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


class Styles:
    """The formats of one workbook (XlsxWriter's formats belong to the workbook that made them)."""

    def __init__(self, book: Workbook):
        self.book = book
        self.header = book.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": HEADER_FILL})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.numbers = {fmt: book.add_format({"num_format": fmt}) for fmt in (AMOUNT, COUNT, SHARE, DAY)}


@contextmanager
def _workbook() -> Iterator[tuple[Styles, io.BytesIO]]:
    buffer = io.BytesIO()
    book = Workbook(buffer, OPTIONS)
    yield Styles(book), buffer
    book.close()


def ar_pack(figures: Figures) -> bytes:
    """The workbook of ``figures.day`` as .xlsx bytes."""
    with _workbook() as (styles, buffer):
        _write_summary(styles, figures)
        for title, frame in (
            (AGING, figures.aging_by_customer()),
            (OPEN_ITEMS, figures.open_invoices()),
            (WORKLIST, figures.worklist()),
            (COLLECTIONS, figures.ar_collections()),
            (DSO, figures.dso_trend()),
        ):
            write_table(styles, title, frame)
        sales = figures.sales_ledger()
        if len(sales):  # the SME's own ledger, where its sales sources are delivered
            write_table(styles, SALES, sales)
    return buffer.getvalue()


def table_workbook(frame: pd.DataFrame, title: str) -> bytes:
    """One table as an .xlsx of its own (the dashboard's downloads)."""
    with _workbook() as (styles, buffer):
        write_table(styles, title[:31], frame)  # Excel's limit on sheet names
    return buffer.getvalue()


def _write_summary(styles: Styles, figures: Figures) -> None:
    sheet = styles.book.add_worksheet(SUMMARY)
    sheet.write_string(0, 0, "SME Pulse receivables pack", styles.title)
    sheet.write_string(1, 0, "As of")
    sheet.write_datetime(1, 1, _as_datetime(figures.day), styles.numbers[DAY])
    headline = figures.headline()
    for row, (key, label) in enumerate(HEADLINE_LABELS.items(), start=3):
        sheet.write_string(row, 0, label)
        value = headline[key]
        if value is not None and not pd.isna(value):
            fmt = COUNT if key in {"open_invoices", "open_alerts"} else AMOUNT
            sheet.write_number(row, 1, float(value), styles.numbers[fmt])
    aging = figures.aging_buckets()
    _write_rows(styles, sheet, aging, first_row=len(HEADLINE_LABELS) + 4)
    _size_columns(sheet, aging, least=(40, 22))  # the labels and figures above the table too


def write_table(styles: Styles, title: str, frame: pd.DataFrame) -> None:
    """``frame`` on sheet ``title`` (and its continuations when longer than a sheet): a styled
    header, typed cells, frozen header, an autofilter over the table, columns sized to content."""
    part_rows = SHEET_ROWS - 1
    for part in range(max(1, -(-len(frame) // part_rows))):
        sheet = styles.book.add_worksheet(_part_title(title, part))
        rows = frame.iloc[part * part_rows : (part + 1) * part_rows]
        _write_rows(styles, sheet, rows, first_row=0)
        _size_columns(sheet, rows)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(len(rows), 1), max(len(frame.columns), 1) - 1)


def _part_title(title: str, part: int) -> str:
    return title if part == 0 else f"{title[:25]} ({part + 1})"


def _write_rows(styles: Styles, sheet: Worksheet, frame: pd.DataFrame, first_row: int) -> None:
    """The header at ``first_row``, then a row per record. Each column is converted once (its type
    decides its cell format), so a cell costs one write; an empty value writes nothing."""
    sheet.write_row(first_row, 0, [str(name) for name in frame.columns], styles.header)
    columns = [_cells(frame[name], str(name), styles) for name in frame.columns]
    write = sheet.write
    for row, record in enumerate(zip(*(values for values, _ in columns), strict=True), start=first_row + 1):
        for col, (value, (_, fmt)) in enumerate(zip(record, columns, strict=True)):
            if value is not None:
                write(row, col, value, fmt)


def _cells(column: pd.Series, name: str, styles: Styles) -> tuple[list, Format | None]:
    """A column's values as what a cell holds (date, number, bool, text or None), and its format."""
    values = [None if not isinstance(v, str) and pd.isna(v) else v for v in column.astype(object)]
    convert, fmt = _cell_type(next((v for v in values if v is not None), None), name)
    return [None if v is None else convert(v) for v in values], styles.numbers[fmt] if fmt else None


def _cell_type(sample, name: str) -> tuple[Callable, str | None]:
    """How a column's values become cells, and their number format, from one of its values."""
    if isinstance(sample, pd.Timestamp | datetime | date):
        return _as_datetime, DAY
    if isinstance(sample, bool | np.bool_):
        return bool, None
    if isinstance(sample, int | np.integer):
        return int, COUNT
    if isinstance(sample, float | np.floating):
        return float, SHARE if any(word in name for word in SHARE_WORDS) else AMOUNT
    return str, None  # text, never a formula (OPTIONS)


def _as_datetime(value: date) -> datetime:
    """A day as the midnight XlsxWriter stores (a time of day is not part of a ledger's dates)."""
    day = value.date() if isinstance(value, datetime) else value
    return datetime(day.year, day.month, day.day)


def _size_columns(sheet: Worksheet, frame: pd.DataFrame, least: tuple[float, ...] = ()) -> None:
    """Each column as wide as its header and first rows show (at most MAX_WIDTH), or ``least``."""
    for col, name in enumerate(frame.columns):
        shown = max([len(str(name)), *(len(_shown(v)) for v in frame[name].iloc[:WIDTH_SAMPLE])])
        sheet.set_column(col, col, max(min(shown + 2, MAX_WIDTH), least[col] if col < len(least) else 0))


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def _rows(data: bytes, sheet_name: str) -> list[list]:
    """A sheet's rows, blanks as None; a table's continuation sheets follow its first."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    rows: list[list] = []
    for part in count():
        title = _part_title(sheet_name, part)
        if title not in book.sheet_names:
            return rows
        sheet = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
        rows += [[None if v == "" else v for v in row] for row in (sheet if part == 0 else sheet[1:])]
    return rows


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
