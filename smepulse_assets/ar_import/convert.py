"""An AR export, read through its mapping, landed as the receivables source's daily deliveries.

Nothing is written until the whole file has been read: a header that does not match the mapping,
or a column most of whose values do not read (a wrong date format or decimal separator), refuses
the import with a report. Rows with a value that does not read are set aside, each with its reason,
in ``<landing>/kaggle_invoices/unroutable/<mapping>-<file>.csv``; the rest become the deliveries a
replay makes (``kaggle_invoices/replay.py``): each invoice posted on its posting day, cleared on
its clear day.
"""

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from smepulse_assets.ar_import.diagnosis import ColumnReport
from smepulse_assets.ar_import.mapping import DEFAULTS, FIELDS, ArMapping
from smepulse_assets.ingestion.header_report import ForeignFileError, HeaderReport
from smepulse_assets.ingestion.landing import loaded_and_skipped, source_entries
from smepulse_assets.ingestion.parse import PARSERS
from smepulse_assets.ingestion.spec import Column
from smepulse_assets.kaggle_invoices.contract import EXTRAS, HEADER, SOURCE_NAME, SPEC
from smepulse_assets.kaggle_invoices.replay import UNROUTABLE_FOLDER, split_into_drops, write_drops
from smepulse_lib import storage

HASHED_IDS_FROM = 10**17  # ids made from invoice numbers that are not whole numbers start here
LONGEST_WHOLE_ID = 17  # digits: a longer whole number could reach the hashed ids


@dataclass(frozen=True)
class Import:
    files: list[str]
    rows: int
    set_aside: int
    set_aside_url: str | None
    first_day: date | None
    columns: list[ColumnReport]


def import_file(url: str, ar_mapping: ArMapping, landing_url: str) -> Import:
    header, lines, records = _read(url, ar_mapping)
    report = HeaderReport(tuple(ar_mapping.columns), tuple(header))
    if not report.ok:
        raise ForeignFileError(report.describe(f"{url} does not match the mapping {ar_mapping.path}"))
    frame = pd.DataFrame([r for r in records if len(r) == len(header)], columns=header, dtype=str)
    frame.index = [line for line, r in zip(lines, records, strict=True) if len(r) == len(header)]
    ragged = {
        line: f"has {len(r)} fields, the header {len(header)}"
        for line, r in zip(lines, records, strict=True)
        if len(r) != len(header)
    }
    values, problems, columns = _read_fields(frame, ar_mapping)
    unreadable = [c for c in columns if c.unreadable]
    if unreadable:
        raise ForeignFileError(
            f"{url}: most values of {len(unreadable)} column(s) do not read as the mapping "
            f"{ar_mapping.path} says; nothing was written\n" + "\n".join(c.describe() for c in unreadable)
        )
    good = values[problems.isna()]
    stem = ar_mapping.name
    clash = delivered_elsewhere(landing_url, stem, set(good["invoice"]))
    if clash:
        shown = ", ".join(f"{doc} ({PurePosixPath(where).name})" for doc, where in list(clash.items())[:3])
        raise ForeignFileError(
            f"{url}: {len(clash)} invoice id(s) are delivered already by files that are not this mapping's "
            f"({ar_mapping.name}_<day>.csv), for example {shown}; nothing was written. Two ledgers whose "
            "invoice numbers overlap would merge those invoices: give the mapping `invoice_ids: per_ledger` "
            "(ids from its name and the invoice number), or remove the other files if they are an older "
            "import of this same ledger."
        )
    header, rows = _contract_rows(good)
    drops, unroutable = split_into_drops(rows, header)
    written = write_drops(drops, landing_url, unroutable, stem=stem, header=header)
    aside = _set_aside(url, landing_url, stem, records, lines, header, {**ragged, **problems.dropna().to_dict()})
    return Import(
        written, len(good), len(ragged) + int(problems.notna().sum()), aside, min(drops, default=None), columns
    )


def delivered_elsewhere(landing_url: str, stem: str, ids: set[str]) -> dict[str, str]:
    """Which of ``ids`` the receivables source's deliveries already hold, other than this mapping's
    own files (a new import of it replaces those): each with one file that holds it. The files are
    those bronze loads (``ingestion.landing``: ``INVOICES.CSV`` too), not rows set aside."""
    own = re.compile(rf"{re.escape(stem)}_\d{{4}}-\d{{2}}-\d{{2}}\.csv")
    loaded, _ = loaded_and_skipped(source_entries(SPEC, landing_url))
    found: dict[str, str] = {}
    for url in loaded:
        path = PurePosixPath(url)
        if own.fullmatch(path.name) or path.parent.name == UNROUTABLE_FOLDER:
            continue
        records = csv.reader(io.StringIO(storage.read_bytes(url).decode("utf-8-sig", errors="replace"), newline=""))
        header = next(records, [])
        if "doc_id" not in header:
            continue  # not a delivery bronze would load either: it refuses such a file
        column = header.index("doc_id")
        for record in records:
            if len(record) > column and record[column] in ids:
                found.setdefault(record[column], url)
    return found


def _read(url: str, ar_mapping: ArMapping) -> tuple[list[str], list[int], list[list[str]]]:
    """The header, and each record with its line number in the file."""
    try:
        text = storage.read_bytes(url).decode(ar_mapping.encoding)
    except UnicodeDecodeError as err:
        raise ForeignFileError(f"{url}: not {ar_mapping.encoding} text (mapping encoding): {err}") from err
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=ar_mapping.delimiter)
    try:
        rows = [(reader.line_num, r) for r in reader if r]
    except csv.Error as err:
        raise ForeignFileError(f"{url}: line {reader.line_num}: {err}") from err
    if not rows:
        raise ForeignFileError(f"{url}: the file is empty; it needs a header row")
    header = [c.strip() for c in rows[0][1]]
    return header, [line for line, _ in rows[1:]], [r for _, r in rows[1:]]


def _read_fields(frame: pd.DataFrame, ar_mapping: ArMapping) -> tuple[pd.DataFrame, pd.Series, list[ColumnReport]]:
    """Each field in the contract's text form; per row the first reason it cannot be imported."""
    values = pd.DataFrame(index=frame.index)
    problems = pd.Series(None, index=frame.index, dtype="object")
    reports = []
    for name, source in ar_mapping.fields.items():
        field = FIELDS[name]
        raw = (
            pd.Series(source.constant, index=frame.index, dtype="object")
            if source.column is None
            else frame[source.column].str.strip()
        )
        if source.default is not None:
            raw = raw.where(raw.fillna("").ne(""), source.default)
        raw = raw.fillna("")
        text, why = READERS[field.kind](raw, source, ar_mapping)
        why = why.where(raw.ne(""), "is empty" if field.required else None)
        report = ColumnReport(source.column or f"constant {source.constant!r}", name, filled=int(raw.ne("").sum()))
        for line in why.index[why.notna().to_numpy(bool)]:
            report.add(int(line), raw.at[line], why.at[line])
            if pd.isna(problems.at[line]):
                problems.at[line] = f"{report.column} ({name}) {raw.at[line]!r} {why.at[line]}"
        reports.append(report)
        values[name] = text.where(raw.ne(""), "")
    return values, problems, reports


def _ids(raw: pd.Series, source, ar_mapping) -> tuple[pd.Series, pd.Series]:
    """Whole invoice numbers stay; any other number (INV-2012/0042) becomes a stable id from its hash.
    ``invoice_ids: per_ledger``: every id from the hash of the mapping's name and the number."""
    per_ledger = ar_mapping.invoice_ids == "per_ledger"
    hashed = raw.map(lambda v: _hashed_id(f"{ar_mapping.name}/{v}" if per_ledger else v))
    if per_ledger:
        return hashed, pd.Series(None, index=raw.index, dtype="object")
    whole = raw.str.fullmatch(rf"0*[1-9]\d{{0,{LONGEST_WHOLE_ID - 1}}}(\.0+)?").fillna(False).astype(bool)
    kept = raw.str.replace(r"\.0+$", "", regex=True).str.lstrip("0")
    return kept.where(whole, hashed), pd.Series(None, index=raw.index, dtype="object")


def _hashed_id(text: str) -> str:
    return str(HASHED_IDS_FROM + int.from_bytes(hashlib.blake2b(text.encode(), digest_size=7).digest()))


def _text(raw: pd.Series, source, ar_mapping) -> tuple[pd.Series, pd.Series]:
    return raw, pd.Series(None, index=raw.index, dtype="object")


def _currency(raw: pd.Series, source, ar_mapping) -> tuple[pd.Series, pd.Series]:
    code = raw.str.upper()
    ok = code.str.fullmatch(r"[A-Z]{3}").fillna(False).astype(bool)
    return code, pd.Series(None, index=raw.index, dtype="object").where(
        ok | raw.eq(""), "is not a 3-letter currency code"
    )


def _date(raw: pd.Series, source, ar_mapping) -> tuple[pd.Series, pd.Series]:
    parsed = pd.to_datetime(raw.where(raw.ne("")), format=source.format, errors="coerce")
    why = pd.Series(None, index=raw.index, dtype="object")
    why[(raw.ne("") & parsed.isna()).to_numpy(bool)] = f"is not a date {source.format}"
    return parsed.dt.strftime("%Y-%m-%d").fillna(""), why


def _amount(raw: pd.Series, source, ar_mapping) -> tuple[pd.Series, pd.Series]:
    """Read by bronze's own amount parser under the export's number format, written back plainly."""
    column = Column(source.column or "amount", "amount", "amount", required=False)
    number, why = PARSERS["amount"](raw.where(raw.ne("")), column, ar_mapping.number_format)
    text = number.map(lambda x: "" if pd.isna(x) else np.format_float_positional(x, trim="-"))
    return text, why.where(raw.ne(""), None)


# How exports write a yes/no field. "x" is a ticked box; an empty field is "no" only where the
# mapping says so (default), else unknown.
FLAG_WORDS = {
    **dict.fromkeys(("1", "true", "yes", "y", "x", "ja", "oui", "si", "có"), "1"),
    **dict.fromkeys(("0", "false", "no", "n", "nein", "non", "không"), "0"),
}


def _flag(raw: pd.Series, source, ar_mapping) -> tuple[pd.Series, pd.Series]:
    word = raw.str.lower().str.replace(r"\.0+$", "", regex=True).map(FLAG_WORDS)
    why = pd.Series(None, index=raw.index, dtype="object")
    why[(raw.ne("") & word.isna()).to_numpy(bool)] = "is not yes/no (1/0, true/false, yes/no, y/n, x)"
    return word.fillna(""), why


READERS = {"id": _ids, "text": _text, "currency": _currency, "date": _date, "amount": _amount, "flag": _flag}


def _contract_rows(values: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The receivables source's header (the Kaggle columns, then the extras the mapping gives) and
    its rows, one per invoice."""
    get = {
        name: values[name] if name in values else pd.Series(DEFAULTS.get(name, ""), index=values.index)
        for name in FIELDS
    }
    posted, cleared = get["posting_date"], get["clear_date"]
    compact = posted.str.replace("-", "", regex=False)
    contract = {
        "business_code": get["company"],
        "cust_number": get["customer"],
        "name_customer": get["customer_name"],
        "clear_date": cleared.where(cleared.eq(""), cleared + " 00:00:00"),
        "buisness_year": posted.str.slice(0, 4),
        "doc_id": get["invoice"],
        "posting_date": posted,
        "document_create_date": compact,
        "document_create_date.1": compact,
        "due_in_date": get["due_date"].str.replace("-", "", regex=False),
        "invoice_currency": get["currency"],
        "document type": get["document_type"].where(get["document_type"].ne(""), DEFAULTS["document_type"]),
        "posting_id": pd.Series("", index=values.index),
        "area_business": get["area"],
        "total_open_amount": get["amount"],
        "baseline_create_date": get["baseline_date"]
        .where(get["baseline_date"].ne(""), posted)
        .str.replace("-", "", regex=False),
        "cust_payment_terms": get["terms"],
        "invoice_id": get["invoice"],
        "isOpen": cleared.eq("").map({True: "1", False: "0"}),
        **{extra: values[extra] for extra in EXTRAS if extra in values},
    }
    header = [*HEADER, *(extra for extra in EXTRAS if extra in values)]
    return header, pd.DataFrame(contract)[header].to_numpy(str).tolist()


def _set_aside(url, landing_url, stem, records, lines, header, reasons: dict[int, str]) -> str | None:
    """The rows not imported, as the export had them, each with its line and reason."""
    if not reasons:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line", "reason", *header])
    for line, record in zip(lines, records, strict=True):
        if line in reasons:
            writer.writerow([line, reasons[line], *record])
    target = storage.join(landing_url, SOURCE_NAME, UNROUTABLE_FOLDER, f"{stem}-{PurePosixPath(url).stem}.csv")
    storage.write_bytes(target, out.getvalue().encode("utf-8"))
    return target
