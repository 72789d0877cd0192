"""Run the ML job for the day a daily run has just finished loading.

When the daily job succeeds for a day (or a range, in one run), the models are
trained as of its last day and the range is scored, in one ML job run. The
run key makes a repeated tick harmless.
"""

import dagster as dg

from smepulse_lib.names import ML_SENSOR
from smepulse_lib.windows import DayWindow


def ml_run_request(run: dg.DagsterRun) -> dg.RunRequest | None:
    window = DayWindow.of_run(run)
    return window.run_request(f"ml-after-{run.run_id}") if window else None


def build_ml_after_daily_sensor(daily_job, ml_job) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[daily_job],
        request_job=ml_job,
        name=ML_SENSOR,
        minimum_interval_seconds=5,  # it reads only run status events: the ML run follows within seconds
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Trains and scores the models for the days a successful daily run loaded.",
    )
    def ml_after_daily(context: dg.RunStatusSensorContext):
        request = ml_run_request(context.dagster_run)
        return request if request is not None else dg.SkipReason("the daily run covered no partition")

    return ml_after_daily
