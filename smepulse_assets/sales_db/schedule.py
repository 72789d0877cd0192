"""The nightly extraction: after midnight in the database's time zone, the day just ended."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from smepulse_lib.names import SALES_DB_SCHEDULE


def build_sales_db_schedule(job: dg.UnresolvedAssetJobDefinition, timezone: str, first_day: str) -> dg.ScheduleDefinition:
    # 00:30 local, not UTC: a business day west of UTC ends hours after UTC midnight. Changes of the
    # day committed after the run are found by the next night's window (its overlap).
    @dg.schedule(
        name=SALES_DB_SCHEDULE,
        job=job,
        cron_schedule="30 0 * * *",
        execution_timezone=timezone,
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
