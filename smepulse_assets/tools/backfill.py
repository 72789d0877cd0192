"""`smepulse backfill`: a range of days submitted to the running `smepulse ui` the way the UI's
backfill dialog submits it (an asset backfill of the jobs' partitioned assets). It is listed under
Overview > Backfills, the daemon launches its runs (one per range: the assets' single-run
backfill policy), and the command prints each run as it starts and ends."""

import time
from collections.abc import Callable
from datetime import date

from smepulse_assets.tools.ui_client import BACKFILL_DONE, UiClient
from smepulse_lib.names import DAILY_JOB, ML_JOB, SALES_DB_JOB
from smepulse_lib.windows import DayWindow

JOBS = {"daily": DAILY_JOB, "ml": ML_JOB, "sales_db": SALES_DB_JOB}  # sales_db: where a sales database is configured
POLL_SECONDS = 2


class JobNotInUi(Exception):
    """The running UI's code location has no such job."""


def launch(client: UiClient, jobs: list[str], first: date, last: date, out: Callable[[str], None]) -> str:
    keys: list[list[str]] = []
    for job in jobs:
        if not client.has_job(JOBS[job]):  # sales_db_job exists only where the UI runs with SMEPULSE_SALES_DB_URL
            raise JobNotInUi(f"the UI at {client.url} has no job {JOBS[job]} (is it configured where the UI runs?)")
        keys += [k for k in client.job_asset_keys(JOBS[job]) if k not in keys]
    days = [f"{day}" for day in DayWindow(first, last).days]
    backfill_id = client.launch_asset_backfill(keys, days)
    out(
        f"backfill {backfill_id}: {len(keys)} assets of {', '.join(JOBS[j] for j in jobs)}, {first}..{last} "
        f"({len(days)} days); in the UI: {client.url}/runs/b/{backfill_id}"
    )
    return backfill_id


def follow(client: UiClient, backfill_id: str, timeout: float, out: Callable[[str], None]) -> str:
    """Print each of the backfill's runs when its status changes, until the backfill is done."""
    deadline, seen = time.monotonic() + timeout, dict[str, str]()
    while True:
        status = client.backfill_status(backfill_id)
        for run in client.runs(tags=[{"key": "dagster/backfill", "value": backfill_id}]):
            if seen.get(run["runId"]) != run["status"]:
                seen[run["runId"]] = run["status"]
                out(f"  run {run['runId'][:8]} {run['status'].lower()}{_took(run)}")
        if status in BACKFILL_DONE:
            out(f"backfill {backfill_id}: {status.lower()} ({len(seen)} run(s))")
            return status
        if time.monotonic() > deadline:
            out(f"backfill {backfill_id}: still {status.lower()} after {timeout:.0f} s; it goes on in the daemon")
            return status
        time.sleep(POLL_SECONDS)


def _took(run: dict) -> str:
    if run.get("startTime") and run.get("endTime"):
        return f" in {run['endTime'] - run['startTime']:.0f} s"
    return ""
