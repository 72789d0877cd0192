"""Run the ML job for the day a daily run has just finished loading.

When ``daily_ar_job`` succeeds for a day (or a range, in one run), the models are
trained as of its last day and the range is scored, in one ``daily_ml_job`` run. The
run key makes a repeated tick harmless.
"""

import dagster as dg

from .quality.alert_sensor import run_partition


def ml_run_request(run: dg.DagsterRun) -> dg.RunRequest | None:
    partition = run_partition(run)
    if partition is None:
        return None
    first, _, last = partition.partition("...")
    key = f"ml-after-{run.run_id}"
    if not last:
        return dg.RunRequest(run_key=key, partition_key=first)
    return dg.RunRequest(
        run_key=key,
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )


def build_ml_after_daily_sensor(daily_job, ml_job) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[daily_job],
        request_job=ml_job,
        name="ml_after_daily_sensor",
        minimum_interval_seconds=5,  # it reads only run status events: the ML run follows within seconds
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Trains and scores the models for the days a successful daily run loaded.",
    )
    def ml_after_daily(context: dg.RunStatusSensorContext):
        request = ml_run_request(context.dagster_run)
        return request if request is not None else dg.SkipReason("the daily run covered no partition")

    return ml_after_daily
