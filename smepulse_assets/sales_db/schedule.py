"""The nightly extraction: the business day that just ended, once it has ended everywhere it must."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from smepulse_lib.names import SALES_DB_SCHEDULE


def schedule_timezone(database_timezone: str) -> str:
    """Where midnight comes last: the database's day must have ended, and the platform's daily
    partitions are UTC days, so the partition of that day exists only after UTC midnight. East of
    UTC (Vietnam, +7) that is UTC's midnight; west of it, the database's own."""
    offset = ZoneInfo(database_timezone).utcoffset(datetime.now())
    return database_timezone if offset is not None and offset < timedelta(0) else "UTC"


def build_sales_db_schedule(
    job: dg.UnresolvedAssetJobDefinition, timezone: str, first_day: str
) -> dg.ScheduleDefinition:
    # Changes of the day committed after the run are found by the next night's window (its overlap).
    @dg.schedule(
        name=SALES_DB_SCHEDULE,
        job=job,
        cron_schedule="30 0 * * *",
        execution_timezone=schedule_timezone(timezone),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Extracts the business day that just ended from the sales database, then builds its "
        "silver histories and gold receivables.",
    )
    def sales_db_nightly(context: dg.ScheduleEvaluationContext):
        day = (context.scheduled_execution_time.date() - timedelta(days=1)).isoformat()
        if day < first_day:
            return dg.SkipReason(f"{day} is before the first partition day {first_day}")
        return dg.RunRequest(run_key=day, partition_key=day)

    return sales_db_nightly
