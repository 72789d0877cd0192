"""Parse one delivered CSV of a source into typed rows and quarantined rows.

Two kinds of trouble, two answers:
- the *file* is unreadable (empty, not UTF-8, not CSV, wrong header, cut off):
  ``DropFileError`` naming the file and the problem; nothing of it is loaded;
- a *row* breaks the contract (wrong field count, a value that does not parse,
  a missing required value) or a reject rule of the source: the row goes to
  quarantine with the rule and the reason, the rest loads.
Every data row ends up in exactly one of the two outputs. The columns, their
types and the rules come from the source's YAML (``SourceSpec``).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from smepulse_assets.ingestion.spec import Column, NumberFormat, SourceSpec
from smepulse_assets.quality.reference_data import calendar_label, supported_calendar
from smepulse_assets.quality.row_rules import first_broken_rule
from smepulse_assets.quality.source_checks import CONFLICTING, SUPERSEDED

# Python's reader refuses fields over 128 KiB by default, where Arrow's reads them: a long quoted
# field would refuse a file that loads unquoted. Neither reader limits a field; the source's
# max_field_bytes is applied to the columns both give (``_type_columns``), so both agree.
csv.field_size_limit(2**31 - 1)


class DropFileError(ValueError):
    """A delivered file that cannot be read at all."""

    def __init__(self, source_file: str, problem: str):
        super().__init__(f"{source_file}: {problem}")
        self.source_file = source_file
        self.problem = problem


@dataclass
class ParsedFile:
    rows: pd.DataFrame  # typed, bronze column names, plus _source_file/_source_line
    quarantined: pd.DataFrame  # _source_file, _source_line, rule, reason, raw_record
    rows_read: int
    rows_read_by_file: dict[str, int] = field(default_factory=dict)


def parse_drop_file(spec: SourceSpec, source_file: str, data: bytes) -> ParsedFile:
    return parse_drop_files(spec, [(source_file, data)])


def check_drop_file(spec: SourceSpec, source_file: str, data: bytes) -> None:
    """Raise DropFileError if the file cannot be read at all (its rows are not typed)."""
    _file_records(spec, source_file, data)


@dataclass
class _Records:
    """One file's records after its header: the well-formed ones as string columns (one per header
    field) with the line each starts on, and quarantine rows for those with the wrong field count."""

    columns: pa.Table
    lines: np.ndarray
    bad_width: list[tuple]  # _quarantine_row tuples, the file's name appended
    rows_read: int
    present: list[str]  # the source's columns the file's header carries (optional ones may be absent)


def _file_records(spec: SourceSpec, source_file: str, data: bytes) -> _Records:
    """The file's records; DropFileError if it cannot be decoded or split, or its header is not the
    source's. Plain files (nearly every delivery) go through Arrow's CSV reader, the rest through
    Python's, which knows quoting, blank lines and ragged rows."""
    if _is_plain(data):
        _decode(source_file, data)  # only to check the encoding: the text is let go before Arrow reads the bytes
        plain = _plain_records(spec, source_file, data)
        if plain is not None:
            return plain
    text = _decode(source_file, data)
    records = _split_records(source_file, text, len(spec.base_header))
    present = _present_columns(source_file, records[0][1], spec)
    width = len(present)
    body = records[1:]
    even = [(line, values) for line, values in body if len(values) == width]
    bad_width = [
        (*_quarantine_row(line, "field_count", f"expected {width} fields, found {len(values)}", values), source_file)
        for line, values in body
        if len(values) != width
    ]
    columns = zip(*(values for _, values in even), strict=False) if even else ([] for _ in present)
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in zip(present, columns, strict=False)})
    lines = np.array([line for line, _ in even], dtype="int64")
    return _Records(_with_absent_columns(table, spec), lines, bad_width, len(body), present)


def _is_plain(data: bytes) -> bool:
    """No quotes, carriage returns or blank lines, ending in a line end. (The bytes are looked at,
    not the text: these characters are the same in UTF-8.)"""
    content = data.removeprefix(codecs.BOM_UTF8)
    if b'"' in content or b"\r" in content or b"\n\n" in content or content.startswith(b"\n"):
        return False
    return content.endswith(b"\n")


def _plain_records(spec: SourceSpec, source_file: str, data: bytes) -> _Records | None:
    """A plain file (``_is_plain``) read by Arrow (several times faster than Python's reader, and
    straight into string columns). Then record n is on line n + 1, as Python's reader counts. None
    when a record has the wrong number of fields: the general path reads it and quarantines those."""
    header, _, body = data.removeprefix(codecs.BOM_UTF8).partition(b"\n")
    present = _present_columns(source_file, header.decode().split(","), spec)
    if not body:
        return None  # a header-only delivery: nothing to gain
    ragged: list[object] = []

    def note_ragged(row) -> str:
        ragged.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=present),
            parse_options=pacsv.ParseOptions(invalid_row_handler=note_ragged),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(present, pa.string()), strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as err:
        if "straddles" in f"{err}":  # a record longer than Arrow's block (1 MiB): Python's reader takes it
            return None
        raise
    if ragged:
        return None
    lines = np.arange(2, table.num_rows + 2, dtype="int64")
    return _Records(_with_absent_columns(table, spec), lines, [], table.num_rows, present)


def parse_drop_files(
    spec: SourceSpec, files: Iterable[tuple[str, bytes]], delivered_on: Mapping[str, date] | None = None
) -> ParsedFile:
    """Parse many delivered files at once: each file is read and checked on its own (an unreadable
    one raises, naming it), then their rows are typed and ruled together, so a window of many
    small daily files costs one pass over the columns, not one per file. ``files`` may be a
    generator: each file's bytes are let go once it is read. ``delivered_on``: each file's
    delivery day, which row rules read as ``_delivered_on`` (null when not given)."""
    records = {source_file: _file_records(spec, source_file, data) for source_file, data in files}
    lines = np.concatenate([np.zeros(0, dtype="int64"), *(r.lines for r in records.values())])
    sources = np.concatenate(
        [np.zeros(0, dtype=object), *(np.full(r.columns.num_rows, f, dtype=object) for f, r in records.items())]
    )
    bad_width = [row for r in records.values() for row in r.bad_width]
    rows_read = {source_file: r.rows_read for source_file, r in records.items()}
    # a quarantined row's raw record holds the fields its file delivered, not the absent columns
    delivered_fields = {f: [spec.header.index(c) for c in r.present] for f, r in records.items()}
    raw = _string_frame(spec.header, [records.pop(f).columns for f in list(records)])  # the readers' tables go
    typed, problems = _type_columns(raw, spec)
    days = pd.Series(sources, dtype=object).map(delivered_on or {})
    days = days.astype(object).where(days.notna(), None).to_numpy()  # None, not NaN, where unknown
    _apply_reject_rules(typed, problems, spec, days)
    _settle_duplicate_keys(typed, problems, spec, days, sources, lines)

    failing = problems.notna()
    quarantined = [
        (
            *_quarantine_row(
                lines[i], rule_and_reason[0], rule_and_reason[1], raw.iloc[i, delivered_fields[sources[i]]].tolist()
            ),
            sources[i],
        )
        for i, rule_and_reason in problems[failing].items()
    ]
    keep = ~failing.to_numpy()
    loaded = typed if keep.all() else typed.loc[keep].copy()  # no copy of a day that all loads
    loaded["_source_line"] = lines[keep]
    loaded["_source_file"] = sources[keep]
    quarantine = pd.DataFrame(
        bad_width + quarantined, columns=["_source_line", "rule", "reason", "raw_record", "_source_file"]
    )
    quarantine = quarantine.sort_values(["_source_file", "_source_line"], ignore_index=True)
    return ParsedFile(loaded.reset_index(drop=True), quarantine, sum(rows_read.values()), rows_read)


def _string_frame(header: tuple[str, ...], tables: list[pa.Table]) -> pd.DataFrame:
    """The files' records as Arrow-backed string columns, so the typing runs as vectorised Arrow
    kernels: about twice as fast over a window of invoices as Python-backed strings."""
    table = pa.concat_tables(tables) if tables else pa.table({name: pa.array([], pa.string()) for name in header})
    return pd.DataFrame({name: pd.arrays.ArrowStringArray(table.column(name).combine_chunks()) for name in header})


def _decode(source_file: str, data: bytes) -> str:
    if not data.strip():
        raise DropFileError(source_file, "file is empty (expected a header line and rows)")
    if b"\x00" in data:
        raise DropFileError(source_file, "not a CSV text file (contains NUL bytes; binary or wrong encoding)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DropFileError(
            source_file, f"bad encoding: not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from None


def _split_records(source_file: str, text: str, width: int) -> list[tuple[int, list[str]]]:
    """Records with the line each starts on (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for fields in reader:
            if fields:  # blank lines carry no record
                records.append((line, fields))
            line = reader.line_num + 1
    except csv.Error as err:
        if not text.endswith(("\n", "\r")):
            raise DropFileError(source_file, f"file is truncated: last record is cut off ({err})") from None
        if "unexpected end of data" in f"{err}":
            raise DropFileError(
                source_file, f"a quoted field opened in the record starting on line {line} is never closed"
            ) from None
        raise DropFileError(source_file, f"not valid CSV at line {reader.line_num}: {err}") from None
    if not text.endswith(("\n", "\r")) and len(records) > 1 and len(records[-1][1]) < width:
        raise DropFileError(
            source_file,
            f"file is truncated: last line {records[-1][0]} has {len(records[-1][1])} of "
            f"{width} fields and no line end",
        )
    return records


def _present_columns(source_file: str, header: list[str], spec: SourceSpec) -> list[str]:
    """The source's columns the file's header carries, in its order: every column but optional
    ones left out, in the source's order. Anything else refuses the file, naming what is wrong."""
    expected = spec.header
    if tuple(header) == expected:
        return list(expected)
    optional = {c.source for c in spec.columns if c.optional}
    missing = [c for c in expected if c not in header and c not in optional]
    unexpected = [c for c in header if c not in expected]
    if (
        not (missing or unexpected)
        and header == [c for c in expected if c in header]
        and len(set(header)) == len(header)
    ):
        return header
    if missing or unexpected:
        detail = []
        if missing:
            detail.append(f"missing columns {missing}")
        if unexpected:
            detail.append(f"unexpected columns {unexpected[:5]}")
        raise DropFileError(source_file, "wrong header: " + "; ".join(detail))
    raise DropFileError(source_file, f"wrong header: columns out of order or repeated, expected {list(expected)}")


def _with_absent_columns(table: pa.Table, spec: SourceSpec) -> pa.Table:
    """The file's string columns, with each optional column its header left out as nulls (no
    value, as an empty field), in the source's column order."""
    absent = pa.nulls(table.num_rows, type=pa.string())
    return pa.table({name: table.column(name) if name in table.column_names else absent for name in spec.header})


def _quarantine_row(line: int, rule: str, reason: str, fields: list) -> tuple:
    raw = io.StringIO()
    csv.writer(raw, lineterminator="").writerow(["" if pd.isna(f) else f for f in fields])
    return (line, rule, reason, raw.getvalue())


def _apply_reject_rules(typed: pd.DataFrame, problems: pd.Series, spec: SourceSpec, days: np.ndarray) -> None:
    """Rows that pass the contract but break a reject rule get that rule as their problem."""
    clean = problems.isna().to_numpy()
    rules = spec.rules.reject_row_rules
    if not rules or not clean.any():
        return
    rows = typed.loc[clean].assign(_delivered_on=days[clean])
    broken = first_broken_rule(rows, spec.rule_schema, rules)
    for index, rule in broken.dropna().items():
        problems.at[index] = (f"rule:{rule.name}", _filled(rule.reason, rows.loc[index]))


def _settle_duplicate_keys(
    typed: pd.DataFrame, problems: pd.Series, spec: SourceSpec, days: np.ndarray, sources: np.ndarray, lines: np.ndarray
) -> None:
    """Rows of one delivery (a day) sharing the source's delivery key. Identical copies stay (silver
    keeps one). Copies that differ are a conflict, never settled by accident (which copy a later
    step keeps): all are quarantined for review, or, where the source declares
    ``on_conflict: last_line_wins``, all but the delivery's last line."""
    key = list(spec.delivery_key)
    clean = problems.isna().to_numpy()
    if not key or not clean.any():
        return
    # a delivery is a day's files; where the day is not known, each file
    delivery = np.where(pd.isna(days), sources, days)
    rows = typed.loc[clean, key].assign(_day=delivery[clean])
    repeated = rows.index[rows.duplicated(keep=False).to_numpy()]
    if not len(repeated):
        return
    positions = typed.index.get_indexer(repeated)
    copies = rows.loc[repeated].assign(
        _content=pd.util.hash_pandas_object(typed.loc[repeated], index=False).to_numpy(),
        _file=sources[positions],
        _line=lines[positions],
    )
    groups = [*key, "_day"]
    conflicting = copies[copies.groupby(groups, dropna=False)["_content"].transform("nunique") > 1]
    for values, group in conflicting.sort_values(["_file", "_line"]).groupby(groups, dropna=False, sort=False):
        label = ", ".join(f"{k}={v}" for k, v in zip(key, values, strict=False))
        at = ", ".join(f"line {line}" for line in group["_line"])
        if spec.on_conflict == "last_line_wins":
            for i in group.index[:-1]:
                problems.at[i] = (
                    SUPERSEDED,
                    f"{label}: replaced by line {group['_line'].iloc[-1]} of the same delivery",
                )
        else:
            for i in group.index:
                problems.at[i] = (CONFLICTING, f"{label}: {len(group)} copies in one delivery differ ({at})")


def _filled(reason: str, row: pd.Series) -> str:
    """The rule's reason with its ``{column}`` placeholders replaced by the row's values."""
    return re.sub(r"\{(\w+)\}", lambda m: f"{row[m[1]]}" if m[1] in row.index else m[0], reason)


# --- typing ---------------------------------------------------------------
# Each parser returns the typed values and, per row, why the text is not a value of the column's
# kind (NA when it is). Values are parsed exactly or refused: never through a float for a whole
# number, never a date from a partial one, never an amount guessed under another locale.


def _type_columns(raw: pd.DataFrame, spec: SourceSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Typed bronze columns, and per row the first broken rule as (rule, reason) or NA."""
    typed = pd.DataFrame(index=raw.index)
    problems = pd.Series(pd.NA, index=raw.index, dtype="object")

    def flag(why: pd.Series, rule: str, values: pd.Series) -> None:
        # Only the first broken rule of a row is kept: one quarantine row per source row. The
        # reason is written only for the rows that get it (usually none).
        for i in why.index[(why.notna() & problems.isna()).to_numpy(bool)]:
            value = values.at[i]
            shown = "" if pd.isna(value) or value == "" else f" {value!r}"
            problems.at[i] = (rule, f"{rule.split(':', 1)[1]}{shown} {why.at[i]}")

    for column in spec.columns:
        values = raw[column.source]
        if column.optional and values.isna().all():  # no file of the batch carries it: nothing to type
            typed[column.name] = pd.Series(None, index=raw.index, dtype=object)
            continue
        too_long = _too_long(values, spec.max_field_bytes)
        if too_long is not None:
            flag(too_long, "field_too_long:" + column.source, values.str.slice(0, 40))
        empty = values.fillna("").str.strip().eq("").astype(bool)  # spaces alone are no value
        if column.required:
            blank = values.fillna("").eq("").astype(bool)
            why = _where(empty & ~blank, "holds only spaces").where(~blank, "is empty")
            flag(why, f"required:{column.source}", values)
        if column.kind == "text":  # kept as delivered, spaces and all (staging cleans); "" is no value
            typed[column.name] = values.where(values.fillna("").ne(""))
            continue
        parsed, why = PARSERS[column.kind](values.where(~empty).str.strip(), column, spec.number_format)
        flag(why, f"type:{column.source}", values)
        flag(_outside_range(parsed, column), f"range:{column.source}", values)
        typed[column.name] = parsed

    return typed, problems


def _too_long(values: pd.Series, limit: int) -> pd.Series | None:
    """Fields longer than the source allows, saying by how much (their text is shown cut short);
    None when there are none, as nearly always, so a normal day does no per-row work here."""
    lengths = pc.binary_length(pa.array(values, pa.string()))
    if (pc.max(lengths).as_py() or 0) <= limit:
        return None
    reasons = pd.Series(None, index=values.index, dtype="object")
    length = pd.Series(lengths.to_numpy(zero_copy_only=False), values.index)
    for i in length.index[(length > limit).to_numpy(bool)]:
        reasons.at[i] = f"... is {length.at[i]:,} bytes long; the source allows {limit:,} (max_field_bytes)"
    return reasons


def _where(mask: pd.Series, why: str) -> pd.Series:
    """``why`` for the rows of ``mask``, NA elsewhere."""
    reasons = pd.Series(None, index=mask.index, dtype="object")
    reasons[mask.to_numpy(bool)] = why
    return reasons


def _not_a(values: pd.Series, ok: pd.Series, kind: str) -> pd.Series:
    return _where(values.notna() & ~ok.fillna(False).astype(bool), f"is not {DESCRIPTIONS[kind]}")


def _outside_range(parsed: pd.Series, column: Column) -> pd.Series:
    """Values beyond the column's declared range; dates beyond the supported calendar unless the
    column declares its own range (the date dimension and the FX rates cover no other days)."""
    low, high = column.minimum, column.maximum
    below = f"is below the minimum {low} declared for {column.source}"
    above = f"is above the maximum {high} declared for {column.source}"
    if column.kind in DATE_KINDS:
        if low is None and high is None:
            first, end = supported_calendar()
            low, high = first, date.fromordinal(end.toordinal() - 1)
            below = above = f"is outside the supported calendar {calendar_label()}"
        parsed = pd.to_datetime(parsed).dt.normalize()
        low, high = (None if d is None else pd.Timestamp(d) for d in (low, high))
    why = pd.Series(None, index=parsed.index, dtype="object")
    present = parsed.notna()
    if low is not None:
        why[present & (parsed < low).fillna(False).astype(bool)] = below
    if high is not None:
        why[present & (parsed > high).fillna(False).astype(bool)] = above
    return why


def _timestamp(values: pd.Series, column: Column, number_format: NumberFormat) -> tuple[pd.Series, pd.Series]:
    shaped = values.str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
    parsed = pd.to_datetime(values.where(shaped.fillna(False)), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    return parsed, _not_a(values, parsed.notna(), "datetime")


def _date(values: pd.Series, column: Column, number_format: NumberFormat) -> tuple[pd.Series, pd.Series]:
    # The shape first: strptime reads "2020-01-1" (a date cut short) as January 1st.
    shaped = values.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    parsed = pd.to_datetime(values.where(shaped.fillna(False)), format="%Y-%m-%d", errors="coerce")
    return parsed.dt.date, _not_a(values, parsed.notna(), "date")


def _yyyymmdd(values: pd.Series, column: Column, number_format: NumberFormat) -> tuple[pd.Series, pd.Series]:
    # Integers (20200105) in some columns, floats (20200105.0) in others.
    digits = values.str.replace(r"\.0+$", "", regex=True)
    parsed = pd.to_datetime(
        digits.where(digits.str.fullmatch(r"\d{8}").fillna(False)), format="%Y%m%d", errors="coerce"
    )
    return parsed.dt.date, _not_a(values, parsed.notna(), "yyyymmdd")


INT64_DIGITS = 18  # every number of up to 18 digits fits in 64 bits; 19-digit ones are checked one by one


def _integer(values: pd.Series, column: Column, number_format: NumberFormat) -> tuple[pd.Series, pd.Series]:
    """Whole numbers from their digits, never through a float (above 2**53 two ids would become
    one). Identifiers arrive written as floats ("1930438491.0"): a zero fraction is accepted."""
    digits = values.str.replace(r"\.0*$", "", regex=True).str.replace(r"^\+(\d)", r"\1", regex=True)
    shaped = digits.str.fullmatch(r"-?\d+").fillna(False).astype(bool)
    length = digits.str.lstrip("-").str.lstrip("0").str.len()
    short = shaped & (length <= INT64_DIGITS).fillna(False).astype(bool)
    parsed = pd.Series(pd.NA, index=values.index, dtype="Int64")
    if short.any():
        parsed[short] = pc.cast(pa.array(digits[short].to_numpy(object), pa.string()), pa.int64()).to_numpy()
    for i in values.index[(shaped & ~short).to_numpy(bool)]:  # rare: 19 digits or more
        number = int(digits.at[i])
        if -(2**63) <= number < 2**63:
            parsed.at[i] = number
    why = _not_a(values, shaped, "integer")
    why[shaped & parsed.isna()] = "is beyond the 64-bit integer range"
    return parsed, why


FLOAT_DIGITS = 15  # significant digits a float64 keeps exactly


def _amount(values: pd.Series, column: Column, number_format: NumberFormat) -> tuple[pd.Series, pd.Series]:
    """Amounts as the source's number format writes them. Refused rather than guessed: a value
    with more decimals than the column has (``572.000`` where amounts are whole dong could be
    572 or 572,000), more significant digits than a float keeps, or another shape."""
    text = values
    for symbol in number_format.symbols:
        text = text.str.replace(symbol, "", regex=False)
    text = text.str.strip()
    decimal, thousands = re.escape(number_format.decimal), number_format.thousands
    if thousands:
        grouped = text.str.fullmatch(rf"[+-]?\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+(?:{decimal}\d+)?")
        text = text.where(~grouped.fillna(False).astype(bool), text.str.replace(thousands, "", regex=False))
    text = text.str.replace(number_format.decimal, ".", regex=False)
    shaped = text.str.fullmatch(r"[+-]?\d+(?:\.\d+)?").fillna(False).astype(bool)
    number = pd.to_numeric(text.where(shaped), errors="coerce").astype("float64")
    why = _not_a(values, shaped, "amount")
    fraction = text.str.extract(r"\.(\d+)$", expand=False)
    significant = text.str.replace(r"[^0-9]", "", regex=True).str.lstrip("0").str.rstrip("0").str.len()
    why[shaped & (significant > FLOAT_DIGITS).fillna(False).astype(bool)] = (
        f"has more than {FLOAT_DIGITS} significant digits (a float keeps no more)"
    )
    if column.decimals is not None:
        places = fraction.str.len().fillna(0)
        nonzero = fraction.str.rstrip("0").str.len().fillna(0)
        why[shaped & (nonzero > column.decimals)] = f"has more than {column.decimals} decimals"
        if not thousands and column.decimals < 3:
            why[shaped & (places == 3)] = (
                f"is ambiguous: {number_format.decimal!r} before three digits may be a thousands separator; "
                f"amounts here have at most {column.decimals} decimals and no digit grouping"
            )
    return number.where(shaped), why


def _flag(values: pd.Series, column: Column, number_format: NumberFormat) -> tuple[pd.Series, pd.Series]:
    mapping = {"0": False, "1": True, "0.0": False, "1.0": True}
    parsed = values.map(mapping, na_action="ignore")
    return parsed.astype("boolean"), _not_a(values, parsed.notna(), "flag")


def _currency(values: pd.Series, column: Column, number_format: NumberFormat) -> tuple[pd.Series, pd.Series]:
    ok = values.str.fullmatch(r"[A-Z]{3}").fillna(False)
    return values.where(ok), _not_a(values, ok, "currency")


DATE_KINDS = {"date", "datetime", "yyyymmdd"}

PARSERS = {
    "currency": _currency,
    "integer": _integer,
    "amount": _amount,
    "flag": _flag,
    "date": _date,
    "datetime": _timestamp,
    "yyyymmdd": _yyyymmdd,
}

DESCRIPTIONS = {
    "text": "text",
    "currency": "a 3-letter currency code",
    "integer": "a whole number",
    "amount": "a number",
    "flag": "0 or 1",
    "date": "a date YYYY-MM-DD",
    "datetime": "a timestamp YYYY-MM-DD HH:MM:SS",
    "yyyymmdd": "a date YYYYMMDD",
}
