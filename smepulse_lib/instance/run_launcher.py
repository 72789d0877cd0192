"""Dagster's default run launcher, able to tell the daemon when a run's process has died.

Runs launched by the default launcher are processes of the code server on this machine. The
launcher cannot report their health, so Dagster's run monitoring never notices one that was
killed (``kill -9``, the out-of-memory killer, a crash of the machine): the run stayed STARTED,
its ``duckdb_warehouse`` pool slot stayed taken, and every later run waited behind it forever.
This launcher answers the monitoring's health check from the run's own record of its process
id (the "Started process for run (pid: N)" event) and the process table: a run whose process is
gone is reported FAILED, run monitoring marks the run failed, the concurrency daemon frees its
slots, and the alert sensor raises the failed run like any other.

A run executed in process (`smepulse demo`, a script's `execute_in_process`) has no such event:
its process says "Executing steps in process (pid: N)" instead. Run monitoring fails a run whose
health is unknown, so without reading that one too, the daemon of a `smepulse ui` on the same
instance marked a live in-process run failed (and freed its pool slot) at its first check, 15 s in.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_started_at(pid: int) -> float | None:
    """When process ``pid`` started (POSIX time), None when there is no such process."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # Linux: the start time, to tell a reused pid from the run's process
        try:
            ticks = int(stat.read_text().rsplit(")", 1)[1].split()[19])
        except (OSError, IndexError, ValueError):
            return None
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return 0.0  # alive, start time unknown (not Linux)


# How a run's process reports itself: launched by the run launcher, or executed in process
WORKER_STARTED = ("Started process for run", "Executing steps in process")


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid the run's process reported first, and when it reported it."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50).records
    for record in records:
        entry = record.event_log_entry
        metadata = entry.get_dagster_event().engine_event_data.metadata or {}
        if "pid" in metadata and (entry.message or "").startswith(WORKER_STARTED):
            return int(str(metadata["pid"].value)), entry.timestamp
    return None


def worker_health(instance: dg.DagsterInstance, run_id: str) -> CheckRunHealthResult:
    reported = run_worker_pid(instance, run_id)
    if reported is None:
        return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run's process has not reported its pid yet")
    pid, reported_at = reported
    return judge_worker(pid, reported_at, process_started_at(pid))


def judge_worker(pid: int, reported_at: float, started_at: float | None) -> CheckRunHealthResult:
    """A process that started after the run's process reported itself is another one on a reused pid."""
    if started_at is None or started_at > reported_at + 1:
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"the run's process (pid {pid}) is gone: killed, or its machine was lost"
        )
    return CheckRunHealthResult(WorkerStatus.RUNNING, f"pid {pid} alive")


class LocalRunLauncher(dg.DefaultRunLauncher):
    """The default launcher (runs as processes of the code server here) with worker health checks."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        # the daemon asks about runs started on this machine: their pids are in this process table
        return worker_health(self._instance, run.run_id)
