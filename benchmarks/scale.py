"""Benchmark: the whole platform on a generated world of a chosen size.

    .venv/bin/python benchmarks/scale.py                                   # ~520 days, ~100 invoices/day (~50k)
    .venv/bin/python benchmarks/scale.py --invoices-per-day 9620 --customers 20000 --orders-per-day 300   # ~5M

Generates every source's daily drops (Kaggle invoices and the SME world) into a
temporary data directory, holds the last days back, and measures (wall clock):
- definitions load: a fresh interpreter loading the code location (median of 3);
- full backfill of the history through every layer: reference data, the daily job
  (bronze -> silver -> gold) over all days as one range run, then the ML job
  (train at the retrain cadence through the range, score each day with the model
  serving it, gold score tables);
- the same dbt models run by plain `dbt build` over the same window into a fresh
  warehouse, plus the Python steps' own time (bronze parsing, ML) taken from the
  platform run's step timings: the ratio of the platform's time to that sum is
  the cost of orchestration;
- one new day: the held-back day's files land, the drop sensor ticks and its run
  executes, the ML sensor ticks and its run executes (sensor to gold scores); three new
  days one after another, the median reported (one day's figure moved by up to ~10 %
  between runs of the same code);
- latency (median and p95 of repeated queries) of the gold queries people run most:
  AR aging for a day, DSO for a day, the collection worklist;
- peak resident memory of the backfill and the new day: this process plus its children (dbt)
  at the same moment.
Runs record into an in-memory Dagster instance (with the platform's batched event log, as
the tests); `--instance home` records into the one the UI uses (the repository's
dagster.yaml, SQLite files under DAGSTER_HOME), which adds the cost of writing to disk;
`--instance postgres` into the production instance (deploy/dagster.postgres.yaml, dagster-postgres's
stock storage) on a PostgreSQL server the benchmark starts and removes.
`--via-daemon` adds the path a team's runs take (`smepulse ui`: sensors, queue, run launcher;
benchmarks/daemon_path.py): on a copy of the world whose history the UI's sensors load, or, with
`--daemon-on-world`, on this world after its in-process new days (more held-back days land
through the UI), which a 5M world affords: its history is built once.
Prints a table and a JSON line. Figures, not assertions: targets are judged by
reading them (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_path import copy_world, measure

from smepulse_lib.names import DAILY_JOB, LANDED_JOB, ML_JOB, REPORTS_JOB
from smepulse_lib.settings import environment_set

# the serving copy's steps: the marts in the daily runs, the scores in the ML runs
SERVING_STEPS = {DAILY_JOB: "serving__marts", ML_JOB: "serving__scores"}

# The gold queries an analyst runs most, each for one day (the newest).
GOLD_QUERIES = {
    "ar_aging": "select aging_bucket, invoice_count, open_amount from gold.kpi_ar_aging where as_of_date = ? "
    "order by bucket_order",
    "dso": "select * from gold.kpi_ar_dso_analysis where as_of_date = ?",
    "worklist": "select * from gold.ar_collection_worklist where score_date = ? order by call_order limit 50",
}
QUERY_REPEATS = 40


class Timer:
    def __init__(self, figures: dict, name: str):
        self.figures, self.name = figures, name

    def __enter__(self):
        self.started = time.perf_counter()

    def __exit__(self, *exc):
        self.figures[self.name] = round(time.perf_counter() - self.started, 2)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2019, 1, 1))
    parser.add_argument("--days", type=int, default=520, help="days of history to backfill (the new days come after)")
    parser.add_argument(
        "--new-days", type=int, default=3, help="new days processed one at a time after the backfill (median reported)"
    )
    parser.add_argument("--invoices-per-day", type=float, default=100.0)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--orders-per-day", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="keep the data directory (path printed)")
    parser.add_argument("--skip-plain-dbt", action="store_true", help="skip the plain dbt comparison")
    parser.add_argument(
        "--via-daemon",
        action="store_true",
        help="also run the world as a team does: `smepulse ui`, its sensors and run launcher, a backfill "
        "through the UI's API (on a copy of the world; printed beside the in-process figures)",
    )
    parser.add_argument(
        "--daemon-on-world",
        action="store_true",
        help="with --via-daemon and --instance home: `smepulse ui` on this world once its in-process new "
        "days are done, landing as many more days through the daemon, instead of a copy its sensors load "
        "from nothing (at 5M that catch-up replays hours of trainings a second time)",
    )
    parser.add_argument(
        "--instance",
        choices=("memory", "home", "postgres"),
        default="memory",
        help="memory: an in-memory Dagster instance; home: the one the UI uses (dagster.yaml, "
        "SQLite files under DAGSTER_HOME in the data directory); postgres: the production instance "
        "(deploy/dagster.postgres.yaml) on a PostgreSQL server started for the run",
    )
    args = parser.parse_args()
    if args.daemon_on_world and not (args.via_daemon and args.instance == "home"):
        parser.error("--daemon-on-world needs --via-daemon and --instance home (the instance the UI opens)")
    return args


def landing_days(landing: Path, day: date) -> list[Path]:
    """Every source's folder for one day."""
    return [folder for folder in landing.glob(f"*/{day:%Y-%m-%d}") if folder.is_dir()]


def hold_back(landing: Path, day: date, store: Path) -> list[tuple[Path, Path]]:
    moves = [(folder, store / folder.parent.name) for folder in landing_days(landing, day)]
    for folder, target in moves:
        target.mkdir(parents=True, exist_ok=True)
        shutil.move(str(folder), str(target / folder.name))
    return moves


def open_instance(kind: str, settings) -> dg.DagsterInstance:
    """The Dagster instance the runs record into. In memory, the figures leave out the cost of
    writing events to disk, which a UI backfill pays (about 7 % more on the 50k backfill)."""
    if kind == "memory":
        from smepulse_lib.instance.event_log import ephemeral_instance

        return ephemeral_instance()
    from smepulse_assets.tools.demo import prepare_dagster_home

    prepare_dagster_home(settings)
    return dg.DagsterInstance.get()


def step_spans(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """Start and end time of each step of a run, from its event log."""
    started: dict[str, float] = {}
    spans: dict[str, tuple[float, float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            spans[event.step_key] = (started.get(event.step_key, entry.timestamp), entry.timestamp)
    return spans


def step_seconds(spans: dict[str, tuple[float, float]]) -> dict[str, float]:
    return {step: round(end - start, 2) for step, (start, end) in spans.items()}


def step_running_at(spans_by_run: dict[str, dict[str, tuple[float, float]]], moment: float) -> str:
    """Which step (of which run) was running at ``moment``: where the peak memory was reached."""
    for run, spans in spans_by_run.items():
        for step, (start, end) in spans.items():
            if start <= moment <= end:
                return f"{run}:{step}"
    return "between steps"


def definitions_load_seconds(env: dict[str, str]) -> float:
    code = "from smepulse_assets.definitions import defs; defs.get_repository_def().get_all_jobs()"
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
        timings.append(time.perf_counter() - started)
    return round(statistics.median(timings), 2)


def query_latency(warehouse_path: str, day: date) -> dict[str, float]:
    figures = {}
    with duckdb.connect(warehouse_path, read_only=True) as con:
        for name, sql in GOLD_QUERIES.items():
            timings = []
            for _ in range(QUERY_REPEATS):
                started = time.perf_counter()
                rows = con.execute(sql, [day]).fetchall()
                timings.append((time.perf_counter() - started) * 1000)
            if not rows:  # e.g. the worklist of a world too short for any invoice's label to be known
                print(
                    f"note: gold query {name} returned no rows for {day}: its latency is of an empty answer",
                    file=sys.stderr,
                )
            timings.sort()
            figures[f"{name}_query_rows"] = len(rows)
            figures[f"{name}_query_median_ms"] = round(statistics.median(timings), 1)
            figures[f"{name}_query_p95_ms"] = round(timings[int(0.95 * (len(timings) - 1))], 1)
    return figures


def plain_dbt_seconds(settings, first: date, last: date) -> float:
    """The daily and ML-serving dbt models over the window, by plain `dbt build`, into a fresh warehouse.

    Reference data and the ML output tables are copied in first (not timed): the comparison
    is the same models over the same days, without Dagster around them."""
    from smepulse_assets.transform.assets import BUILD
    from smepulse_assets.transform.project import ML_SERVING_SELECT, REFERENCE_SELECT, dbt_executable, window_env
    from smepulse_lib.settings import DBT_PROJECT_DIR
    from smepulse_lib.windows import DayWindow

    plain = Path(settings.data_dir) / "plain_dbt.duckdb"
    env = {**os.environ, **settings.dbt_env(), "SMEPULSE_WAREHOUSE_PATH": str(plain)}
    dbt = [
        dbt_executable(),
        *BUILD,  # what the platform's dbt steps run
        "--quiet",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    subprocess.run(
        [*dbt, "--select", REFERENCE_SELECT, "--indirect-selection", "cautious"],
        check=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
    )
    with duckdb.connect(str(plain)) as con:
        con.execute(f"attach '{settings.warehouse_path}' as platform (read_only)")
        con.execute("create schema if not exists ml")
        for (table,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'platform' and table_schema = 'ml'"
        ).fetchall():
            con.execute(f"create or replace table ml.{table} as select * from platform.ml.{table}")
    env.update(window_env(DayWindow(first, last)))
    started = time.perf_counter()
    subprocess.run([*dbt, "--exclude", REFERENCE_SELECT, ML_SERVING_SELECT], check=True, env=env, cwd=DBT_PROJECT_DIR)
    subprocess.run([*dbt, "--select", ML_SERVING_SELECT], check=True, env=env, cwd=DBT_PROJECT_DIR)
    return round(time.perf_counter() - started, 2)


class MemorySampler(threading.Thread):
    """Peak resident memory of this process plus its children (dbt) at the same moment, sampled
    from /proc every 100 ms. (getrusage cannot tell: a forked child reports its parent's pages
    until it execs.) Linux only; elsewhere it reports this process's peak alone."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kb, self.peak_at, self.running = 0, 0.0, True

    def run(self) -> None:
        while self.running:
            rss_kb = _rss_kb(os.getpid()) + sum(_rss_kb(pid) for pid in _descendants(os.getpid()))
            if rss_kb > self.peak_kb:
                self.peak_kb, self.peak_at = rss_kb, time.time()
            time.sleep(0.1)

    def figures(self) -> dict[str, int]:
        own_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"peak_rss_mb": round(self.peak_kb / 1024), "peak_rss_python_lifetime_mb": round(own_peak_kb / 1024)}


def _descendants(root: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # ppid
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def run_new_day(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None, figures: dict
) -> tuple[list[str], str | None]:
    """Tick the drop sensor and run what it asks (the landed-days job: load and score the day), then
    the reports: as the daemon would. Returns the runs and the sensor's cursor after the tick."""
    from smepulse_assets.tools.runs import DROP_SENSOR, evaluate_sensor

    with Timer(figures, "new_day_sensor_tick_s"):
        result, cursor = evaluate_sensor(defs, instance, DROP_SENSOR, cursor)
    requests = list(getattr(result, "run_requests", None) or [])
    if not requests:
        raise SystemExit(f"the drop sensor requested nothing for the new day: {result}")
    landed, reports = (defs.resolve_job_def(name) for name in (LANDED_JOB, REPORTS_JOB))
    run_ids = []
    for request in requests:
        with Timer(figures, "new_day_run_s"):
            run = landed.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags)
        run_ids.append(run.run_id)
        # what the reports sensor then asks for: timed apart, the new day's figure is sensor to scores
        with Timer(figures, "new_day_reports_run_s"):
            packs = reports.execute_in_process(instance=instance, partition_key=request.partition_key)
        run_ids.append(packs.run_id)
    return run_ids, cursor


def run_new_days(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None, held: dict[date, list], figures: dict
) -> list[str]:
    """Each held-back day in turn: its files land, then run_new_day. The day's figures are the
    medians over the days; each day's total is listed too."""
    per_day: list[dict] = []
    run_ids: list[str] = []
    for day in sorted(held):
        for folder, target in held[day]:
            shutil.move(str(target / folder.name), str(folder))
        timings: dict = {}
        runs, cursor = run_new_day(defs, instance, cursor, timings)
        timings["one_new_day_s"] = round(timings["new_day_sensor_tick_s"] + timings["new_day_run_s"], 2)
        per_day.append(timings)
        run_ids += runs
    figures.update(_medians(per_day))
    figures["new_days_s"] = ", ".join(f"{t['one_new_day_s']}" for t in per_day)
    return run_ids


def main() -> None:
    args = parse_args()
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres_instance_env()) if args.instance == "postgres" else {}
        run_benchmark(args, pg)


@contextlib.contextmanager
def postgres_instance_env():
    """A PostgreSQL server for the run, and the environment that points the instance at it."""
    from smepulse_assets.tools.postgres_server import postgres_server

    with postgres_server() as pg:
        os.environ.update(pg, SMEPULSE_INSTANCE_CONFIG="deploy/dagster.postgres.yaml")
        yield pg


def run_benchmark(args: argparse.Namespace, pg: dict[str, str]) -> None:
    data_dir = tempfile.mkdtemp(prefix="smepulse-bench-")
    os.environ.update(SMEPULSE_DATA_DIR=data_dir, SMEPULSE_PARTITIONS_START="2018-01-01")
    from smepulse_assets.definitions import build_defs
    from smepulse_assets.tools.generator import GeneratorConfig, generate_sample_data, world_config
    from smepulse_assets.tools.runs import DROP_SENSOR, evaluate_sensor, run_days, run_reference
    from smepulse_assets.transform.project import DBT_STEPS  # SQL in a dbt child process; other steps are Python
    from smepulse_lib import warehouse
    from smepulse_lib.settings import Settings

    settings = Settings.from_env()
    settings.ensure_local_dirs()
    last = args.start + timedelta(days=args.days - 1)
    new_days = [last + timedelta(days=n) for n in range(1, args.new_days + 1)]
    # --daemon-on-world: as many days again, landed through the daemon after the in-process ones
    daemon_day_count = args.new_days if args.daemon_on_world else 0
    daemon_days = [new_days[-1] + timedelta(days=n) for n in range(1, daemon_day_count + 1)]
    config = GeneratorConfig(
        start=args.start,
        end=(daemon_days or new_days)[-1],
        customers=args.customers,
        invoices_per_day=args.invoices_per_day,
    )
    figures: dict[str, float | int | str] = {
        "days": args.days,
        "invoices_per_day": args.invoices_per_day,
        "orders_per_day": args.orders_per_day,
        "instance": args.instance,
    }

    with Timer(figures, "generate_s"):
        snapshot, world, _ = generate_sample_data(
            config, settings.landing_url, world_config(config, args.orders_per_day)
        )
    figures.update(
        invoices=len(snapshot.truth),
        invoice_rows_delivered=len(snapshot.rows),
        order_lines=len(world.order_lines),
        payments=len(world.payments),
        bank_lines=len(world.bank_lines),
    )
    del snapshot, world  # the generator's objects are not part of the platform's memory
    gc.collect()
    store = Path(data_dir) / "held_back"
    held = {day: hold_back(Path(settings.landing_url), day, store) for day in new_days}
    held_for_daemon = {day: hold_back(Path(settings.landing_url), day, store) for day in daemon_days}
    if args.via_daemon and not args.daemon_on_world:  # the daemon's copy, before anything is loaded
        daemon_dir = Path(tempfile.mkdtemp(prefix="smepulse-bench-daemon-"))
        copy_world(Path(data_dir), daemon_dir)

    figures["definitions_load_s"] = definitions_load_seconds(dict(os.environ))
    defs = build_defs(settings)
    instance = open_instance(args.instance, settings)
    memory = MemorySampler()
    memory.start()

    with Timer(figures, "reference_s"):
        run_reference(defs, instance)
    with Timer(figures, "daily_job_backfill_s"):
        backfill = run_days(defs, instance, args.start, last)
    with Timer(figures, "ml_job_backfill_s"):
        ml = run_days(defs, instance, args.start, last, job_name=ML_JOB)
    figures["full_backfill_s"] = round(
        figures["reference_s"] + figures["daily_job_backfill_s"] + figures["ml_job_backfill_s"], 2
    )
    # each run's event log is read once: a range run's holds tens of thousands of events
    spans = {DAILY_JOB: step_spans(instance, backfill.run_id), ML_JOB: step_spans(instance, ml.run_id)}
    steps = {**step_seconds(spans[DAILY_JOB]), **step_seconds(spans[ML_JOB])}
    figures["python_steps_s"] = round(sum(s for k, s in steps.items() if k not in DBT_STEPS), 2)
    figures["dbt_steps_s"] = round(sum(s for k, s in steps.items() if k in DBT_STEPS), 2)
    checks = [*backfill.get_asset_check_evaluations(), *ml.get_asset_check_evaluations()]
    figures["backfill_checks"] = len(checks)
    figures["backfill_checks_not_passing"] = ", ".join(sorted(c.check_name for c in checks if not c.passed)) or "none"

    # the sensors' cursors catch up with the history the backfill loaded
    _, cursor = evaluate_sensor(defs, instance, DROP_SENSOR)
    history_mb = instance_storage(settings.dagster_home, args.days)["instance_mb"] if args.instance == "home" else 0
    new_runs = run_new_days(defs, instance, cursor, held, figures)
    figures["one_new_day_runs"] = len(new_runs) // len(new_days)
    publish_figures(figures, spans, new_runs, instance)
    memory.running = False
    figures.update(memory.figures())
    new_day_spans = {
        f"new day {instance.get_run_by_id(run_id).job_name} {run_id[:8]}": step_spans(instance, run_id)
        for run_id in new_runs
    }
    figures["peak_rss_step"] = step_running_at({**spans, **new_day_spans}, memory.peak_at)
    figures.update(query_latency(settings.warehouse_path, new_days[-1]))

    if not args.skip_plain_dbt:
        figures["plain_dbt_s"] = plain_dbt_seconds(settings, args.start, last)
        baseline = figures["plain_dbt_s"] + figures["python_steps_s"]
        figures["backfill_vs_plain_dbt_plus_python"] = round(figures["full_backfill_s"] / baseline, 2)
    counts = warehouse.row_counts(settings.warehouse_path)
    for table in (
        "gold.fact_ar_invoices",
        "silver.ftr_invoice_risk",
        "gold.fact_orders",
        "silver.ftr_customer_behavior",
        "ml.payment_date_scores",
    ):
        figures[f"rows_{table}"] = counts.get(table, 0) if not table.startswith("ml.") else _ml_rows(settings, table)
    if args.instance == "home":
        figures.update(instance_storage(settings.dagster_home, args.days + len(new_days)))
        # what each day of operation adds (its daily and ML runs): years of it are what a user keeps
        figures["instance_kb_per_new_day"] = round((figures["instance_mb"] - history_mb) * 1024 / len(new_days), 1)
    if args.instance == "postgres":
        from smepulse_assets.tools.postgres_server import database_megabytes

        figures["instance_mb"] = database_megabytes(pg)
        figures["instance_kb_per_day"] = round(figures["instance_mb"] * 1024 / (args.days + len(new_days)), 1)
    if args.daemon_on_world:
        instance.dispose()  # the UI's processes write the instance from here on
        figures.update(daemon_figures(args, Path(data_dir), held_for_daemon, defs, last, catch_up=False))
        figures["daemon_world"] = "this world, after its in-process new days"
    elif args.via_daemon:
        figures.update(daemon_figures(args, daemon_dir, held, defs, last))
    if args.via_daemon:
        figures["daemon_new_day_vs_in_process"] = round(figures["daemon_one_new_day_s"] / figures["one_new_day_s"], 2)
    figures["slowest_steps"] = _slowest(steps)
    figures["new_day_slowest_steps"] = _slowest(
        _medians([step_seconds(run_spans) for run_spans in new_day_spans.values()])
    )

    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    # every backfill step's seconds in the JSON line only: where a change moved the time
    print(json.dumps({**figures, "backfill_steps": dict(sorted(steps.items(), key=lambda kv: -kv[1]))}))
    if args.keep:
        print(f"data directory kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


def instance_storage(dagster_home: str, days: int) -> dict[str, float]:
    """What the instance keeps on disk for the history: all of DAGSTER_HOME, its cross-run index,
    the runs' own event files, the captured logs; and per day of history."""
    home = Path(dagster_home)
    for db in (home / "history" / "runs").glob("*.db"):  # the write-ahead logs folded in: what the files hold
        with contextlib.closing(sqlite3.connect(db)) as con:
            con.execute("pragma wal_checkpoint(truncate)")

    def size(paths):
        return sum(p.stat().st_size for p in paths if p.is_file()) / 2**20

    index = size((home / "history" / "runs").glob("index.db*"))
    figures = {
        "instance_mb": round(size(home.rglob("*")), 1),
        "instance_index_mb": round(index, 1),
        "instance_run_files_mb": round(size((home / "history" / "runs").glob("*.db*")) - index, 1),
        "instance_logs_mb": round(size((home / "storage").rglob("*")), 1),
    }
    figures["instance_kb_per_day"] = round(figures["instance_mb"] * 1024 / days, 1)
    return figures


def daemon_figures(
    args, daemon_dir: Path, held: dict[date, list], defs: dg.Definitions, last: date, catch_up: bool = True
) -> dict:
    """The world through `smepulse ui` (benchmarks/daemon_path.py): on its own copy, whose history
    the UI's sensors load (``catch_up``), or on the benchmark's own data directory after its
    in-process days (the held days are then the daemon's own)."""
    moved = {
        day: [
            (daemon_dir / "landing" / f.parent.name / f.name, daemon_dir / "held_back" / f.parent.name)
            for f, _ in moves
        ]
        for day, moves in held.items()
    }
    env = {**os.environ, "SMEPULSE_DATA_DIR": str(daemon_dir), "DAGSTER_HOME": str(daemon_dir / "dagster_home")}
    keys = [list(k.path) for k in defs.resolve_job_def(DAILY_JOB).asset_layer.selected_asset_keys]
    try:
        figures = measure(env, daemon_dir, moved, keys, args.start, last, catch_up)
        run_ids = figures.pop("daemon_new_day_run_ids")
        figures["daemon_new_day_slowest_steps"] = _slowest(_medians(steps_in_home(env["DAGSTER_HOME"], run_ids)))
        return figures
    finally:
        if catch_up and not args.keep:
            shutil.rmtree(daemon_dir, ignore_errors=True)


def steps_in_home(dagster_home: str, run_ids: list[str]) -> list[dict[str, float]]:
    """Each run's step seconds from another instance's event log. The platform's event log finds
    its files through DAGSTER_HOME, which this process points at its own instance (--instance home),
    so it is pointed at the other one while reading."""
    with environment_set({"DAGSTER_HOME": dagster_home}), dg.DagsterInstance.from_config(dagster_home) as instance:
        return [step_seconds(step_spans(instance, run_id)) for run_id in run_ids]


def publish_figures(figures: dict, spans: dict, new_runs: list[str], instance: dg.DagsterInstance) -> None:
    """The serving copy's publish in the backfill's two range runs and in a new day's landed-days run
    (its two publishes, medians), and the reports' step seconds (each report's own step in the new
    days' reports runs)."""
    figures["backfill_publish_daily_s"] = step_seconds(spans[DAILY_JOB]).get(SERVING_STEPS[DAILY_JOB], 0.0)
    figures["backfill_publish_ml_s"] = step_seconds(spans[ML_JOB]).get(SERVING_STEPS[ML_JOB], 0.0)
    by_job: dict[str, list[dict[str, float]]] = {}
    for run_id in new_runs:
        by_job.setdefault(instance.get_run_by_id(run_id).job_name, []).append(
            step_seconds(step_spans(instance, run_id))
        )
    landed = _medians(by_job[LANDED_JOB])
    figures["new_day_publish_daily_s"] = landed.get(SERVING_STEPS[DAILY_JOB], 0.0)
    figures["new_day_publish_ml_s"] = landed.get(SERVING_STEPS[ML_JOB], 0.0)
    for step, seconds in sorted(_medians(by_job[REPORTS_JOB]).items()):
        figures[f"new_day_{step.removeprefix('reports__')}_s"] = seconds


def _slowest(steps: dict[str, float], count: int = 6) -> str:
    return ", ".join(f"{k} {v}s" for k, v in sorted(steps.items(), key=lambda kv: -kv[1])[:count])


def _medians(timings: list[dict[str, float]]) -> dict[str, float]:
    """Each name's median seconds over the timings it appears in (the new days' figures, their runs' steps)."""
    seconds: dict[str, list[float]] = {}
    for timing in timings:
        for name, value in timing.items():
            seconds.setdefault(name, []).append(value)
    return {name: round(statistics.median(values), 2) for name, values in seconds.items()}


def _ml_rows(settings, table: str) -> int:
    from smepulse_lib import warehouse

    return int(warehouse.query(settings.warehouse_path, f"select count(*) as n from {table}")["n"][0])


if __name__ == "__main__":
    main()
