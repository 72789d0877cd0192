"""Build the day's report packs once its ML run has scored it.

Reports need the day's worklist and forecast, so they follow the ML run, not the daily one. A
range run (a backfill of history) asks for the reports of its last day only: a pack per past day
is there for the asking (backfill the report assets from the UI), not built by default.
"""

import dagster as dg

from smepulse_lib.names import REPORTS_SENSOR
from smepulse_lib.windows import DayWindow


def reports_run_request(run: dg.DagsterRun) -> dg.RunRequest | None:
    window = DayWindow.of_run(run)
    return DayWindow(window.last, window.last).run_request(f"reports-after-{run.run_id}") if window else None


def build_reports_after_ml_sensor(ml_job, reports_job) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[ml_job],
        request_job=reports_job,
        name=REPORTS_SENSOR,
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Builds the Excel pack and the HTML cash report of the last day a successful ML run scored.",
    )
    def reports_after_ml(context: dg.RunStatusSensorContext):
        request = reports_run_request(context.dagster_run)
        return request if request is not None else dg.SkipReason("the ML run covered no partition")

    return reports_after_ml
