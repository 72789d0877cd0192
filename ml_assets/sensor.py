"""Run the ML job for the day a daily run has just finished loading.

When the daily job succeeds for a day (or a range, in one run), the models are
trained as of its last day and the range is scored, in one ML job run.
"""

import dagster as dg

from smepulse_lib.chaining import after_success_sensor, request_after
from smepulse_lib.names import ML_SENSOR
from smepulse_lib.windows import DayWindow


def _same_days(window: DayWindow) -> DayWindow:
    return window


def ml_run_request(run: dg.DagsterRun) -> dg.RunRequest | None:
    return request_after(run, ML_SENSOR, _same_days)


def build_ml_after_daily_sensor(daily_job, ml_job) -> dg.SensorDefinition:
    return after_success_sensor(
        ML_SENSOR,
        [daily_job],
        ml_job,
        _same_days,
        "Trains and scores the models for the days a successful daily run loaded.",
    )
