"""A corrected delivery replaces what it corrects, in every table built from it; a rerun, or a run
killed mid-build and run again, changes nothing.

One world is loaded through gold, then four of its deliveries are replaced by corrected copies:
an invoice posted by mistake is gone from its day, a later clearing of another invoice is gone
(the invoice is open again), a customer's update is gone (the version before it is current
again), and a payment is gone. The days from the first corrected one are run again, as the drop
sensor requests them. A second world is loaded from landing files that never held those rows.
Every silver and gold table of the first must then hold exactly what the second holds; the
invoice history keeps the withdrawn states, marked, with the reason. Real files, DuckDB, dbt,
Dagster runs."""

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from smepulse_assets.tools.generator import GeneratorConfig, generate_sample_data, world_config
from smepulse_assets.tools.runs import run_days, run_reference
from tests.conftest import Platform, make_settings
from tests.table_contents import content_hashes, differing

WORLD = GeneratorConfig(start=date(2020, 1, 1), end=date(2020, 1, 16), customers=30, invoices_per_day=30, seed=5)
CORRECTED_DAY = date(2020, 1, 8)  # a day in the middle: the snapshots of the days after it must follow


@dataclass(frozen=True)
class Withdrawal:
    what: str
    source: str
    day: date
    key_column: str
    key: str
    condition: tuple[str, str] | None = None  # (column, value) the withdrawn line also has


def rows(path: Path) -> tuple[list[str], list[list[str]]]:
    header, *body = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return header, body


def day_file(landing: Path, source: str, day: date) -> Path:
    [path] = (landing / source / f"{day}").glob("*.csv")
    return path


def lines_by_day(landing: Path, source: str, key_column: str) -> dict[str, list[tuple[date, dict]]]:
    found: dict[str, list[tuple[date, dict]]] = {}
    for folder in sorted((landing / source).iterdir()):
        header, body = rows(day_file(landing, source, date.fromisoformat(folder.name)))
        for values in body:
            line = dict(zip(header, values, strict=True))
            found.setdefault(line[key_column], []).append((date.fromisoformat(folder.name), line))
    return found


def choose_withdrawals(landing: Path) -> list[Withdrawal]:
    """Four lines whose withdrawal each changes something different, found in the generated world."""
    invoices = lines_by_day(landing, "kaggle_invoices", "doc_id")
    posted_once = next(
        doc
        for doc, seen in sorted(invoices.items())
        if [(d, line["isOpen"]) for d, line in seen] == [(CORRECTED_DAY, "1")]
    )
    cleared_later = next(
        (doc, seen[-1][0])
        for doc, seen in sorted(invoices.items())
        if len(seen) == 2 and seen[0][0] < CORRECTED_DAY <= seen[1][0] and seen[1][1]["isOpen"] == "0"
    )
    customers = lines_by_day(landing, "customers", "customer_code")
    updated = next(
        (code, seen[1][0])
        for code, seen in sorted(customers.items())
        if len(seen) >= 2 and seen[1][0] >= CORRECTED_DAY and changed_attributes(seen[0][1], seen[1][1])
    )
    payments = lines_by_day(landing, "payments", "payment_id")
    paid_once = next(p for p, seen in sorted(payments.items()) if [d for d, _ in seen] == [CORRECTED_DAY])
    return [
        Withdrawal("an invoice posted by mistake", "kaggle_invoices", CORRECTED_DAY, "doc_id", posted_once),
        Withdrawal("a clearing", "kaggle_invoices", cleared_later[1], "doc_id", cleared_later[0], ("isOpen", "0")),
        Withdrawal("a customer's update", "customers", updated[1], "customer_code", updated[0]),
        Withdrawal("a payment", "payments", CORRECTED_DAY, "payment_id", paid_once),
    ]


def changed_attributes(before: dict, after: dict) -> bool:
    return {**before, "updated_on": after["updated_on"]} != after


def withdraw(landing: Path, withdrawal: Withdrawal) -> None:
    """Replace the day's file by a corrected copy without the line (the way a source re-delivers)."""
    path = day_file(landing, withdrawal.source, withdrawal.day)
    header, body = rows(path)
    key = header.index(withdrawal.key_column)
    kept = [
        values
        for values in body
        if values[key] != withdrawal.key
        or (withdrawal.condition and values[header.index(withdrawal.condition[0])] != withdrawal.condition[1])
    ]
    assert len(kept) == len(body) - 1, withdrawal
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *kept])
    path.write_text(out.getvalue(), encoding="utf-8")


def load(platform: Platform) -> None:
    assert run_reference(platform.defs, platform.instance).success
    assert run_days(platform.defs, platform.instance, WORLD.start, WORLD.end).success


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """(corrected, never_had, withdrawals): the world after its corrected deliveries were run, and
    the world loaded from files that never held the withdrawn lines."""
    corrected = Platform(make_settings(tmp_path_factory.mktemp("corrected")))
    generate_sample_data(WORLD, corrected.settings.landing_url, world_config(WORLD, orders_per_day=10))
    withdrawals = choose_withdrawals(Path(corrected.settings.landing_url))
    never_had = Platform(make_settings(tmp_path_factory.mktemp("never_had")))
    shutil.copytree(corrected.settings.landing_url, never_had.settings.landing_url, dirs_exist_ok=True)
    for withdrawal in withdrawals:
        withdraw(Path(never_had.settings.landing_url), withdrawal)

    load(corrected)
    for withdrawal in withdrawals:
        withdraw(Path(corrected.settings.landing_url), withdrawal)
    first = min(w.day for w in withdrawals)
    assert run_days(corrected.defs, corrected.instance, first, WORLD.end).success
    load(never_had)
    return corrected, never_had, withdrawals


LIVE = {"silver.stg_ar_invoice_history": "not is_retracted", "silver.stg_customers": "not is_retracted"}


def test_every_table_equals_the_world_that_never_had_the_withdrawn_rows(worlds):
    corrected, never_had, _ = worlds
    left = content_hashes(corrected.settings.warehouse_path, corrected.settings.landing_url, LIVE)
    right = content_hashes(never_had.settings.warehouse_path, never_had.settings.landing_url)
    assert len(left) > 40
    assert differing(left, right) == {}


def test_the_histories_keep_the_withdrawn_versions_with_the_reason(worlds):
    corrected, _, withdrawals = worlds
    posted, cleared, update = withdrawals[0], withdrawals[1], withdrawals[2]
    with duckdb.connect(corrected.settings.warehouse_path, read_only=True) as con:
        retracted = con.execute(
            "select doc_id, is_open, valid_from, valid_to, is_current, retraction_reason "
            "from silver.stg_ar_invoice_history where is_retracted order by valid_from"
        ).fetchall()
        current = con.execute(
            "select is_open from silver.stg_ar_invoices where doc_id = ?", [int(float(cleared.key))]
        ).fetchall()
        gone = con.execute(
            "select count(*) from gold.fact_ar_invoices where doc_id = ?", [int(float(posted.key))]
        ).fetchone()[0]
        customer = con.execute(
            "select customer_code, valid_to = valid_from, is_current, retraction_reason "
            "from silver.stg_customers where is_retracted"
        ).fetchall()
    assert {(r[0], r[1]) for r in retracted} == {(int(float(posted.key)), True), (int(float(cleared.key)), False)}
    for _, _, valid_from, valid_to, is_current, reason in retracted:
        assert valid_to == valid_from and not is_current  # in force on no day
        assert reason.startswith(f"withdrawn: the delivery of {valid_from}")
    assert current == [(True,)]  # open again: its clearing was withdrawn
    assert gone == 0
    [(code, no_days, is_current, reason)] = customer
    assert (code, no_days, is_current) == (update.key, True, False)
    assert reason.startswith(f"withdrawn: the delivery of {update.day} that carried this version")


def test_running_the_corrected_days_again_changes_nothing(worlds):
    corrected, _, withdrawals = worlds
    settings = corrected.settings
    before = content_hashes(settings.warehouse_path, settings.landing_url)
    assert run_days(corrected.defs, corrected.instance, min(w.day for w in withdrawals), WORLD.end).success
    assert differing(content_hashes(settings.warehouse_path, settings.landing_url), before) == {}


RERUN = (CORRECTED_DAY - timedelta(days=2), CORRECTED_DAY + timedelta(days=2))


def test_three_reruns_of_a_window_give_the_same_tables(worlds):
    _, world, _ = worlds
    settings = world.settings
    clean = content_hashes(settings.warehouse_path, settings.landing_url)
    for _ in range(3):
        assert run_days(world.defs, world.instance, *RERUN).success
        assert differing(content_hashes(settings.warehouse_path, settings.landing_url), clean) == {}


def test_a_run_killed_mid_build_and_run_again_gives_the_same_tables(worlds):
    """kill -9 of a run's process (and its dbt) while dbt writes silver and gold, as the out-of-memory
    killer would; the days run again give the tables of the clean run."""
    _, world, _ = worlds
    settings = world.settings
    clean = content_hashes(settings.warehouse_path, settings.landing_url)
    env = {**os.environ, "SMEPULSE_DATA_DIR": settings.data_dir, "SMEPULSE_PARTITIONS_START": "2019-01-01"}
    command = [sys.executable, "-c", RUN_DAYS, f"{RERUN[0]}", f"{RERUN[1]}"]
    run = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        dbt = wait_for_dbt_build(run.pid)
        time.sleep(3)  # into the build: some models replaced, others not yet
        os.killpg(run.pid, signal.SIGKILL)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert dbt is not None, "the run never started dbt"
    assert run.returncode == -signal.SIGKILL
    assert run_days(world.defs, world.instance, *RERUN).success
    assert differing(content_hashes(settings.warehouse_path, settings.landing_url), clean) == {}


RUN_DAYS = """
import sys
from datetime import date
from smepulse_assets.definitions import build_defs
from smepulse_assets.tools.runs import run_days
from smepulse_lib.instance.event_log import ephemeral_instance
from smepulse_lib.settings import Settings
settings = Settings.from_env()
run_days(build_defs(settings), ephemeral_instance(), date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2]))
"""


def wait_for_dbt_build(session: int, timeout: float = 300) -> int | None:
    """The pid of the ``dbt build`` the run in process group ``session`` started, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if os.getpgid(int(pid)) == session and b"build" in command and any(b"dbt" in c for c in command):
                    return int(pid)
            except (OSError, ProcessLookupError):
                continue
        time.sleep(0.2)
    return None
