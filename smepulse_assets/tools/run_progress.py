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

from smepulse_assets.quality.layer_summary import LAYER_SUMMARY_TITLE

# The run's console logger stays quiet below this level; everything is in the log file.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
POLL_SECONDS = 0.5


class RunProgress:
    """Prints a run's finished steps and the layer summaries its steps log, as they land in the
    instance."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, title: str, out: TextIO):
        self.instance, self.run_id, self.title, self.out = instance, run_id, title, out
        self.cursor: str | None = None

    def poll(self) -> None:
        records = self.instance.get_records_for_run(self.run_id, cursor=self.cursor)
        self.cursor = records.cursor
        for record in records.records:
            line = self._line(record.event_log_entry)
            if line:
                print(line, file=self.out, flush=True)

    def _line(self, entry) -> str | None:
        if not entry.is_dagster_event:
            return _layer_line(entry.user_message)
        event = entry.get_dagster_event()
        if event.event_type == DagsterEventType.STEP_SUCCESS:
            seconds = event.event_specific_data.duration_ms / 1000
            return f"  {self.title}: {event.step_key:<40} done in {seconds:6.1f} s"
        if event.event_type == DagsterEventType.STEP_FAILURE:
            message = event.event_specific_data.error.message.strip().splitlines()[0]
            return f"  {self.title}: {event.step_key:<40} FAILED: {message}"
        return None


def _layer_line(message: str) -> str | None:
    """A layer summary (LayerSummary.render) on one line: "silver: Total tables: 20 | Success: 20 ..."."""
    first, _, rest = message.partition("\n")
    if not first.endswith(LAYER_SUMMARY_TITLE):
        return None
    layer = first.removesuffix(LAYER_SUMMARY_TITLE).strip().lower()
    return f"    {layer}: " + " | ".join(line.strip() for line in rest.splitlines())


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
                event = entry.dagster_event
                kind = event.event_type_value if event else "LOG"
                message = entry.message or (event.message if event else "") or ""
                at = datetime.fromtimestamp(entry.timestamp).isoformat(sep=" ", timespec="milliseconds")
                log.write(f"{at} {run_id[:8]} {logging.getLevelName(entry.level)} {kind}{step}: {message}\n")
    return path
