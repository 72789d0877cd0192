"""The SME Pulse code location: every asset, check, job, schedule and sensor, built from the environment."""

from __future__ import annotations

import dagster as dg

from ml_assets import CashPolicy, build_ml_assets, end_mlflow_run_hooks, mlflow_resource
from ml_assets.libraries import ML_STEP_MODULES
from ml_assets.sensor import build_ml_after_daily_sensor
from smepulse_assets.ingestion.bronze import build_bronze_assets
from smepulse_assets.ingestion.sensor import build_drop_sensor
from smepulse_assets.ingestion.spec import load_source_specs
from smepulse_assets.quality.alert_sensor import build_alert_sensor
from smepulse_assets.quality.alerts import Alerting, build_alert_log_asset
from smepulse_assets.quality.freshness import build_lag_checks, freshness_targets
from smepulse_assets.reports.assets import build_report_assets
from smepulse_assets.reports.sensor import build_reports_after_ml_sensor
from smepulse_assets.sales_db.assets import SalesDatabase, build_sales_db_assets
from smepulse_assets.sales_db.schedule import build_sales_db_schedule
from smepulse_assets.serving.assets import ServingPart, build_serving_assets
from smepulse_assets.transform.assets import build_dbt_assets, build_sales_db_dbt_assets
from smepulse_assets.transform.cli_resource import dbt_resource
from smepulse_assets.transform.data_catalog import build_data_catalog_asset
from smepulse_assets.transform.seed_sensor import build_seed_sensor
from smepulse_lib.conventions import REFERENCE_FRESHNESS, daily_partitions
from smepulse_lib.names import (
    DAILY_JOB,
    DOCS_JOB,
    LAG_JOB,
    LANDED_JOB,
    ML_JOB,
    REFERENCE_JOB,
    REPORTS_JOB,
    SALES_DB_JOB,
)
from smepulse_lib.resources import PlatformPaths, WarehouseResource
from smepulse_lib.settings import Settings, apply_instance_env


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    apply_instance_env()
    settings = settings or Settings.from_env()
    partitions = daily_partitions(settings.partitions_start)
    sources = load_source_specs(settings.sources_dir)
    bronze = [build_bronze_assets(spec, partitions) for spec in sources]
    alert_log = build_alert_log_asset(REFERENCE_FRESHNESS)
    reference_models, daily_models, ml_serving_models = build_dbt_assets(settings, partitions, ML_STEP_MODULES)
    ml = build_ml_assets(partitions)
    assets = [*bronze, alert_log, reference_models, daily_models, *ml, ml_serving_models]
    # the business's own sales database, where one is configured (only what the data supports)
    sales_db = (
        [build_sales_db_assets(partitions), build_sales_db_dbt_assets(settings, partitions)]
        if settings.sales_db_url
        else []
    )
    assets += sales_db
    # The serving copy publishes every asset's and check's status, the lag checks' too, which are
    # built after it (they cover it): it reads the list when it runs.
    marts, scores = build_serving_assets(
        partitions,
        [
            ServingPart(
                "marts", _readers_tables(reference_models, daily_models), "The gold marts, alerts and quarantine."
            ),
            ServingPart("scores", _readers_tables(ml_serving_models), "The gold score tables of the ML run."),
        ],
        watched=lambda: [*assets, lag_checks],
    )
    reports = build_report_assets(partitions, [marts.key, scores.key])
    data_catalog = build_data_catalog_asset(
        settings, [k for a in (reference_models, daily_models, ml_serving_models) for k in a.keys]
    )
    assets += [marts, scores, *reports, data_catalog]
    # Freshness is each asset's policy, judged by Dagster's freshness daemon (no check, no job);
    # how far the data reaches is checked daily against the clock, not inside the runs that write
    # the days (quality/freshness.py).
    lag_checks = build_lag_checks(assets)

    def without_lag(*selected) -> dg.AssetSelection:
        """The assets and their checks, the lag checks left to their own daily job."""
        return dg.AssetSelection.assets(*selected) - dg.AssetSelection.checks(lag_checks)

    # the daily half (bronze through gold, the serving copy) and the ML half (train, score, the score tables)
    daily_half, ml_half = (*bronze, daily_models, marts), (*ml, ml_serving_models, scores)
    daily_job = dg.define_asset_job(
        DAILY_JOB,
        selection=without_lag(*daily_half),
        partitions_def=partitions,
        description="One business day (or a range of days, in one run): every source's bronze through gold, "
        "with their checks, then the serving copy.",
    )
    ml_job = dg.define_asset_job(
        ML_JOB,
        selection=without_lag(*ml_half),
        partitions_def=partitions,
        hooks=end_mlflow_run_hooks(),
        description="After a day's data: train, evaluate and register the models, score the day with the champions, "
        "monitor accuracy, build the gold score tables, and publish the serving copy.",
    )
    # A new day's drops are one launch, not a daily run and then an ML run: each launch is a
    # process loading the code location (~4.6 s) and a sensor interval (benchmarks/scale.py
    # --via-daemon). The two jobs stay for what the UI and `smepulse backfill` run apart.
    landed_job = dg.define_asset_job(
        LANDED_JOB,
        selection=without_lag(*daily_half, *ml_half),
        partitions_def=partitions,
        hooks=end_mlflow_run_hooks(),
        description="What the drop sensor runs for the days with new or changed drops: the daily job's assets "
        "(bronze through gold, the serving copy) and the ML job's (train, score, the score tables) in one run; "
        "the reports follow it.",
    )
    reference_job = dg.define_asset_job(
        REFERENCE_JOB,
        selection=without_lag(alert_log, reference_models),
        description="Calendar, reference seeds and the alert log; run once, monthly, and when they change.",
    )
    reports_job = dg.define_asset_job(
        REPORTS_JOB,
        selection=without_lag(*reports),
        partitions_def=partitions,
        description="The day's Excel receivables pack and HTML cash report, from the serving copy.",
    )
    docs_job = dg.define_asset_job(
        DOCS_JOB,
        selection=without_lag(data_catalog),
        description="The data catalog: dbt's docs site over the warehouse, and the column types the UI shows.",
    )
    lag_job = dg.define_asset_job(
        LAG_JOB,
        selection=dg.AssetSelection.checks(lag_checks),
        description="How far each daily asset's data reaches: its newest materialized day against its freshness "
        "policy's windows.",
    )
    sales_db_jobs = (
        [
            dg.define_asset_job(
                SALES_DB_JOB,
                selection=without_lag(*sales_db),
                partitions_def=partitions,
                description="The sales database's day (or range of days, in one run): extraction by updated_at "
                "into bronze, the silver histories and the gold receivables.",
            )
        ]
        if sales_db
        else []
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=[lag_checks],
        jobs=[daily_job, ml_job, landed_job, reports_job, reference_job, docs_job, lag_job, *sales_db_jobs],
        schedules=[
            *[
                build_sales_db_schedule(job, settings.sales_db_timezone, settings.partitions_start)
                for job in sales_db_jobs
            ],
            dg.ScheduleDefinition(
                job=lag_job, cron_schedule="0 6 * * *", default_status=dg.DefaultScheduleStatus.RUNNING
            ),
            dg.ScheduleDefinition(
                job=reference_job, cron_schedule="0 1 1 * *", default_status=dg.DefaultScheduleStatus.RUNNING
            ),
            # after the night's runs; a model added or changed shows in the catalog by the next morning
            dg.ScheduleDefinition(
                job=docs_job, cron_schedule="0 6 * * *", default_status=dg.DefaultScheduleStatus.RUNNING
            ),
        ],
        sensors=[
            build_drop_sensor(sources, landed_job, partitions, waits_for=reference_models.keys),
            build_alert_sensor({key: spec for key, (spec, _) in freshness_targets(assets).items()}),
            build_seed_sensor(reference_job, settings, reference_models.keys),
            build_ml_after_daily_sensor(daily_job, ml_job),
            build_reports_after_ml_sensor([ml_job, landed_job], reports_job),
        ],
        # One process per run, its steps in it: the multiprocess executor started a process per step
        # that loaded the whole code location again (tens of seconds between steps of a daemon-launched run),
        # while the dbt steps are serialized by the warehouse pool anyway. Runs launched by the
        # daemon then take what in-process runs take (benchmarks/scale.py --via-daemon).
        executor=dg.in_process_executor,
        resources={
            "paths": PlatformPaths.from_settings(settings),
            "dbt": dbt_resource(),
            "warehouse": WarehouseResource(
                database=settings.warehouse_path, connection_config={"memory_limit": settings.duckdb_memory_limit}
            ),
            "mlflow": mlflow_resource(settings.mlflow_tracking_uri),
            "cash_policy": CashPolicy(
                opening_balance_vnd=settings.cash_opening_balance_vnd, floor_vnd=settings.cash_floor_vnd
            ),
            "sales_db": SalesDatabase.from_settings(settings),
            "alerting": Alerting(
                lake_url=settings.lake_url, webhook_url=settings.alert_webhook_url, ui_url=settings.ui_url
            ),
        },
    )


def _readers_tables(*dbt_assets: dg.AssetsDefinition) -> list[dg.AssetSpec]:
    """What the serving copy copies: the gold and ops models, reference, daily and ML."""
    return [spec for assets in dbt_assets for spec in assets.specs if spec.key.path[0] in ("gold", "ops")]


defs = build_defs()
