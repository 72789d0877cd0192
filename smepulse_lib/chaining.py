"""Runs that follow runs: a job started for the days another job's successful run covered."""

from collections.abc import Callable

import dagster as dg

from smepulse_lib.windows import DayWindow


def after_success_sensor(
    name: str,
    monitored_jobs: list,
    request_job,
    window_of: Callable[[DayWindow], DayWindow],
    description: str,
) -> dg.SensorDefinition:
    """A sensor requesting ``request_job`` for ``window_of`` the days each successful run of one of
    ``monitored_jobs`` covered. The run key (the monitored run's id) makes a repeated tick harmless."""

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=monitored_jobs,
        request_job=request_job,
        name=name,
        # a new day's drops load and score in one run (landed_days_job): what follows a run here (the ML
        # run after a daily run launched from the UI, the reports) is not on that path; every tick is
        # stored, ~0.9 kB, kept 7 days: 15 s is ~5 MB a day per sensor, 5 s was three times that
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def after_success(context: dg.RunStatusSensorContext):
        request = request_after(context.dagster_run, name, window_of)
        return request if request is not None else dg.SkipReason("the run covered no partition")

    return after_success


def request_after(run: dg.DagsterRun, name: str, window_of: Callable[[DayWindow], DayWindow]) -> dg.RunRequest | None:
    window = DayWindow.of_run(run)
    return window_of(window).run_request(f"{name}-{run.run_id}") if window else None
