"""The production instance config (deploy/dagster.postgres.yaml) against a real PostgreSQL server
the test starts: the platform's runs, asset events and checks land in PostgreSQL, through
dagster-postgres's own storage (the batched SQLite storage is not involved), whose event log keeps
its connection instead of opening one per event."""

from __future__ import annotations

import os
from datetime import date
from unittest import mock

import dagster as dg
import pytest
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from smepulse_assets.definitions import build_defs
from smepulse_assets.tools.demo import prepare_dagster_home
from smepulse_assets.tools.generator import GeneratorConfig, generate_sample_data, world_config
from smepulse_assets.tools.postgres_server import connect, postgres_server
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib.settings import Settings

pytestmark = pytest.mark.slow


def test_runs_events_and_checks_land_in_postgres(tmp_path):
    with postgres_server() as pg, mock.patch.dict(os.environ, pg):
        settings = Settings.from_env(
            {
                "SMEPULSE_DATA_DIR": str(tmp_path / "data"),
                "SMEPULSE_PARTITIONS_START": "2020-01-01",
                "SMEPULSE_INSTANCE_CONFIG": "deploy/dagster.postgres.yaml",
            }
        )
        settings.ensure_local_dirs()
        config = GeneratorConfig(
            start=date(2020, 1, 1), end=date(2020, 1, 3), customers=10, invoices_per_day=15, seed=2
        )
        generate_sample_data(config, settings.landing_url, world_config(config, orders_per_day=5))
        prepare_dagster_home(settings)  # what `smepulse ui` and `smepulse demo` do with the config
        defs = build_defs(settings)
        with dg.DagsterInstance.get() as instance:
            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
            run_reference(defs, instance)
            sessions_before = sessions_opened(pg)
            result = run_days(defs, instance, config.start, config.end)
            assert result.success
            stored = len(instance.all_logs(result.run_id))
            # dagster-postgres alone opens a PostgreSQL session (a server process) per event here
            assert stored > 1000
            assert sessions_opened(pg) - sessions_before < stored / 10
            aging = dg.AssetKey(["gold", "kpi_ar_aging"])
            assert instance.get_materialized_partitions(aging) == {"2020-01-01", "2020-01-02", "2020-01-03"}
            day = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey(["bronze", "kaggle_invoices_raw"]), asset_partitions=["2020-01-02"]
                ),
                limit=1,
            ).records[0]
            assert day.asset_materialization.metadata["files"].value == 1  # the day's own figures, as on SQLite

        connection = connect(pg)
        with connection, connection.cursor() as cursor:
            cursor.execute("select count(*) from runs where status = 'SUCCESS'")
            assert cursor.fetchone()[0] == 2
            cursor.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'")
            assert cursor.fetchone()[0] > 100
            cursor.execute("select count(*) from asset_check_executions")
            assert cursor.fetchone()[0] > 50
        connection.close()


def sessions_opened(pg: dict[str, str]) -> int:
    """The sessions the server has opened on the Dagster database so far (PostgreSQL 14+)."""
    connection = connect(pg)
    with connection, connection.cursor() as cursor:
        cursor.execute("select sessions from pg_stat_database where datname = current_database()")
        (sessions,) = cursor.fetchone()
    connection.close()
    return int(sessions)
