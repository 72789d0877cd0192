"""The run launcher's answer to run monitoring: is a run's process still there?"""

from __future__ import annotations

import subprocess
import time

import dagster as dg
from dagster._core.events import EngineEventData
from dagster._core.launcher.base import WorkerStatus

from smepulse_lib.instance.event_log import ephemeral_instance
from smepulse_lib.instance.run_launcher import judge_worker, worker_health
from smepulse_lib.names import DAILY_JOB


def started_run(instance: dg.DagsterInstance, pid: int | None) -> dg.DagsterRun:
    run = instance.add_run(dg.DagsterRun(job_name=DAILY_JOB))
    if pid is not None:  # what the run's process reports when it starts (Dagster's own message)
        instance.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))
    return run


def test_a_live_worker_runs_a_killed_one_failed_and_a_reused_pid_is_not_the_run():
    instance = ephemeral_instance()
    worker = subprocess.Popen(["sleep", "60"])
    try:
        run = started_run(instance, worker.pid)
        assert worker_health(instance, run.run_id).status == WorkerStatus.RUNNING
        worker.kill()
        worker.wait()
        health = worker_health(instance, run.run_id)
        assert health.status == WorkerStatus.FAILED and f"(pid {worker.pid}) is gone" in health.msg
    finally:
        worker.kill()

    assert worker_health(instance, started_run(instance, None).run_id).status == WorkerStatus.UNKNOWN  # not started yet


def test_a_pid_reused_by_a_later_process_is_not_the_run():
    reported_at = time.time()
    assert judge_worker(4242, reported_at, reported_at - 3).status == WorkerStatus.RUNNING  # the run's own process
    assert judge_worker(4242, reported_at, reported_at + 30).status == WorkerStatus.FAILED  # started after: another
    assert judge_worker(4242, reported_at, None).status == WorkerStatus.FAILED  # no such process


def test_a_run_executed_in_process_is_judged_by_its_own_process():
    """An in-process run reports no "Started process for run" event; run monitoring fails a run whose
    health is unknown, so the daemon of a UI on the same instance failed it while it ran."""
    instance = ephemeral_instance()
    seen = {}

    @dg.op
    def probe(context) -> None:
        seen["health"] = worker_health(context.instance, context.run_id)

    @dg.job
    def probing():
        probe()

    assert probing.execute_in_process(instance=instance).success
    assert seen["health"].status == WorkerStatus.RUNNING, seen["health"].msg
