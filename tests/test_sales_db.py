"""The sales database source against a real PostgreSQL server (started by the test from the
project's own install: Debian's postgresql binaries), real dlt, real Dagster runs and real dbt.

The generator writes the SME world's sales ledger into the database one business day at a
time, with late updates, soft deletes, one payment for several invoices, instalments, unapplied
cash, rows changed twice a day and changes committed after midnight with the day before's stamp.
After each day the platform extracts that day, as the nightly schedule does. The extracted
history must then say, for every day, exactly what the database held at that day's end.
"""

from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pandas as pd
import psycopg2
import pytest

from smepulse_assets.sales_db.extract import SalesDbError, check_tables
from smepulse_assets.sales_db.schedule import schedule_timezone
from smepulse_assets.sales_db.tables import TABLES, TABLES_BY_NAME
from smepulse_assets.tools.generator import WorldConfig, generate_world
from smepulse_assets.tools.generator.sales_db import SalesDatabaseWriter, sales_db_changes, state_through
from smepulse_assets.tools.postgres_server import postgres_server
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib.names import SALES_DB_JOB, SALES_DB_SCHEDULE
from smepulse_lib.programs import BIN_DIR as BIN
from tests.conftest import Platform, make_settings

pytestmark = pytest.mark.slow

ZONE = "Asia/Ho_Chi_Minh"
FIRST, LAST = date(2020, 1, 1), date(2020, 1, 21)


def database_url(pg: dict[str, str], database: str) -> str:
    return f"postgresql://{pg['DAGSTER_PG_USER']}@{pg['DAGSTER_PG_HOST']}:{pg['DAGSTER_PG_PORT']}/{database}"


def midnight_after(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(ZONE)) + timedelta(days=1)


@pytest.fixture(scope="module")
def server():
    with postgres_server("sales") as pg:
        yield pg


@pytest.fixture(scope="module")
def extracted(server, tmp_path_factory):
    """The world written and extracted day by day; returns the platform, the changes and the URL."""
    url = database_url(server, "sales")
    world = generate_world(WorldConfig(start=FIRST, end=LAST, customers=40, orders_per_day=25, seed=11))
    changes = sales_db_changes(world, ZONE)
    writer = SalesDatabaseWriter(url, changes, ZONE)
    writer.create_schema()
    settings = make_settings(
        tmp_path_factory.mktemp("sales_db"), SMEPULSE_SALES_DB_URL=url, SMEPULSE_PARTITIONS_START=f"{FIRST}"
    )
    platform = Platform(settings)
    run_reference(platform.defs, platform.instance)
    # one day past the last one compared: its window finds the last day's late commits
    day = FIRST
    while day <= LAST + timedelta(days=1):
        writer.advance(day)
        run_days(platform.defs, platform.instance, day, day, job_name=SALES_DB_JOB)
        day += timedelta(days=1)
    return platform, changes, url


def warehouse(platform: Platform) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(platform.settings.warehouse_path, read_only=True)


def live_rows(pg, table: str) -> pd.DataFrame:
    """A table of the live database as it is now (through the cursor: pandas reads only
    SQLAlchemy connections without a warning)."""
    with pg.cursor() as cursor:
        cursor.execute(f"select * from {table}")
        return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


def silver_as_of(con: duckdb.DuckDBPyConnection, table: str, day: date) -> pd.DataFrame:
    """The history's rows in force at the end of ``day`` (deleted ones included, as the truth has them)."""
    columns = ", ".join(TABLES_BY_NAME[table].column_names)
    return con.execute(
        f"select {columns} from silver.stg_sales_db_{table} "
        "where valid_from <= ? and (valid_to is null or valid_to > ?)",
        [day, day],
    ).df()


def comparable(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    keys = list(TABLES_BY_NAME[table].keys)
    frame = frame[TABLES_BY_NAME[table].column_names].copy()
    for column in frame.columns:
        values = frame[column]
        if column.endswith("_at"):
            frame[column] = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
        elif column.endswith("_vnd"):
            frame[column] = values.map(lambda v: Decimal(f"{float(v):.2f}"))
        elif column.endswith(("_date", "_on")):
            frame[column] = pd.to_datetime(values).dt.date
    return frame.sort_values(keys).reset_index(drop=True)


def test_the_changes_hold_what_makes_extraction_hard(extracted):
    _, changes, _ = extracted
    late = [
        c
        for c in changes
        if c.committed_at.astimezone(ZoneInfo(ZONE)).date() > c.row["updated_at"].astimezone(ZoneInfo(ZONE)).date()
    ]
    deleted = [c for c in changes if c.row["deleted_at"] is not None]
    allocations = pd.DataFrame([c.row for c in changes if c.table == "payment_allocations"])
    assert late, "no change committed after midnight with the day before's stamp"
    assert {c.table for c in deleted} == {"invoices", "invoice_lines"}
    assert (allocations.groupby("payment_id").size() > 1).any(), "no payment settles several invoices"
    assert (allocations.groupby("invoice_id").size() > 1).any(), "no invoice paid in instalments"
    applied_later = {c.row["payment_id"] for c in changes if c.table == "payments" and c.row["unapplied_vnd"] == 0}
    assert any(c.table == "payments" and c.row["unapplied_vnd"] > 0 for c in changes) and applied_later


def test_every_day_of_the_history_is_the_databases_state_that_night(extracted):
    platform, changes, _ = extracted
    with warehouse(platform) as con:
        for day in [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]:
            truth = state_through(changes, midnight_after(day))
            for table in TABLES:
                got = comparable(silver_as_of(con, table.name, day), table.name)
                want = comparable(truth[table.name], table.name)
                pd.testing.assert_frame_equal(got, want, check_dtype=False, obj=f"{table.name} on {day}")


def test_the_current_versions_equal_the_live_database(extracted):
    platform, _, url = extracted
    with psycopg2.connect(url) as pg, warehouse(platform) as con:
        for table in TABLES:
            live = live_rows(pg, table.name)
            columns = ", ".join(table.column_names)
            current = con.execute(f"select {columns} from silver.stg_sales_db_{table.name} where valid_to is null").df()
            got = comparable(current, table.name)
            pd.testing.assert_frame_equal(got, comparable(live, table.name), check_dtype=False, obj=table.name)


def test_gold_receivables_equal_the_databases_own_sums(extracted):
    platform, changes, _ = extracted
    with warehouse(platform) as con:
        gold = con.execute(
            "select * from gold.kpi_sales_db_receivables where as_of_date <= ? order by as_of_date", [LAST]
        ).df()
    assert len(gold) == (LAST - FIRST).days + 1
    for row in gold.itertuples():
        state = state_through(changes, midnight_after(row.as_of_date.date()))
        live = {name: frame[frame["deleted_at"].isna()] for name, frame in state.items()}
        invoices = live["invoices"][live["invoices"]["status"] != "void"]
        allocated = live["payment_allocations"].groupby("invoice_id")["amount_vnd"].sum()
        open_vnd = invoices["total_vnd"] - invoices["invoice_id"].map(allocated).fillna(0)
        is_open = open_vnd > 0
        overdue = is_open & (pd.to_datetime(invoices["due_date"]).dt.date < row.as_of_date.date())
        received = live["payments"]["amount_vnd"].sum()
        assert row.open_invoices == is_open.sum()
        assert row.open_amount_vnd == pytest.approx(open_vnd[is_open].sum(), abs=0.01)
        assert row.overdue_amount_vnd == pytest.approx(open_vnd[overdue].sum(), abs=0.01)
        assert row.unapplied_cash_vnd == pytest.approx(
            received - live["payment_allocations"]["amount_vnd"].sum(), abs=0.01
        )
    assert gold["unapplied_cash_vnd"].gt(0).any() and gold["overdue_amount_vnd"].gt(0).any()


def test_re_extracting_a_day_loses_and_repeats_nothing(extracted):
    """Day 3 again, after its rows have moved on: the versions it held stay, none twice."""
    platform, _, _ = extracted
    lake = platform.settings.lake_url
    glob = f"{lake}/bronze/sales_db_invoices/partition_date=2020-01-03/*.parquet"
    before = duckdb.sql(f"select invoice_id, updated_at from read_parquet('{glob}') order by all").fetchall()
    result = run_days(platform.defs, platform.instance, date(2020, 1, 3), date(2020, 1, 3), job_name=SALES_DB_JOB)
    after = duckdb.sql(f"select invoice_id, updated_at from read_parquet('{glob}') order by all").fetchall()
    assert before == after and len(set(after)) == len(after)
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.description for c in checks]
    test_every_day_of_the_history_is_the_databases_state_that_night(extracted)


def test_a_database_without_the_contracts_columns_is_refused_by_name(server, tmp_path):
    url = database_url(server, "sales")
    with psycopg2.connect(url) as pg, pg.cursor() as cur:
        cur.execute("create schema drifted")
        for table in TABLES:
            cur.execute(f"create table drifted.{table.name} as select * from public.{table.name} limit 0")
        cur.execute("alter table drifted.invoices drop column due_date")
    settings = make_settings(
        tmp_path, SMEPULSE_SALES_DB_URL=url, SMEPULSE_SALES_DB_SCHEMA="drifted", SMEPULSE_PARTITIONS_START=f"{FIRST}"
    )
    platform = Platform(settings)
    result = run_days(platform.defs, platform.instance, FIRST, FIRST, job_name=SALES_DB_JOB, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
    assert "drifted.invoices lacks ['due_date']" in failure, failure


def test_an_unreachable_database_is_named_without_its_password():
    # the check before any read; in a run the step's retry policy tries it twice more, then fails with it
    with pytest.raises(SalesDbError) as refused:
        check_tables("postgresql://ledger:secret@127.0.0.1:9/sales", TABLES, "public")
    assert "cannot reach the sales database at postgresql://ledger@127.0.0.1:9/sales" in f"{refused.value}"
    assert "secret" not in f"{refused.value}"


def test_generate_to_postgres_goes_on_from_the_last_day_written(server, tmp_path):
    """As the README writes it, from `.venv/bin` with no venv on PATH: a first call writes the
    first days, a second goes on from there; the database then holds the world's final state."""
    admin = psycopg2.connect(database_url(server, "sales"))
    admin.autocommit = True  # CREATE DATABASE runs outside a transaction
    admin.cursor().execute("create database from_cli")
    admin.close()
    url = database_url(server, "from_cli")
    env = {"PATH": "/usr/bin:/bin", "SMEPULSE_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    world = ["--start", "2020-01-01", "--days", "10", "--orders-per-day", "20", "--seed", "3"]

    def generate(*extra: str) -> str:
        done = subprocess.run(
            [str(BIN / "smepulse"), "generate", *world, "--to-postgres", url, *extra],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "written through 2020-01-04" in generate("--through", "2020-01-04")
    second = generate()
    assert "2020-01-05:" in second and "2020-01-04:" not in second and "written through 2020-01-10" in second
    changes = sales_db_changes(
        generate_world(WorldConfig(date(2020, 1, 1), date(2020, 1, 10), orders_per_day=20, seed=3)), ZONE
    )
    committed = [c for c in changes if c.committed_at < midnight_after(date(2020, 1, 10))]
    with psycopg2.connect(url) as pg:
        for table in TABLES:
            live = live_rows(pg, table.name)
            keys = {c.key for c in committed if c.table == table.name}
            assert len(live) == len(keys), table.name


def test_the_nightly_schedule_extracts_the_day_once_it_has_ended_in_both_zones(extracted):
    """Vietnam's day ends at 17:00 UTC, but its partition (a UTC day) exists from UTC midnight:
    the schedule runs at 00:30 UTC (07:30 in Hanoi). West of UTC it runs at 00:30 local."""
    platform, _, _ = extracted
    schedule = platform.defs.resolve_schedule_def(SALES_DB_SCHEDULE)
    assert schedule.execution_timezone == "UTC" and schedule.cron_schedule == "30 0 * * *"
    assert schedule_timezone("America/Bogota") == "America/Bogota"
    at = datetime(2020, 1, 15, 0, 30, tzinfo=ZoneInfo("UTC"))
    with dg.build_schedule_context(
        instance=platform.instance, scheduled_execution_time=at, repository_def=platform.defs.get_repository_def()
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2020-01-14"
