"""What a finance team opens: the serving copy, the report packs and the dashboard.

Real parts: a generated world run through real Dagster jobs (daily, ML, reports) on real dbt and
DuckDB; a reader in another process holding the serving copy open while a run writes; the
workbook read back with openpyxl and the HTML parsed; the dashboard served by `smepulse dashboard`
and driven by Debian's Chromium through Playwright (no browser download).
"""

import functools
import io
import json
import logging
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from smepulse_assets.definitions import build_defs
from smepulse_assets.quality.alerts import Alerting, Signal
from smepulse_assets.reports import workbook
from smepulse_assets.reports.assets import AR_PACK, CASH_REPORT, FIGURES_CHECK
from smepulse_assets.reports.figures import Figures, serving_reader
from smepulse_assets.reports.html_report import read_figures
from smepulse_assets.reports.sensor import last_day
from smepulse_assets.reports.verify import pack_mismatches, report_mismatches
from smepulse_assets.reports.workbook import AMOUNT, COUNT, DAY, SHARE, SUMMARY, WORKLIST, read_table, table_workbook
from smepulse_assets.serving.assets import ROW_COUNT_CHECK
from smepulse_assets.serving.publish import publish_table, published_counts
from smepulse_assets.serving.tables import ServedTable
from smepulse_assets.tools.generator import GeneratorConfig, WorldConfig, generate_sample_data
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_assets.transform.data_catalog import DESCRIBED_CHECK, read_catalog
from smepulse_lib import storage
from smepulse_lib.chaining import request_after
from smepulse_lib.names import DAILY_JOB, DOCS_JOB, ML_JOB, RANGE_END_TAG, RANGE_START_TAG, REPORTS_JOB, REPORTS_SENSOR
from smepulse_lib.programs import beside_interpreter
from smepulse_lib.windows import DayWindow
from tests.conftest import Platform, make_settings
from tests.dashboard_browser import PAGES, browse_dashboard

START, END = date(2020, 1, 1), date(2020, 3, 10)
LAST = END  # the day run while a reader holds the serving copy open

# A reader in its own process, as a BI tool or a notebook: it keeps one connection to the serving
# copy open for the whole run and also reopens the file each round; it records what it saw and any error.
READER = """
import duckdb, json, sys, time
path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
held = duckdb.connect(path, read_only=True)
seen, errors, deadline = [], [], time.time() + seconds
while time.time() < deadline:
    try:
        held.execute("select count(*) from gold.kpi_ar_aging").fetchall()
        with duckdb.connect(path, read_only=True) as fresh:
            seen.append(str(fresh.execute("select max(as_of_date) from gold.kpi_ar_aging").fetchall()[0][0]))
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.2)
json.dump({"seen": seen, "errors": errors}, open(out, "w"))
"""


def checks_of(result, name: str) -> list:
    return [c for c in result.get_asset_check_evaluations() if c.check_name == name]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A world run through LAST - 1 (daily and ML), then LAST's daily, ML and reports runs while a
    reader in another process holds the serving copy open."""
    root = tmp_path_factory.mktemp("reporting")
    settings = make_settings(root)
    platform = Platform(settings)
    invoices = GeneratorConfig(start=START, end=END, customers=60, invoices_per_day=60, seed=7)
    generate_sample_data(invoices, settings.landing_url, WorldConfig(start=START, end=END, customers=30, seed=8))
    run_reference(platform.defs, platform.instance)
    history = run_days(platform.defs, platform.instance, START, LAST - timedelta(days=1))
    run_days(platform.defs, platform.instance, START, LAST - timedelta(days=1), job_name=ML_JOB)

    observed = root / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, settings.serving_path, str(observed), "60"])
    time.sleep(2)  # the reader holds the copy open before the run starts
    new_day = [run_days(platform.defs, platform.instance, LAST, LAST, job_name=job) for job in (DAILY_JOB, ML_JOB)]
    reports = run_days(platform.defs, platform.instance, LAST, LAST, job_name=REPORTS_JOB)
    reader.wait(timeout=120)
    return platform, history, new_day, reports, json.loads(observed.read_text())


def warehouse(platform: Platform, sql: str, params: list | None = None) -> list:
    with duckdb.connect(platform.settings.warehouse_path, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.mark.slow
def test_a_reader_of_the_serving_copy_never_blocks_a_run_and_sees_the_new_day(world):
    _, _, new_day, _, observed = world
    assert all(run.success for run in new_day)
    assert observed["errors"] == []
    assert observed["seen"][0] == f"{LAST - timedelta(days=1)}"
    assert observed["seen"][-1] == f"{LAST}"


@pytest.mark.slow
def test_the_serving_copy_holds_what_the_warehouse_holds(world):
    platform, history, new_day, _, _ = world
    for run in (history, *new_day):
        assert [c.passed for c in checks_of(run, ROW_COUNT_CHECK)] == [True]
    relations = warehouse(
        platform,
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema = 'gold' or table_name in ('alerts', 'ops_quarantine')",
    )
    with duckdb.connect(platform.settings.serving_path, read_only=True) as served:
        for (relation,) in relations:
            in_warehouse = warehouse(platform, f"select count(*) from {relation}")[0][0]
            assert served.execute(f"select count(*) from {relation}").fetchall()[0][0] == in_warehouse, relation
        aging = f"select as_of_date, aging_bucket, open_amount from gold.kpi_ar_aging where as_of_date = '{LAST}'"
        assert sorted(served.execute(aging).fetchall()) == sorted(warehouse(platform, aging))
        statuses = dict(served.execute("select asset_key, last_partition from ops.asset_status").fetchall())
        # published by the scores' run, after the marts' run of the day (a publish cannot list itself)
        assert statuses["serving/marts"] == statuses["ml/payment_date_model"] == f"{LAST}"
        assert served.execute("select count(*) from ops.check_results").fetchall()[0][0] > 100


@pytest.mark.slow
def test_an_alert_raised_after_the_publish_is_on_the_dashboard_at_once(world):
    """The alert sensor appends to the alert log between runs; the serving copy's ops.alerts reads
    that log, so the headline's open-alert count is the warehouse's without waiting for a publish."""
    platform, _, _, _, _ = world
    settings = platform.settings
    open_sql = "select count(*) from ops.alerts where status = 'open'"

    def served_open() -> int:
        with serving_reader(settings.serving_path, settings.lake_url) as con:
            return Figures(con, LAST).headline()["open_alerts"]

    before = served_open()
    assert before == warehouse(platform, open_sql)[0][0]
    alerting = Alerting(lake_url=settings.lake_url)
    late = functools.partial(
        Signal, kind="check", subject="gold/kpi_ar_aging", check_name="late_test_alert", partition=f"{LAST}",
        severity="ERROR", observed="1", threshold="0", message="raised after the publish",
        ui_url="http://localhost:3000", run_id=None,
    )  # fmt: skip
    alerting.process([late(failing=True)], logging.getLogger(__name__))
    assert served_open() == warehouse(platform, open_sql)[0][0] == before + 1
    alerting.process([late(failing=True, observed="2", message="seen again")], logging.getLogger(__name__))
    with serving_reader(settings.serving_path, settings.lake_url) as con:
        latest = "select message, last_message, last_observed, occurrences from ops.alerts where status = 'open' "
        assert con.execute(latest + "and check_name = 'late_test_alert'").fetchall() == [
            ("raised after the publish", "seen again", "2", 2)
        ]
    alerting.process([late(failing=False)], logging.getLogger(__name__))  # the later tests' world again
    assert served_open() == before


@pytest.mark.slow
def test_report_files_are_written_for_the_day_and_match_gold(world):
    platform, _, _, reports, _ = world
    assert reports.success
    results = checks_of(reports, FIGURES_CHECK)
    assert [c.passed for c in results] == [True, True], [c.description for c in results]
    lake = platform.settings.lake_url
    pack = storage.read_bytes(AR_PACK.url(lake, LAST))
    open_amount, open_invoices, dso = warehouse(
        platform,
        "select open_amount, open_invoices, dso_days from gold.kpi_ar_dso_analysis where as_of_date = ?",
        [LAST],
    )[0]

    book = load_workbook(io.BytesIO(pack))
    summary = book[SUMMARY]
    values = {row[0].value: row[1] for row in summary.iter_rows(max_col=2) if row[0].value}
    assert values["As of"].value == datetime(LAST.year, LAST.month, LAST.day) and values["As of"].number_format == DAY
    assert values["Open receivables (USD)"].value == pytest.approx(open_amount)
    assert values["Open receivables (USD)"].number_format == AMOUNT
    worklist = book[WORKLIST]
    assert worklist.freeze_panes == "A2" and worklist.auto_filter.ref.startswith("A1:")
    assert worklist.column_dimensions["A"].width > 0
    headers = [c.value for c in worklist[1]]
    first = dict(zip(headers, worklist[2], strict=True))
    assert first["call_order"].value == 1 and first["open_amount"].data_type == "n"
    assert isinstance(first["predicted_payment_date"].value, datetime)
    assert (
        worklist.max_row - 1
        == warehouse(platform, "select count(*) from gold.ar_collection_worklist where score_date = ?", [LAST])[0][0]
    )

    document = storage.read_bytes(CASH_REPORT.url(lake, LAST)).decode("utf-8")
    shown = read_figures(document)
    assert float(shown["open_amount"]) == pytest.approx(open_amount)
    assert int(shown["open_invoices"]) == open_invoices
    assert float(shown["dso_days"]) == pytest.approx(dso)
    assert external_references(document) == []  # opens without a network
    assert document.count("plotly-graph-div") >= 6


def external_references(document: str) -> list[str]:
    """What a page would fetch: script, stylesheet and image sources."""

    class Sources(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag, attrs):
            attributes = dict(attrs)
            for name in ("src", "href"):
                if tag in {"script", "link", "img", "iframe"} and attributes.get(name):
                    self.found.append(attributes[name])

    parser = Sources()
    parser.feed(document)
    return parser.found


@pytest.mark.slow
def test_the_report_checks_catch_a_file_that_differs_from_gold(world):
    platform, *_ = world
    lake = platform.settings.lake_url
    pack = load_workbook(io.BytesIO(storage.read_bytes(AR_PACK.url(lake, LAST))))
    for row in pack[SUMMARY].iter_rows(max_col=2):
        if row[0].value == "Open receivables (USD)":
            row[1].value += 100.0
    tampered = io.BytesIO()
    pack.save(tampered)
    document = storage.read_bytes(CASH_REPORT.url(lake, LAST)).decode("utf-8")
    shown = read_figures(document)["open_invoices"]
    wrong = document.replace(f'data-value="{shown}"', f'data-value="{int(shown) + 1}"', 1)
    with serving_reader(platform.settings.serving_path, lake) as con:
        figures = Figures(con, LAST)
        assert pack_mismatches(storage.read_bytes(AR_PACK.url(lake, LAST)), figures) == []
        assert [m.split(":")[0] for m in pack_mismatches(tampered.getvalue(), figures)] == ["open receivables"]
        assert [m.split(":")[0] for m in report_mismatches(wrong.encode("utf-8"), figures)] == ["open_invoices"]


def test_text_from_the_data_never_becomes_a_formula():
    frame = pd.DataFrame({"customer_name": ['=HYPERLINK("http://x.example","pay here")', "+1-2", "ACME"]})
    sheet = load_workbook(io.BytesIO(table_workbook(frame, "names")))["names"]
    cells = [sheet.cell(row, 1) for row in (2, 3, 4)]
    assert [c.value for c in cells] == list(frame["customer_name"])
    assert {c.data_type for c in cells} == {"s"}


def test_a_table_longer_than_a_sheet_continues_on_numbered_sheets_and_reads_back_whole(monkeypatch):
    """Excel holds 1,048,576 rows a sheet; a longer table (a ledger with a million open invoices)
    continues on "<title> (2)", each part with its header, formats and filter (the limit is made 4
    rows here so the test stays small)."""
    monkeypatch.setattr(workbook, "SHEET_ROWS", 4)
    frame = pd.DataFrame(
        {
            "doc_id": [f"D{i}" for i in range(7)],
            "due_date": [date(2020, 1, 1) + timedelta(days=i) for i in range(7)],
            "open_amount": [1.5, None, 3.0, 4.0, 5.0, 6.0, 7.25],
            "days_past_due": list(range(7)),
            "payment_rate": [0.5] * 7,
            "is_disputed": [True, False, None, True, False, True, False],
        }
    )
    data = table_workbook(frame, "Open invoices")
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Open invoices", "Open invoices (2)", "Open invoices (3)"]
    last = book["Open invoices (3)"]
    assert [c.value for c in last[1]] == list(frame.columns) and last.max_row == 2  # its header, the 7th row
    assert last.freeze_panes == "A2" and last.auto_filter.ref == "A1:F2"
    first = book["Open invoices"]
    assert [first.cell(2, col).number_format for col in (2, 3, 4, 5)] == [DAY, AMOUNT, COUNT, SHARE]
    assert first.cell(3, 3).value is None  # a missing amount is an empty cell, not 0 or "nan"
    back = read_table(data, "Open invoices")
    assert back["doc_id"].tolist() == frame["doc_id"].tolist()
    assert back["due_date"].tolist() == frame["due_date"].tolist()
    assert back["open_amount"].tolist()[2:] == frame["open_amount"].tolist()[2:] and pd.isna(back["open_amount"][1])
    assert back["is_disputed"].tolist() == [True, False, None, True, False, True, False]


@pytest.mark.slow
def test_smepulse_report_builds_a_day_from_the_command_line(world, tmp_path):
    platform, *_ = world
    env = {**os.environ, "SMEPULSE_DATA_DIR": platform.settings.data_dir}
    out = tmp_path / "out"
    done = subprocess.run(
        [str(beside_interpreter("smepulse")), "report", "--day", f"{LAST}", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"ar_pack_xlsx-{LAST}.xlsx", f"cash_report_html-{LAST}.html"]
    missing = subprocess.run(
        [str(beside_interpreter("smepulse")), "report", "--day", "1999-01-01"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 1 and "not in the serving copy" in missing.stderr


def test_the_reports_follow_an_ml_run_for_its_last_day_only():
    history = dg.DagsterRun(
        job_name=ML_JOB, run_id="history", tags={RANGE_START_TAG: "2020-01-01", RANGE_END_TAG: "2020-03-10"}
    )
    request = request_after(history, REPORTS_SENSOR, last_day)
    assert request.partition_key == "2020-03-10" and RANGE_START_TAG not in request.tags
    assert request_after(dg.DagsterRun(job_name=ML_JOB, run_id="unpartitioned"), REPORTS_SENSOR, last_day) is None


@pytest.mark.slow
def test_every_dashboard_page_loads_in_a_browser_with_the_gold_figures(world, tmp_path):
    platform, *_ = world
    shots = tmp_path / "screenshots"
    seen = browse_dashboard(platform.settings.data_dir, PAGES, shots)
    open_amount, open_invoices, dso = warehouse(
        platform,
        "select open_amount, open_invoices, dso_days from gold.kpi_ar_dso_analysis where as_of_date = ?",
        [LAST],
    )[0]
    overview = seen["overview"]["metrics"]
    assert overview["Open receivables (USD)"] == f"{open_amount:,.2f}"
    assert overview["Open invoices"] == f"{open_invoices:,}"
    assert overview["DSO (days)"] == f"{dso:,.2f}"
    assert int(seen["data-health"]["metrics"]["Checks passed"].replace(",", "")) > 100
    downloaded = read_table(seen["collections"]["download"].read_bytes(), "Collection worklist")
    rows, amount = warehouse(
        platform,
        "select count(*), sum(open_amount) from gold.ar_collection_worklist where score_date = ?",
        [LAST],
    )[0]
    assert len(downloaded) == rows and downloaded["open_amount"].sum() == pytest.approx(amount)
    assert downloaded["call_order"].tolist() == sorted(downloaded["call_order"])
    assert all(
        not seen[path]["notes"] for path in PAGES if path not in ("anomalies", "cash")
    )  # every page has its data
    # the cash page warns of the first week the bank balance may go below the floor, as gold has it
    below = warehouse(
        platform,
        "select week, week_end, floor from gold.kpi_cash_position where as_of_date = ? and below_floor order by week",
        [LAST],
    )
    assert warehouse(platform, "select count(*) from gold.kpi_cash_position where as_of_date = ?", [LAST])[0][0] == 26
    if below:
        week, week_end, floor = below[0]
        expected = f"The balance may go below the floor ({floor:,.0f} VND) in week {week}, ending {week_end:%Y-%m-%d}"
        assert [note[: len(expected)] for note in seen["cash"]["notes"]] == [expected]
    else:
        assert not seen["cash"]["notes"]
    assert {p.name for p in shots.iterdir()} == {f"{path}.png" for path in PAGES}


@pytest.mark.slow
def test_the_dashboard_without_a_serving_copy_says_what_to_do(tmp_path):
    seen = browse_dashboard(str(tmp_path / "empty"), ("overview",), tmp_path / "screenshots")
    assert any("make demo" in note for note in seen["overview"]["notes"])


def test_the_screenshot_in_the_readme_exists():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    shot = readme.split("![", 1)[1].split("](", 1)[1].split(")", 1)[0]
    assert (Path(__file__).resolve().parents[1] / shot).is_file()


@pytest.mark.slow
def test_the_data_catalog_describes_every_column_and_types_the_ui_columns(world):
    platform, *_ = world
    result = platform.defs.resolve_job_def(DOCS_JOB).execute_in_process(instance=platform.instance)
    assert [(c.check_name, c.passed) for c in result.get_asset_check_evaluations()] == [(DESCRIBED_CHECK, True)]
    site = storage.read_bytes(storage.join(platform.settings.lake_url, "docs", "data_catalog.html")).decode("utf-8")
    assert "kpi_ar_aging" in site and "fact_ar_open_items" in site

    read_catalog.cache_clear()
    defs = build_defs(platform.settings)  # a reloaded code location reads the new catalog
    key = dg.AssetKey(["gold", "kpi_ar_aging"])
    spec = next(s for s in defs.resolve_assets_def(key).specs if s.key == key)
    columns = {c.name: c for c in spec.metadata["dagster/column_schema"].columns}
    in_warehouse = warehouse(
        platform, "select column_name, data_type from information_schema.columns where table_name = 'kpi_ar_aging'"
    )
    assert {name: columns[name].type for name, _ in in_warehouse} == dict(in_warehouse)
    assert all(c.description for c in columns.values())
    # a day built under that code location does not repeat the definition's columns (they were a
    # sixth of what a daily run stored); the UI's Columns panel shows the definition's
    run = run_days(defs, platform.instance, LAST, LAST, asset_selection=[key])
    [built] = [e.materialization for e in run.get_asset_materialization_events() if e.asset_key == key]
    assert "dagster/column_schema" not in built.metadata and built.metadata["dagster/row_count"].value > 0


def test_a_table_with_a_retention_keeps_only_its_newest_days_in_the_serving_copy(tmp_path):
    con = duckdb.connect()
    con.execute("create schema gold")
    con.execute(
        "create table gold.scores as select date '2020-01-01' + (i % 5)::int as score_date, i from range(50) r(i)"
    )
    table = ServedTable("gold.scores", "score_date", retain_days=2)
    root = str(tmp_path / "serving")
    history = DayWindow(date(2020, 1, 1), date(2020, 1, 4))
    assert publish_table(con, table, root, history).rows == 20  # the range's last two days
    assert published_counts(root, table, history) == {date(2020, 1, 3): 10, date(2020, 1, 4): 10}
    publish_table(con, table, root, DayWindow(date(2020, 1, 5), date(2020, 1, 5)))  # a new day
    assert sorted(p.name for p in (tmp_path / "serving" / "gold.scores").iterdir()) == [
        "serving_day=2020-01-04",
        "serving_day=2020-01-05",
    ]
