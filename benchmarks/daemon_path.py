"""The path a team's runs take, for benchmarks/scale.py --via-daemon: `smepulse ui` (webserver and
daemon) on a copy of the benchmark's world, its sensors requesting the runs, its run launcher
starting them, then a backfill of the whole history launched through the UI's API.

Figures (wall clock, from the runs' own creation / start / end times):
- daemon_catch_up_s: from the UI's start to the end of the drop sensor's run of the history (a
  fresh install's first hour: the seed sensor's reference run, then one landed-days run of every
  landed day, loading and scoring them);
- daemon_history_run_s: that run from start to end;
- daemon_one_new_day_s: a held-back day's files land -> its landed-days run ends (the sensor's
  interval and the launch included); daemon_new_day_run_s: the run from start to end;
  daemon_new_day_launch_wait_s: run created -> started (queue, process, loading the code location);
  daemon_new_day_slowest_steps (scale.py, from the runs' event logs): each step's median;
- daemon_api_backfill_s: the history backfilled again through the API (the daily job's assets);
- daemon_tick_mb_per_day: what the sensors' ticks store a day (Dagster keeps every tick with its
  sensor's cursor, skipped ones too), from the ticks stored while the UI ran.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

from smepulse_assets.tools.ui_process import UiProcess
from smepulse_lib.names import LANDED_JOB, REFERENCE_JOB, REPORTS_JOB

TIMEOUT = 4 * 3600


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _span(run: dict) -> float:
    return round(run["endTime"] - run["startTime"], 2)


def _newest(ui: UiProcess, job: str, count: int) -> dict:
    runs = ui.wait_runs(count, TIMEOUT, pipelineName=job)
    return max(runs, key=lambda r: r["creationTime"])


def measure(
    env: dict[str, str],
    data_dir: Path,
    held: dict[date, list],
    daily_keys: list[list[str]],
    first: date,
    last: date,
    catch_up: bool = True,
) -> dict[str, float]:
    """``catch_up``: the UI starts on a world nothing has loaded and its sensors load the history;
    without, on a world whose history is loaded already (scale.py --daemon-on-world)."""
    figures: dict[str, float] = {}
    with UiProcess(env, _port(), data_dir / "ui.log") as ui:
        if catch_up:
            figures |= _catch_up(ui, started=time.time())
        figures |= _new_days(ui, held)
        figures |= _api_backfill(ui, daily_keys, first, last)
    figures.update(tick_storage(Path(env["DAGSTER_HOME"])))
    return figures


def _catch_up(ui: UiProcess, started: float) -> dict[str, float]:
    ui.wait_runs(1, TIMEOUT, pipelineName=REFERENCE_JOB)
    history = _newest(ui, LANDED_JOB, 1)
    ui.wait_runs(1, TIMEOUT, pipelineName=REPORTS_JOB)  # its last day's reports: the new days count from them
    return {
        "daemon_catch_up_s": round(history["endTime"] - started, 2),
        "daemon_history_run_s": _span(history),
        "daemon_history_run_ok": int(history["status"] == "SUCCESS"),
    }


def _new_days(ui: UiProcess, held: dict[date, list]) -> dict:
    """Each held-back day lands after the day before's runs (its landed-days run, then its reports
    run) have ended; the runs already in the instance are counted first."""
    landed_before = len(ui.runs(pipelineName=LANDED_JOB))
    reports_before = len(ui.runs(pipelineName=REPORTS_JOB))
    days = []
    for n, day in enumerate(sorted(held), start=1):
        landed = time.time()
        for folder, target in held[day]:
            shutil.move(str(target / folder.name), str(folder))
        run = _newest(ui, LANDED_JOB, landed_before + n)
        # the day's reports follow its run; the next day lands a day later, not while they run
        ui.wait_runs(reports_before + n, TIMEOUT, pipelineName=REPORTS_JOB)
        days.append(
            {
                "total": run["endTime"] - landed,
                "run": _span(run),
                "wait": run["startTime"] - run["creationTime"],
                "run_id": run["runId"],
            }
        )
    figures: dict = {
        name: round(statistics.median(d[key] for d in days), 2)
        for name, key in (
            ("daemon_one_new_day_s", "total"),
            ("daemon_new_day_run_s", "run"),
            ("daemon_new_day_launch_wait_s", "wait"),
        )
    }
    figures["daemon_new_days_s"] = ", ".join(f"{d['total']:.1f}" for d in days)
    figures["daemon_new_day_run_ids"] = [d["run_id"] for d in days]  # scale.py splits them by step
    return figures


def _api_backfill(ui: UiProcess, daily_keys: list[list[str]], first: date, last: date) -> dict:
    partitions = [f"{first + timedelta(days=n)}" for n in range((last - first).days + 1)]
    launched = time.time()
    backfill = ui.launch_asset_backfill(daily_keys, partitions)
    status = ui.wait_backfill(backfill, TIMEOUT)
    return {
        "daemon_api_backfill_s": round(time.time() - launched, 2),
        "daemon_api_backfill_status": status,
        "daemon_api_backfill_runs": len(ui.runs(tags=[{"key": "dagster/backfill", "value": backfill}])),
    }


def tick_storage(dagster_home: Path) -> dict[str, float | str]:
    """MB a day the sensors' ticks store, each sensor's from its ticks' sizes and pace while the UI ran
    (a tick's sensor is stored under Dagster's older field name, job_name)."""
    with sqlite3.connect(dagster_home / "schedules" / "schedules.db") as con:
        rows = con.execute(
            "select json_extract(tick_body, '$.job_name'), count(*), sum(length(tick_body)),"
            " max(json_extract(tick_body, '$.timestamp')) - min(json_extract(tick_body, '$.timestamp'))"
            " from job_ticks group by 1"
        ).fetchall()
    per_day = {name: size / span * 86400 / 2**20 for name, count, size, span in rows if count > 1 and span}
    return {
        "daemon_tick_mb_per_day": round(sum(per_day.values()), 2),
        "daemon_tick_mb_per_day_by_sensor": ", ".join(f"{n} {mb:.2f}" for n, mb in sorted(per_day.items())),
    }


def copy_world(data_dir: Path, target: Path) -> None:
    """The landing zone (and the held-back days) into a second data directory, loaded by nothing yet."""
    for name in ("landing", "held_back", "partitions_start"):
        source = data_dir / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy2(source, target / name)
