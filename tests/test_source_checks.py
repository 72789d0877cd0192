"""Each quality rule of a source against its kind of break, on real drops, real Parquet and real DuckDB.

A clean generated month is loaded into the lake the way the bronze asset loads
it; then one day is broken one way and the source's checks judge that day. The
broken rule fails with its configured severity and every other rule passes.
"""

import dataclasses
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from smepulse_assets.ingestion.bronze import (
    load_record_url,
    load_window,
    partition_url,
    stored_data_reader,
    write_window,
)
from smepulse_assets.ingestion.spec import QUARANTINE_SCHEMA
from smepulse_assets.kaggle_invoices.contract import SPEC
from smepulse_assets.quality import source_checks
from smepulse_assets.tools.generator import GeneratorConfig, generate_invoice_drops
from smepulse_lib import storage
from smepulse_lib.windows import DayWindow
from tests import broken_inputs as broken
from tests.conftest import make_settings

FIRST, LAST = date(2020, 1, 1), date(2020, 2, 9)
JUDGED = date(2020, 2, 5)
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


@pytest.fixture(scope="module")
def clean_drops(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("clean") / "landing"
    generate_invoice_drops(
        GeneratorConfig(start=FIRST, end=LAST, customers=150, invoices_per_day=80, seed=5), str(landing)
    )
    return landing


@pytest.fixture
def lake(tmp_path, clean_drops):
    """A fresh copy of the clean month's drops (each test breaks its own) and an empty lake."""
    settings = make_settings(tmp_path)
    shutil.copytree(clean_drops, settings.landing_url, dirs_exist_ok=True)
    return settings, SPEC


def load(settings, spec, days) -> None:
    list(write_window(spec, settings.landing_url, settings.lake_url, list(days), datetime.now(UTC)))


def judge(settings, spec, days) -> dict[str, dg.AssetCheckResult]:
    with stored_data_reader(spec, settings.lake_url) as con:
        results = source_checks.evaluate(con, spec.rules, DayWindow(min(days), max(days)))
    return {r.check_name: r for r in results}


def failing(results: dict[str, dg.AssetCheckResult]) -> dict[str, dg.AssetCheckSeverity]:
    return {name: r.severity for name, r in results.items() if not r.passed}


def all_days():
    return [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def test_clean_deliveries_pass_every_check(lake):
    settings, spec = lake
    load(settings, spec, all_days())
    results = judge(settings, spec, all_days())
    assert failing(results) == {}
    assert set(results) == {
        "row_conservation",
        "pass_rate",
        "files_accounted_for",
        "duplicate_keys",
        "cleared_not_before_posting",
        "cust_number_no_trailing_whitespace",
        "amount_within_usual",
        "key_columns_not_null",
        "invoice_amount_mean_in_band",
        "business_code_mix_stable",
        "invoice_id_null_rate_7d",
        "data_recent",
    }


BREAKS = [
    # break, days broken (relative to the judged day), the check that must fail, its severity
    (broken.negative_amounts, [0], {}, "amount_non_negative"),
    (broken.flood_of_bad_rows, [0], {"pass_rate": ERROR}, "type:total_open_amount"),
    (broken.trailing_whitespace, [0], {"cust_number_no_trailing_whitespace": WARN}, None),
    (broken.shifted_business_mix, [0], {"business_code_mix_stable": WARN}, None),
    (broken.inflated_amounts, [0], {"invoice_amount_mean_in_band": WARN, "amount_within_usual": WARN}, None),
    (broken.one_amount_in_cents, [0], {"amount_within_usual": WARN}, None),
    (broken.cleared_before_posting, [0], {"cleared_not_before_posting": WARN}, None),
    # the day's exact duplicate rows now differ (one copy lost its invoice id): a conflict as well
    (broken.missing_invoice_ids, [0], {"invoice_id_null_rate_7d": ERROR, "duplicate_keys": WARN}, None),
    (broken.old_postings, [-2, -1, 0], {"data_recent": WARN}, None),
    (broken.null_keys, [0], {"pass_rate": ERROR}, "required:doc_id"),  # 10% of rows
]


@pytest.mark.parametrize(
    ("breaker", "offsets", "expected", "quarantine_rule"), BREAKS, ids=[b[0].__name__ for b in BREAKS]
)
def test_each_break_fails_its_check_only(lake, breaker, offsets, expected, quarantine_rule):
    settings, spec = lake
    for offset in offsets:
        broken.rewrite(settings.landing_url, JUDGED + timedelta(days=offset), breaker)
    load(settings, spec, all_days())
    results = judge(settings, spec, [JUDGED])
    assert failing(results) == expected
    for name in expected:
        assert results[name].metadata["failing_partitions"].value == [f"{JUDGED}"]
        assert results[name].metadata["partitions"].value == f"{JUDGED}"
    if quarantine_rule:  # reject row spec: the rows went to quarantine with the rule, nothing lost
        with stored_data_reader(spec, settings.lake_url) as con:
            rules_seen = {r for (r,) in con.execute("select distinct rule from quarantined").fetchall()}
        assert rules_seen == {f"rule:{quarantine_rule}" if ":" not in quarantine_rule else quarantine_rule}
        assert results["row_conservation"].passed


def test_a_few_rejected_rows_do_not_fail_the_pass_rate(lake):
    settings, spec = lake
    frame = broken.rewrite(settings.landing_url, JUDGED, broken.negative_amounts)
    load(settings, spec, all_days())
    result = judge(settings, spec, [JUDGED])["pass_rate"]
    assert result.passed
    negatives = int(frame["total_open_amount"].str.startswith("-").sum())
    assert 0 < negatives < 0.05 * len(frame)
    assert result.metadata["rejected_by_rule"].value == {"rule:amount_non_negative": negatives}


def test_flood_reports_the_pass_rate_against_the_threshold(lake):
    settings, spec = lake
    broken.rewrite(settings.landing_url, JUDGED, broken.flood_of_bad_rows)
    load(settings, spec, all_days())
    result = judge(settings, spec, [JUDGED])["pass_rate"]
    assert result.description.startswith("pass rate 50% < 95%")
    assert result.metadata["observed"].value == pytest.approx(0.5, abs=0.02)


def test_a_source_that_never_delivered_says_not_configured_and_alerts_nothing(lake):
    """A deployment without this source (its landing folder empty): the days load empty and the
    checks of its rows say the source is not configured, where data_recent failed every day."""
    settings, spec = lake
    shutil.rmtree(Path(settings.landing_url) / spec.name)
    load(settings, spec, all_days())
    results = judge(settings, spec, all_days())
    assert failing(results) == {}
    assert results["data_recent"].description.startswith("not configured: this source has never delivered")


def test_a_ledger_of_small_amounts_is_judged_against_its_own_usual(lake):
    """A business invoicing hundreds, not tens of thousands: its clean days pass the amount band."""
    settings, spec = lake

    def hundredth(frame):
        frame["total_open_amount"] = (frame["total_open_amount"].astype(float) / 100).map("{:.2f}".format)
        return frame

    for day in all_days():
        broken.rewrite(settings.landing_url, day, hundredth)
    load(settings, spec, all_days())
    band = judge(settings, spec, [JUDGED])["invoice_amount_mean_in_band"]
    assert band.passed and band.metadata["days_judged"].value == 1
    assert float(band.metadata["observed"].value) < 1000  # the day's mean, in the ledger's own unit


def test_a_day_with_every_row_quarantined_names_the_rule_and_judges_nothing_else_as_passed(lake):
    settings, spec = lake

    def german_dates(frame):  # an export's date format changed overnight: no row of the day reads
        frame["posting_date"] = frame["posting_date"].str.replace(r"(\d{4})-(\d{2})-(\d{2})", r"\3.\2.\1", regex=True)
        return frame

    broken.rewrite(settings.landing_url, JUDGED, german_dates)
    load(settings, spec, all_days())
    results = judge(settings, spec, [JUDGED])
    assert results["pass_rate"].severity == ERROR and not results["pass_rate"].passed
    assert re.search(
        r"quarantined by type:posting_date, e.g. posting_date '\d\d\.\d\d\.2020' is not a date YYYY-MM-DD",
        results["pass_rate"].description,
    )
    of_rows = {r.name for r in spec.rules.flag_row_rules} | {c.name for c in spec.rules.checks}
    for name in of_rows:  # none reports "passed" on zero loaded rows
        assert not results[name].passed and results[name].severity == WARN, name
        assert results[name].description.startswith("not judged: none of the"), name
    assert results["row_conservation"].passed  # every delivered row is in bronze or quarantine


def test_duplicated_or_lost_stored_rows_break_conservation(lake):
    settings, spec = lake
    load(settings, spec, all_days())
    url = partition_url(settings.lake_url, "kaggle_invoices_raw", JUDGED)
    stored = storage.read_parquet(url)
    storage.write_parquet(url, pa.concat_tables([stored, stored.slice(0, 3)]))  # three rows twice
    result = judge(settings, spec, [JUDGED])["row_conservation"]
    assert not result.passed and result.severity == ERROR
    assert result.metadata["observed"].value == 6  # 3 rows too many, 3 source lines repeated
    storage.write_parquet(url, stored.slice(1))  # one row lost
    assert judge(settings, spec, [JUDGED])["row_conservation"].metadata["observed"].value == 1

    # counts that add up still fail when a line is both loaded and quarantined (and another is missing)
    row = stored.slice(1, 1).to_pylist()[0]
    twin = {
        "source": "kaggle_invoices",
        "_source_file": row["_source_file"],
        "_source_line": row["_source_line"],
        "rule": "x",
        "reason": "x",
        "raw_record": "",
        "_ingested_at": row["_ingested_at"],
    }
    storage.write_parquet(
        partition_url(settings.lake_url, "kaggle_invoices_quarantine", JUDGED),
        pa.Table.from_pylist([twin], schema=QUARANTINE_SCHEMA),
    )
    result = judge(settings, spec, [JUDGED])["row_conservation"]
    assert result.metadata["rows_read"].value == result.metadata["rows_loaded"].value + 1
    assert not result.passed and result.metadata["observed"].value == 1


def test_null_keys_in_stored_rows_fail_the_key_check(lake):
    """The contract quarantines empty keys; this check guards what is stored whatever wrote it."""
    settings, spec = lake
    load(settings, spec, all_days())
    url = partition_url(settings.lake_url, "kaggle_invoices_raw", JUDGED)
    stored = storage.read_parquet(url)
    nulled = stored.set_column(stored.schema.get_field_index("doc_id"), "doc_id", pa.nulls(len(stored), pa.int64()))
    storage.write_parquet(url, nulled)
    result = judge(settings, spec, [JUDGED])["key_columns_not_null"]
    assert not result.passed and result.severity == ERROR
    assert result.metadata["nulls_by_column"].value["doc_id"] == len(stored)


def test_a_range_names_only_its_failing_days(lake):
    settings, spec = lake
    broken.rewrite(settings.landing_url, JUDGED, broken.inflated_amounts)
    load(settings, spec, all_days())
    result = judge(settings, spec, all_days()[20:])["invoice_amount_mean_in_band"]
    assert result.metadata["failing_partitions"].value == [f"{JUDGED}"]
    assert result.metadata["partitions"].value == f"{all_days()[20]}...{LAST}"


def test_a_window_loaded_in_batches_equals_one_batch_and_a_bad_file_writes_nothing(lake, tmp_path, monkeypatch):
    """Large windows are parsed in batches (bounded memory); the result must not depend on the batch size,
    and an unreadable file in a late batch must still stop the load before any partition is written."""
    from smepulse_assets.ingestion import bronze

    settings, spec = lake
    load(settings, spec, all_days())
    whole = {day: storage.read_parquet(partition_url(settings.lake_url, spec.raw_table, day)) for day in all_days()}

    monkeypatch.setattr(bronze, "BATCH_BYTES", 20_000)  # a few days per batch
    other = make_settings(tmp_path / "batched")
    shutil.copytree(settings.landing_url, other.landing_url, dirs_exist_ok=True)
    ingested_at = datetime.now(UTC)
    batches = list(load_window(spec, other.landing_url, all_days(), ingested_at))
    assert len(batches) > 3
    for day_load in (d for batch in batches for d in batch):
        same = ["_ingested_at", "_source_file"]  # other landing folder, other load time
        assert day_load.rows.drop(same).equals(whole[day_load.day].drop(same))

    storage.write_bytes(storage.join(other.landing_url, spec.name, f"{LAST}", "late.csv"), b"\xff\xfe broken")
    with pytest.raises(dg.Failure, match=r"late\.csv"):
        list(write_window(spec, other.landing_url, other.lake_url, all_days(), ingested_at))
    assert not list(Path(other.lake_url).rglob("*.parquet"))


def test_load_records_written_before_skipped_files_were_recorded_still_read(lake):
    """A lake loaded before the `skipped` column existed: its old load records lack it, and the
    checks of a later window (as a run judges them) and of the whole history still read."""
    settings, spec = lake
    load(settings, spec, all_days())
    for day in all_days()[:5]:
        url = load_record_url(spec, settings.lake_url, day)
        storage.write_parquet(url, storage.read_parquet(url).drop_columns(["skipped"]))
    window = DayWindow(JUDGED, JUDGED)
    with stored_data_reader(spec, settings.lake_url, window) as con:
        assert failing({r.check_name: r for r in source_checks.evaluate(con, spec.rules, window)}) == {}
    assert failing(judge(settings, spec, all_days())) == {}


def test_an_append_only_source_refuses_a_rewritten_or_removed_file_and_takes_a_new_one(lake):
    """`delivery: append`: a file loaded before is never rewritten or taken back. A rerun that finds
    one changed or gone fails naming it, before anything is written; a new file beside it loads.
    (Under the default `delivery: replace` the same changes are a new delivery of the day.)"""
    settings, spec = lake
    append = dataclasses.replace(spec, delivery="append")
    day = JUDGED
    load(settings, append, [day])
    [url] = load_record_files(settings, append, day)
    record = storage.read_parquet(load_record_url(append, settings.lake_url, day))
    assert len(record.column("digests")[0].as_py()) == 1
    original = storage.read_bytes(url)
    written = Path(partition_url(settings.lake_url, append.raw_table, day)).read_bytes()

    storage.write_bytes(url, original + b"\n")  # other bytes (a blank line at the end), the same rows
    with pytest.raises(dg.Failure, match=r"append-only \(delivery: append\): .* its content has changed since"):
        load(settings, append, [day])
    Path(url).unlink()
    with pytest.raises(dg.Failure, match=r"was loaded before and is gone"):
        load(settings, append, [day])
    assert Path(partition_url(settings.lake_url, append.raw_table, day)).read_bytes() == written  # untouched

    storage.write_bytes(url, original)
    first_line = original.split(b"\n", 2)[:2]
    storage.write_bytes(
        storage.join(settings.landing_url, spec.name, f"{day}", "later.csv"), b"\n".join(first_line) + b"\n"
    )
    load(settings, append, [day])
    assert len(load_record_files(settings, append, day)) == 2
    load(settings, spec, [day])  # replace: the same folder is simply the day's delivery


def load_record_files(settings, spec, day) -> list[str]:
    return storage.read_parquet(load_record_url(spec, settings.lake_url, day)).column("files")[0].as_py()
