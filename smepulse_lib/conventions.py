"""What every SME Pulse asset shares: daily partitions, freshness, ownership, the warehouse pool."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

OWNER = "team:data-platform"

# DuckDB takes one writer process at a time; every asset that writes the
# warehouse runs in this pool, and dagster.yaml limits it to one slot.
WAREHOUSE_POOL = "duckdb_warehouse"

# Steps that reach the landing zone and the lake (S3 when configured) or MLflow retry twice, after
# ~15 s and ~30 s: a dropped connection or a throttled request is not a failed day. Failures that
# a retry cannot mend (an unreadable delivery, no champion to score with) are raised with
# allow_retries=False and fail at once. Re-running a step is safe: every step replaces its days.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# Data arrives once a day; a layer is stale when a day and a half passes
# without a new materialization, and failing after two days.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=2), warn_window=timedelta(hours=36))
# Reference data (calendar, FX seed) changes rarely.
REFERENCE_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=35))


def daily_asset_args(partitions_def: dg.PartitionsDefinition, group: str, description: str) -> dict:
    """What every daily asset written in Python shares: its partitions, one run per range of days, an
    owner, the daily freshness policy and retries for the lake (S3 when configured)."""
    return {
        "partitions_def": partitions_def,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "group_name": group,
        "owners": [OWNER],
        "freshness_policy": DAILY_FRESHNESS,
        "retry_policy": TRANSIENT_RETRY,
        "description": description,
    }


def daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    """One partition per business day; the newest one is yesterday (a complete day)."""
    return dg.DailyPartitionsDefinition(start_date=start, end_offset=0)
