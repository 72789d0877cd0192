"""The SME Pulse code location: every asset, check, job and sensor, built from the environment."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from .conventions import daily_partitions
from .kaggle_invoices.bronze import build_bronze_assets
from .kaggle_invoices.sensor import build_drop_sensor
from .resources import PlatformPaths
from .settings import Settings
from .transformations import build_dbt_assets, dbt_resource


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    partitions = daily_partitions(settings.partitions_start)
    bronze = build_bronze_assets(partitions)
    reference_models, daily_models = build_dbt_assets(settings, partitions)

    daily_job = dg.define_asset_job(
        "daily_ar_job",
        selection=dg.AssetSelection.assets(bronze, daily_models),
        partitions_def=partitions,
        description="One business day (or a range of days, in one run): bronze through gold.",
    )
    reference_job = dg.define_asset_job(
        "reference_data_job",
        selection=dg.AssetSelection.assets(reference_models),
        description="Calendar and reference seeds; run once and when they change.",
    )
    return dg.Definitions(
        assets=[bronze, reference_models, daily_models],
        jobs=[daily_job, reference_job],
        sensors=[build_drop_sensor(daily_job, partitions)],
        resources={
            "paths": PlatformPaths.from_settings(settings),
            "dbt": dbt_resource(),
            "warehouse": DuckDBResource(database=settings.warehouse_path),
        },
    )


defs = build_defs()
