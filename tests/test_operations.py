"""The platform operated as a team runs it, not only in process: `smepulse ui` started from the
venv's bin folder with no venv on PATH, the daemon's sensors launching the runs, a backfill
launched through the UI's own API, and the UI's pages rendered in a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import dagster as dg
import duckdb
import pytest

from smepulse_assets.definitions import build_defs
from smepulse_assets.quality.alerts import AlertLog
from smepulse_assets.tools.generator import (
    GeneratorConfig,
    generate_invoice_snapshot,
    generate_sample_data,
    world_config,
)
from smepulse_assets.tools.ui_process import UiProcess
from smepulse_lib.instance.run_launcher import run_worker_pid
from smepulse_lib.names import DAILY_JOB, LAG_JOB, LANDED_JOB, ML_JOB, RANGE_END_TAG, RANGE_START_TAG, REPORTS_JOB
from smepulse_lib.programs import beside_interpreter
from smepulse_lib.settings import Settings

pytestmark = pytest.mark.slow

# What the probe of this machine kind starts Chromium with: without the network flags its
# background connections are refused by the closed network, many at a time.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
    "--virtual-time-budget=20000",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "data" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browse(url: str, profile: Path, screenshot: Path | None = None) -> str:
    """The page's DOM after its scripts ran, as headless Chromium rendered it (and a screenshot)."""
    args = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*args, f"--screenshot={screenshot}", url], check=True, capture_output=True, timeout=120)
    return subprocess.run([*args, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=120).stdout


def paying_world(first, last) -> GeneratorConfig:
    """A week's world, from seed 5 on, with an invoice paid in it. The world's shape follows its
    dates (seed 5's week ending 2026-12-05 has no invoice paid), and with none paid nothing is
    scored, rightly."""
    for seed in range(5, 50):
        config = GeneratorConfig(start=first, end=last, customers=20, invoices_per_day=25, seed=seed)
        snapshot = generate_invoice_snapshot(config)
        clear_date = snapshot.header.index("clear_date")
        if any(row[clear_date] for row in snapshot.rows):
            return config
    raise AssertionError(f"no seed gives a world with a paid invoice in {first}..{last}")


@pytest.fixture(scope="module")
def operated(tmp_path_factory):
    """A world ending yesterday with its last day held back, and `smepulse ui` on it."""
    root = tmp_path_factory.mktemp("operated")
    settings = Settings.from_env({"SMEPULSE_DATA_DIR": str(root / "data")})
    settings.ensure_local_dirs()
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=6)
    config = paying_world(first, last)
    generate_sample_data(config, settings.landing_url, world_config(config, orders_per_day=8))
    settings.record_data_start(first)
    held = root / "held"
    for folder in Path(settings.landing_url).glob(f"*/{last}"):
        shutil.move(str(folder), str(held / folder.parent.name / folder.name))
    # no venv on PATH, as a user who never activated it
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8", "SMEPULSE_DATA_DIR": str(root / "data")}
    with UiProcess(env, free_port(), root / "ui.log") as ui:
        yield ui, settings, first, last, held, root


def test_the_daemon_loads_drops_and_new_days_and_runs_a_ui_backfill(operated):
    ui, settings, first, last, held, _ = operated
    # the drop sensor ships running: the days already landed are one range run, launched by the
    # daemon, that loads and scores them (one launch); the reports follow it
    (history,) = ui.wait_runs(1, 900, pipelineName=LANDED_JOB)
    assert history["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in history["tags"]}
    assert (tags[RANGE_START_TAG], tags[RANGE_END_TAG]) == (
        f"{first}",
        f"{last - timedelta(days=1)}",
    )
    ui.wait_runs(1, 900, pipelineName=REPORTS_JOB)

    for source in held.iterdir():  # the newest day lands
        for day in source.iterdir():
            shutil.move(str(day), str(Path(settings.landing_url) / source.name / day.name))
    runs = ui.wait_runs(2, 600, pipelineName=LANDED_JOB)
    newest = next(r for r in runs if r["runId"] != history["runId"])
    assert newest["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": f"{last}"} in newest["tags"]
    reports = ui.wait_runs(2, 900, pipelineName=REPORTS_JOB)
    assert all(r["status"] == "SUCCESS" for r in reports)
    assert not ui.runs(pipelineName=ML_JOB) and not ui.runs(pipelineName=DAILY_JOB)  # nothing launched twice
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        scored = con.execute("select max(score_date) from gold.score_payment_pred").fetchone()[0]
    assert scored == last

    # a backfill of two days, as the UI's materialize dialog launches it
    defs_keys = [["bronze", "kaggle_invoices_raw"], ["bronze", "kaggle_invoices_quarantine"]]
    backfill = ui.launch_asset_backfill(defs_keys, [f"{last - timedelta(days=1)}", f"{last}"])
    assert ui.wait_backfill(backfill, 600) in {"COMPLETED", "COMPLETED_SUCCESS"}
    backfill_runs = ui.runs(tags=[{"key": "dagster/backfill", "value": backfill}])
    assert len(backfill_runs) == 1 and backfill_runs[0]["status"] == "SUCCESS"  # single-run backfill

    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        days = con.execute("select count(distinct as_of_date) from gold.kpi_ar_aging").fetchone()[0]
        open_keys = con.execute("select alert_key from ops.alerts where status = 'open'").fetchall()
    assert days == 7
    assert len(open_keys) == len(set(open_keys))  # one open alert per failing thing
    # freshness is the policy as the UI's own freshness daemon judges it (no check, no job)
    assert freshness_state(settings, dg.AssetKey(["gold", "kpi_ar_aging"]), timeout=120) == "PASS"


def freshness_state(settings: Settings, key: dg.AssetKey, timeout: float) -> str | None:
    """The freshness state the daemon recorded for ``key``, waiting up to ``timeout`` for one."""
    deadline = time.monotonic() + timeout
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": settings.dagster_home}), dg.DagsterInstance.get() as instance:
        while True:
            record = instance.get_freshness_state_records([key]).get(key)
            if record is not None or time.monotonic() > deadline:
                return record.freshness_state.value if record else None
            time.sleep(2)


def test_the_ui_shows_the_days_materialized_in_a_real_browser(operated):
    ui, _settings, first, _last, _, root = operated
    ui.wait_runs(1, 900, pipelineName=LANDED_JOB)
    page = f"{ui.url}/assets/gold/kpi_ar_aging?view=partitions"
    dom = browse(page, root / "chromium", SCREENSHOTS / "kpi_ar_aging_partitions.png")
    assert "kpi_ar_aging" in dom and f"{first}" in dom
    overview = browse(
        f"{ui.url}/assets/bronze/kaggle_invoices_raw", root / "chromium", SCREENSHOTS / "kaggle_invoices_raw.png"
    )
    assert "rows_loaded" in overview or "Row count" in overview
    columns = browse(f"{ui.url}/assets/gold/kpi_ar_aging", root / "chromium", SCREENSHOTS / "kpi_ar_aging.png")
    assert "amount_share" in columns and "Passing" in columns  # typed columns; the freshness verdict
    assert "Join the Dagster community" not in columns
    browse(f"{ui.url}/assets/ops/alert_log", root / "chromium", SCREENSHOTS / "alert_log.png")
    # the UI's Materialize of a job sends the checks whose jobs hold it: the lag check is its own
    # daily job's, so no Materialize all of a job carries it
    node = ui.graphql(CHECKS, {"key": {"path": ["gold", "kpi_ar_aging"]}})["assetNodeOrError"]
    jobs_of = {c["name"]: set(c["jobNames"]) for c in node["assetChecksOrError"]["checks"]}
    assert LAG_JOB in jobs_of["newest_day_lag"]
    assert not jobs_of["newest_day_lag"] & {DAILY_JOB, LANDED_JOB, ML_JOB}
    assert all(DAILY_JOB in jobs and LANDED_JOB in jobs for name, jobs in jobs_of.items() if name != "newest_day_lag")


CHECKS = """
query Checks($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name jobNames } } } }
  }
}
"""


def test_a_killed_run_is_failed_by_the_daemon_and_never_blocks_the_next(operated):
    """kill -9 of a run's process: run monitoring marks it failed, its warehouse pool slot is freed,
    an alert opens, and the same days backfilled again succeed."""
    ui, settings, first, last, _, _root = operated
    ui.wait_runs(1, 900, pipelineName=LANDED_JOB)  # the history run is done (a later run queues behind)
    keys = [list(k.path) for k in build_defs(settings).resolve_job_def(DAILY_JOB).asset_layer.selected_asset_keys]
    days = [f"{first + timedelta(days=n)}" for n in range((last - first).days + 1)]
    doomed = ui.launch_asset_backfill(keys, days)
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": settings.dagster_home}), dg.DagsterInstance.get() as instance:
        run_id, pid = wait_for_worker(ui, instance, doomed)
        os.kill(pid, signal.SIGKILL)
        failed = wait_for_status(ui, run_id, {"FAILURE"}, 180)
        assert failed == "FAILURE"
        # the code server saw its child die (SIGKILL); had the code server gone too, run monitoring
        # would have (LocalRunLauncher: "the run's process (pid N) is gone"); either fails the run
        said = " ".join(e.message or "" for e in instance.all_logs(run_id) if e.dagster_event)
        assert "SIGKILL" in said or f"(pid {pid}) is gone" in said
    ui.wait_backfill(doomed, 300)

    again = ui.launch_asset_backfill(keys, days)  # the next run gets the slot the dead one held
    assert ui.wait_backfill(again, 900) in {"COMPLETED", "COMPLETED_SUCCESS"}
    assert all(r["status"] == "SUCCESS" for r in ui.runs(tags=[{"key": "dagster/backfill", "value": again}]))
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        assert con.execute("select count(distinct as_of_date) from gold.kpi_ar_aging").fetchone()[0] == 7
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the alert sensor ticks every 30 s
        alerts = AlertLog(settings.lake_url).events()
        if any(a["kind"] == "run" and a["run_id"] == run_id for a in alerts):
            break
        time.sleep(5)
    else:
        raise AssertionError("no alert for the killed run")


def wait_for_worker(
    ui: UiProcess, instance: dg.DagsterInstance, backfill_id: str, timeout: float = 300
) -> tuple[str, int]:
    """The backfill's run once its process has reported its pid (and started its steps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in ui.runs(tags=[{"key": "dagster/backfill", "value": backfill_id}]):
            reported = run_worker_pid(instance, run["runId"])
            if run["status"] == "STARTED" and reported:
                return run["runId"], reported[0]
        time.sleep(1)
    raise TimeoutError(f"no run of backfill {backfill_id} started within {timeout} s")


def wait_for_status(ui: UiProcess, run_id: str, statuses: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (run,) = ui.runs(runIds=[run_id])
        if run["status"] in statuses:
            return run["status"]
        time.sleep(2)
    raise TimeoutError(f"run {run_id} not in {statuses} within {timeout} s")


def test_smepulse_backfill_submits_a_range_the_ui_lists_and_prints_its_runs(operated):
    """`smepulse backfill` as a user types it (no venv on PATH): the range is a backfill of the UI's
    own kind, run by the daemon, listed among the UI's backfills, followed to its end."""
    ui, _settings, first, _last, _, root = operated
    ui.wait_runs(1, 900, pipelineName=LANDED_JOB)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8", "SMEPULSE_DATA_DIR": str(root / "data")}
    command = [str(beside_interpreter("smepulse")), "backfill", "--start", f"{first}", "--end"]
    done = subprocess.run(
        [*command, f"{first + timedelta(days=1)}", "--jobs", "daily", "--url", ui.url],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    backfill_id = re.search(r"^backfill (\w+): \d+ assets of daily_sources_job", done.stdout, re.M).group(1)
    assert re.search(r"^  run \w{8} success in \d+ s$", done.stdout, re.M), done.stdout
    assert done.stdout.splitlines()[-1].startswith(f"backfill {backfill_id}: completed")
    listed = ui.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]
    assert backfill_id in [b["id"] for b in listed]

    elsewhere = subprocess.run(  # no UI there: said plainly, no traceback
        [*command, f"{first}", "--url", f"http://127.0.0.1:{free_port()}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert elsewhere.returncode == 1 and "no Dagster UI answers at" in elsewhere.stderr
    assert "smepulse ui" in elsewhere.stderr and "Traceback" not in elsewhere.stderr

    unconfigured = subprocess.run(  # no sales database where this UI runs: said plainly
        [*command, f"{first}", "--jobs", "sales_db", "--url", ui.url],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert unconfigured.returncode == 1 and "has no job sales_db_job" in unconfigured.stderr, unconfigured.stderr
    assert "Traceback" not in unconfigured.stderr


BACKFILLS = "query { partitionBackfillsOrError { ... on PartitionBackfills { results { id } } } }"
