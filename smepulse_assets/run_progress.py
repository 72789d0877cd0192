"""What a person running the demo sees: one line per finished step and each layer's summary.

Dagster's own event stream (every DEBUG event of every step) goes to a log file instead of the
terminal: thousands of lines for a 90-day world, in which the few that matter were lost. The
lines here are read back from the instance while the run executes, so nothing in the
definitions changes for the demo.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TextIO

import dagster as dg
from dagster._core.events import DagsterEventType

# The run's console logger stays quiet below this level; everything is in the log file.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
POLL_SECONDS = 0.5
STEP_EVENTS = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.ASSET_MATERIALIZATION}


class RunProgress:
    """Prints a run's finished steps and layer summaries as they land in the instance."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, title: str, out: TextIO):
        self.instance, self.run_id, self.title, self.out = instance, run_id, title, out
        self.cursor = None
        self.layers_seen: set[tuple[str, str]] = set()

    def poll(self) -> None:
        records = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, of_type=STEP_EVENTS)
        self.cursor = records.cursor
        for record in records.records:
            self._print(record.event_log_entry)

    def _print(self, entry) -> None:
        event = entry.get_dagster_event()
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            self._print_layer(event)
            return
        if event.event_type == DagsterEventType.STEP_SUCCESS:
            seconds = event.event_specific_data.duration_ms / 1000
            print(f"  {self.title}: {event.step_key:<40} done in {seconds:6.1f} s", file=self.out, flush=True)
        else:
            message = event.event_specific_data.error.message.strip().splitlines()[0]
            print(f"  {self.title}: {event.step_key:<40} FAILED: {message}", file=self.out, flush=True)

    def _print_layer(self, event) -> None:
        summary = event.event_specific_data.materialization.metadata.get("layer_summary")
        if summary is None:
            return
        layer = summary.value
        seen = (event.step_key, layer["layer"])
        if seen in self.layers_seen:
            return
        self.layers_seen.add(seen)
        tables = len(layer["tables_succeeded"]) + len(layer["tables_failed"]) + len(layer["tables_skipped"])
        failed = f" FAILED {layer['failed_checks']}" if layer["failed_checks"] else ""
        print(
            f"    {layer['layer']:<7} {tables:>3} table(s), {len(layer['tables_failed'])} failed, "
            f"{layer['rows_loaded']:>9,} rows, checks {layer['checks_passed']} passed / "
            f"{layer['checks_warned']} warned / {layer['checks_failed']} failed{failed}",
            file=self.out,
            flush=True,
        )


@contextmanager
def printed_progress(instance: dg.DagsterInstance, run_id: str, title: str, out: TextIO) -> Iterator[None]:
    """Print the run's progress from a thread while the body executes it."""
    progress = RunProgress(instance, run_id, title, out)
    stop = threading.Event()

    def follow() -> None:
        while not stop.wait(POLL_SECONDS):
            progress.poll()

    thread = threading.Thread(target=follow, name=f"progress-{run_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        progress.poll()  # what landed after the last tick


def write_run_log(instance: dg.DagsterInstance, run_ids: list[str], path: Path) -> Path:
    """Every event of the runs, one line each, appended to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        for run_id in run_ids:
            for entry in instance.all_logs(run_id):
                step = f" {entry.step_key}" if entry.step_key else ""
                kind = entry.dagster_event.event_type_value if entry.is_dagster_event else "LOG"
                message = entry.message or (entry.dagster_event.message if entry.is_dagster_event else "") or ""
                at = datetime.fromtimestamp(entry.timestamp).isoformat(sep=" ", timespec="milliseconds")
                log.write(f"{at} {run_id[:8]} {logging.getLevelName(entry.level)} {kind}{step}: {message}\n")
    return path
