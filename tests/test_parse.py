"""The bronze contract: every quirk of the real file parses; bad rows are quarantined; bad files fail clearly."""

import dataclasses
from datetime import date, datetime

import pandas as pd
import pytest

from smepulse_assets.ingestion import parse
from smepulse_assets.ingestion.parse import DropFileError, parse_drop_file, parse_drop_files
from smepulse_assets.ingestion.spec import load_source_spec
from smepulse_assets.kaggle_invoices.contract import SPEC
from smepulse_assets.quality.rules import RulesError
from tests.kaggle_samples import HEADER_LINE, ROWS, csv_bytes


def test_every_format_quirk_parses():
    parsed = parse_drop_file(SPEC, "drop.csv", csv_bytes(*ROWS))
    rows = parsed.rows
    assert parsed.rows_read == 4 and len(rows) == 4 and parsed.quarantined.empty
    first = rows.iloc[0]
    assert first["doc_id"] == 1930438491 and first["invoice_id"] == 1930438491  # floats -> ids
    assert first["business_year"] == 2020 and first["posting_id"] == 1
    assert first["clear_date"] == datetime(2020, 2, 11)  # YYYY-MM-DD HH:MM:SS
    assert first["posting_date"] == date(2020, 1, 26)  # YYYY-MM-DD
    assert first["document_create_date"] == date(2020, 1, 25)  # integer YYYYMMDD
    assert first["due_in_date"] == date(2020, 2, 10)  # float YYYYMMDD.0
    assert first["baseline_create_date"] == date(2020, 1, 26)
    assert first["is_open"] == False  # noqa: E712
    assert rows.iloc[1]["cust_number"] == "200769623"  # kept as delivered; staging restores the zero
    assert rows.iloc[1]["name_customer"] == "WAL-MAR  corp "  # bronze keeps spaces; staging cleans
    assert rows.iloc[2]["cust_number"] == "CCU001" and rows.iloc[2]["document_type"] == "X2"
    assert rows.iloc[2]["invoice_id"] is None or str(rows.iloc[2]["invoice_id"]) == "<NA>"  # missing id allowed
    assert rows.iloc[1]["clear_date"] is None or str(rows.iloc[1]["clear_date"]) == "NaT"  # open: empty clear_date
    assert rows.iloc[3]["invoice_currency"] == "CAD"
    assert rows["area_business"].isna().all()
    assert list(rows["_source_line"]) == [2, 3, 4, 5]


def test_exact_duplicate_rows_are_kept_in_bronze():
    parsed = parse_drop_file(SPEC, "drop.csv", csv_bytes(ROWS[0], ROWS[0]))
    assert len(parsed.rows) == 2  # bronze is what was delivered; staging removes duplicates


@pytest.mark.parametrize(
    ("row", "rule", "reason_part"),
    [
        (ROWS[0].replace("1930438491.0,2020-01-26", "abc,2020-01-26"), "type:doc_id", "'abc' is not a whole number"),
        (ROWS[0].replace(",2020-01-26,", ",2020-13-40,"), "type:posting_date", "is not a date YYYY-MM-DD"),
        (ROWS[0].replace("20200210.0", "2020021"), "type:due_in_date", "is not a date YYYYMMDD"),
        (ROWS[0].replace("54273.28", "12,3"), "field_count", "expected 19 fields, found 20"),
        (ROWS[0].replace("54273.28", "lots"), "type:total_open_amount", "is not a number"),
        (ROWS[0].replace("U001,0200769623", "U001,"), "required:cust_number", "cust_number is empty"),
        (ROWS[0][:-1] + "7", "type:isOpen", "is not 0 or 1"),
        (ROWS[0][:-1] + "1", "rule:open_invoice_has_no_clear_date", "isOpen=1 but clear_date is set"),
        (ROWS[1][:-1] + "0", "rule:closed_invoice_has_clear_date", "isOpen=0 but clear_date is empty"),
        (ROWS[0].replace(",USD,", ",usd,"), "type:invoice_currency", "is not a 3-letter currency code"),
    ],
)
def test_broken_rows_are_quarantined_with_rule_and_reason(row, rule, reason_part):
    parsed = parse_drop_file(SPEC, "drop.csv", csv_bytes(ROWS[1], row, ROWS[2]))
    assert parsed.rows_read == 3
    assert len(parsed.rows) + len(parsed.quarantined) == parsed.rows_read  # nothing lost, nothing doubled
    assert len(parsed.quarantined) == 1
    bad = parsed.quarantined.iloc[0]
    assert bad["rule"] == rule and reason_part in bad["reason"]
    assert bad["_source_line"] == 3 and bad["_source_file"] == "drop.csv"
    assert bad["raw_record"].split(",")[0] in ("U001", "CA02")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "file is empty"),
        (b"\n\n  \n", "file is empty"),
        (csv_bytes(*ROWS).replace(b"WAL-MAR", b"WAL\xff-MAR"), "bad encoding: not UTF-8"),
        (b"PK\x03\x04\x00\x00binary zip", "not a CSV text file"),
        (
            csv_bytes(*ROWS, header=HEADER_LINE.replace("buisness_year", "business_year")),
            "wrong header: missing columns ['buisness_year']",
        ),
        (b"a,b,c\n1,2,3\n", "wrong header"),
        (csv_bytes(*ROWS)[:-40], "file is truncated"),
        (csv_bytes(*ROWS) + b'U001,"unterminated', "file is truncated"),
    ],
)
def test_unreadable_files_fail_naming_file_and_problem(data, problem):
    with pytest.raises(DropFileError) as raised:
        parse_drop_file(SPEC, "landing/kaggle_invoices/2020-01-26/invoices.csv", data)
    assert problem in str(raised.value)
    assert str(raised.value).startswith("landing/kaggle_invoices/2020-01-26/invoices.csv: ")


def test_a_ledgers_optional_columns_load_when_present_and_are_empty_when_absent():
    """The receivables source's extras (disputed, paperless, channel, sales_rep) are optional: a
    file may carry any of them after the Kaggle columns, in the source's order; the Kaggle file
    carries none. Both plain (Arrow) and quoted (Python reader) files."""
    with_two = csv_bytes(
        ROWS[0] + ",1,Anna", ROWS[1] + ",0,", ROWS[2] + ",,Ben", header=HEADER_LINE + ",disputed,sales_rep"
    )
    for data in (with_two, with_two.replace(b",Anna", b',"Anna"')):
        rows = parse_drop_file(SPEC, "drop.csv", data).rows
        assert rows["disputed"].tolist()[:2] == [True, False] and pd.isna(rows["disputed"].iloc[2])
        assert rows["sales_rep"].tolist()[0::2] == ["Anna", "Ben"] and pd.isna(rows["sales_rep"].iloc[1])
        assert rows["paperless"].isna().all() and rows["channel"].isna().all()
    plain = parse_drop_file(SPEC, "drop.csv", csv_bytes(*ROWS)).rows
    assert plain[["disputed", "paperless", "channel", "sales_rep"]].isna().all().all()


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (HEADER_LINE + ",sales_rep,disputed", "columns out of order or repeated"),
        (HEADER_LINE + ",disputed,disputed", "columns out of order or repeated"),
        (HEADER_LINE + ",disputed,region", "unexpected columns ['region']"),
    ],
)
def test_optional_columns_out_of_order_repeated_or_unknown_refuse_the_file(header, problem):
    with pytest.raises(DropFileError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_drop_file(SPEC, "drop.csv", csv_bytes(ROWS[0] + ",1,x", header=header))


def test_a_quarantined_row_keeps_the_fields_its_file_delivered():
    """The raw record is the row as delivered: no empty fields for optional columns it left out."""
    bad = ROWS[0].replace("54273.28", "lots")
    parsed = parse_drop_file(SPEC, "drop.csv", csv_bytes(bad))
    assert parsed.quarantined.iloc[0]["raw_record"] == bad
    parsed = parse_drop_file(SPEC, "drop.csv", csv_bytes(bad + ",yes", header=HEADER_LINE + ",disputed"))
    assert parsed.quarantined.iloc[0]["raw_record"] == bad + ",yes"
    assert parsed.quarantined.iloc[0]["rule"] == "type:total_open_amount"


def test_a_key_column_cannot_be_optional(tmp_path):
    text = SPEC.path.read_text().replace(
        "{source: doc_id, name: doc_id, type: integer, required: true, min: 1}",
        "{source: doc_id, name: doc_id, type: integer, optional: true, min: 1}",
    )
    (tmp_path / "k.yaml").write_text(text)
    with pytest.raises(RulesError, match=r"key columns \['doc_id'\] cannot be optional"):
        load_source_spec(tmp_path / "k.yaml")


def test_header_only_file_is_an_empty_delivery():
    parsed = parse_drop_file(SPEC, "drop.csv", csv_bytes())
    assert parsed.rows_read == 0 and parsed.rows.empty and parsed.quarantined.empty


BROKEN_ROWS = [
    ROWS[0].replace("54273.28", "12,3"),  # a field too many
    ROWS[0].rsplit(",", 2)[0],  # two fields short
    ROWS[0].replace("1930438491.0,2020-01-26", "abc,2020-01-26"),
    ROWS[0][:-1] + "1",
    "   ",
]
PLAIN_AND_NOT = {
    "plain.csv": csv_bytes(*ROWS, *ROWS),
    "plain_bad_values.csv": csv_bytes(ROWS[1], BROKEN_ROWS[2], BROKEN_ROWS[3], ROWS[2]),
    "ragged.csv": csv_bytes(ROWS[0], BROKEN_ROWS[0], ROWS[1], BROKEN_ROWS[1], BROKEN_ROWS[4], ROWS[3]),
    "quoted.csv": csv_bytes(ROWS[0], ROWS[1].replace("WAL-MAR  corp ", '"WAL-MAR, corp\nsecond line"'), ROWS[2]),
    "blank_lines.csv": csv_bytes(ROWS[0], "", ROWS[1], "", ROWS[2]),
    "crlf.csv": csv_bytes(*ROWS).replace(b"\n", b"\r\n"),
    "bom.csv": b"\xef\xbb\xbf" + csv_bytes(*ROWS),
    "header_only.csv": csv_bytes(),
}


def test_plain_files_parse_as_the_general_reader_parses_them(monkeypatch):
    """Plain files go through Arrow's CSV reader: the same rows, lines and quarantine as Python's
    reader gives, for every file alone and for all of them at once."""
    fast = [parse_drop_files(SPEC, [(name, data)]) for name, data in PLAIN_AND_NOT.items()]
    fast_all = parse_drop_files(SPEC, list(PLAIN_AND_NOT.items()))
    monkeypatch.setattr(parse, "_plain_records", lambda *args: None)
    slow = [parse_drop_files(SPEC, [(name, data)]) for name, data in PLAIN_AND_NOT.items()]
    slow_all = parse_drop_files(SPEC, list(PLAIN_AND_NOT.items()))
    for name, got, want in zip(PLAIN_AND_NOT, [*fast, fast_all], [*slow, slow_all], strict=False):
        pd.testing.assert_frame_equal(got.rows, want.rows, obj=name)
        pd.testing.assert_frame_equal(got.quarantined, want.quarantined, obj=name)
        assert (got.rows_read, got.rows_read_by_file) == (want.rows_read, want.rows_read_by_file)
    ragged = fast[2].quarantined
    assert list(ragged["_source_line"]) == [3, 5, 6] and set(ragged["rule"]) == {"field_count"}
    assert fast_all.rows_read == sum(f.rows_read for f in fast) and len(fast_all.rows) == sum(len(f.rows) for f in fast)


def test_a_plain_file_does_not_go_through_the_python_reader(monkeypatch):
    def refuse(*args):
        raise AssertionError("the Python CSV reader was used")

    monkeypatch.setattr(parse, "_split_records", refuse)
    parsed = parse_drop_files(SPEC, [("a.csv", csv_bytes(*ROWS)), ("b.csv", csv_bytes(ROWS[1], BROKEN_ROWS[2]))])
    assert parsed.rows_read == 6 and len(parsed.rows) == 5 and list(parsed.quarantined["_source_line"]) == [3]
    with pytest.raises(AssertionError, match="Python CSV reader"):  # a ragged file still is
        parse_drop_files(SPEC, [("c.csv", csv_bytes(ROWS[0], BROKEN_ROWS[0]))])


def test_both_readers_take_the_same_field_sizes_and_refuse_the_same_rows():
    """A 3 MiB field, longer than Arrow's 1 MiB block: quoted (Python's reader) and unquoted (Arrow's,
    which hands such a file to Python's) give the same row. Under a source's smaller
    ``max_field_bytes`` both quarantine that row alone, with the whole record kept for review."""
    long_name = "A" * (3 * 2**20)

    def both(spec):
        return [
            parse_drop_file(spec, name, csv_bytes(ROWS[0].replace("WAL-MAR corp", field), ROWS[1]))
            for name, field in (("u.csv", long_name), ("q.csv", f'"{long_name}"'))
        ]

    unquoted, quoted = both(SPEC)
    assert quoted.quarantined.empty and unquoted.quarantined.empty
    assert (
        quoted.rows["name_customer"].tolist()
        == unquoted.rows["name_customer"].tolist()
        == [long_name, "WAL-MAR  corp "]
    )
    limited = dataclasses.replace(SPEC, max_field_bytes=2**21)
    for parsed in both(limited):
        assert parsed.rows["name_customer"].tolist() == ["WAL-MAR  corp "]
        [(line, rule, reason, raw)] = parsed.quarantined[["_source_line", "rule", "reason", "raw_record"]].itertuples(
            index=False
        )
        assert (line, rule) == (2, "field_too_long:name_customer")
        assert "is 3,145,728 bytes long; the source allows 2,097,152 (max_field_bytes)" in reason
        assert long_name in raw


def test_max_field_bytes_must_be_a_positive_whole_number(tmp_path):
    (tmp_path / "k.yaml").write_text(SPEC.path.read_text() + "\nmax_field_bytes: 1.5\n")
    with pytest.raises(RulesError, match=r"max_field_bytes 1\.5 is not a positive whole number"):
        load_source_spec(tmp_path / "k.yaml")
    (tmp_path / "k.yaml").write_text(SPEC.path.read_text() + "\nmax_field_bytes: 4096\n")
    assert load_source_spec(tmp_path / "k.yaml").max_field_bytes == 4096


def test_a_declared_tie_break_keeps_the_last_line_of_a_conflicting_key(tmp_path):
    """A source declaring `on_conflict: last_line_wins`: of two different copies of one key in a
    delivery the later line loads, the earlier goes to quarantine saying which line replaced it."""
    text = SPEC.path.read_text().replace(
        "delivery_key: [doc_id, is_open]", "delivery_key: [doc_id, is_open]\non_conflict: last_line_wins"
    )
    (tmp_path / "k.yaml").write_text(text)
    spec = load_source_spec(tmp_path / "k.yaml")
    later = ROWS[0].replace("54273.28", "54273.29")
    parsed = parse_drop_file(spec, "drop.csv", csv_bytes(ROWS[0], ROWS[1], later))
    assert parsed.rows["total_open_amount"].tolist() == [1000.0, 54273.29]  # ROWS[1], then the later copy
    [(rule, reason, line)] = parsed.quarantined[["rule", "reason", "_source_line"]].itertuples(index=False)
    assert (rule, line) == ("superseded_duplicate_key", 2) and "replaced by line 4" in reason
    same = parse_drop_file(SPEC, "drop.csv", csv_bytes(ROWS[0], ROWS[0]))  # identical copies: both load
    assert len(same.rows) == 2 and same.quarantined.empty
