"""Build the day's report packs once its ML run (or the drop sensor's run, which scores too) has
scored it.

Reports need the day's worklist and forecast, so they follow the ML run, not the daily one. A
range run (a backfill of history) asks for the reports of its last day only: a pack per past day
is there for the asking (backfill the report assets from the UI), not built by default.
"""

import dagster as dg

from smepulse_lib.chaining import after_success_sensor
from smepulse_lib.names import REPORTS_SENSOR
from smepulse_lib.windows import DayWindow


def last_day(window: DayWindow) -> DayWindow:
    return DayWindow(window.last, window.last)


def build_reports_after_ml_sensor(scoring_jobs: list, reports_job) -> dg.SensorDefinition:
    return after_success_sensor(
        REPORTS_SENSOR,
        scoring_jobs,
        reports_job,
        last_day,
        "Builds the Excel pack and the HTML cash report of the last day a successful ML or landed-days run scored.",
    )
