"""Running the platform's jobs outside the UI: the demo, the benchmark and the tests use these."""

from __future__ import annotations

from datetime import date

import dagster as dg

from smepulse_lib.names import DAILY_JOB, DROP_SENSOR, LAG_JOB, LANDED_JOB, REFERENCE_JOB
from smepulse_lib.windows import DayWindow


def run_reference(defs: dg.Definitions, instance: dg.DagsterInstance, **options) -> dg.ExecuteInProcessResult:
    """``options``: what ``execute_in_process`` takes besides the instance (run_id, run_config)."""
    return defs.resolve_job_def(REFERENCE_JOB).execute_in_process(instance=instance, **options)


def run_days(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    first: date,
    last: date,
    raise_on_error: bool = True,
    job_name: str = DAILY_JOB,
    run_config: dict | None = None,
    run_id: str | None = None,
    asset_selection: list[dg.AssetKey] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize a range of business days as one run (single-run backfill): by default bronze
    through gold; ``job_name=ML_JOB`` trains at the retrain cadence through the range and scores
    each day with the model serving that day. ``asset_selection``: only these of the job's assets."""
    window = DayWindow(first, last)
    return defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        partition_key=window.partition_key,
        tags=window.run_tags(),
        raise_on_error=raise_on_error,
        run_config=run_config,
        run_id=run_id,
        asset_selection=asset_selection,
    )


def run_lag_checks(defs: dg.Definitions, instance: dg.DagsterInstance, **options) -> dg.ExecuteInProcessResult:
    """What the daily 06:00 schedule runs: how far each daily asset's data reaches. ``options`` as
    for ``run_reference``."""
    return defs.resolve_job_def(LAG_JOB).execute_in_process(instance=instance, **options)


def evaluate_sensor(
    defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None = None
) -> tuple[dg.SensorResult | dg.SkipReason, str | None]:
    """One tick of a sensor, as the daemon would run it (its asset events are recorded, its run
    requests are not executed); returns its result and its new cursor."""
    sensor = defs.resolve_sensor_def(name)
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources) as context:
        result = sensor(context)
        for event in getattr(result, "asset_events", None) or []:
            instance.report_runless_asset_event(event)
        if not isinstance(result, dg.SensorResult | dg.SkipReason):
            raise TypeError(
                f"{name} returned {type(result).__name__}; the platform's sensors return a SensorResult or SkipReason"
            )
        return result, getattr(result, "cursor", None) or context.cursor


def evaluate_drop_sensor(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None
) -> dg.SensorResult | dg.SkipReason:
    """One tick of the drop sensor, without executing what it requests (a SkipReason while the
    reference data it waits for is not loaded)."""
    return evaluate_sensor(defs, instance, DROP_SENSOR, cursor)[0]


def run_sensor_requests(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None
) -> tuple[list[dg.RunRequest], str | None, list[dg.ExecuteInProcessResult]]:
    """Evaluate the drop sensor once and execute what it requests (its job: loading and scoring the
    days), as the daemon would."""
    result, new_cursor = evaluate_sensor(defs, instance, DROP_SENSOR, cursor)
    requests = list(result.run_requests or []) if isinstance(result, dg.SensorResult) else []
    job = defs.resolve_job_def(LANDED_JOB)  # the drop sensor's job
    runs = [job.execute_in_process(instance=instance, partition_key=r.partition_key, tags=r.tags) for r in requests]
    return requests, new_cursor, runs
