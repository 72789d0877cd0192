"""`smepulse demo`: sample data for a range of days, materialized bronze to gold, and a summary."""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.dataset as ds

from smepulse_assets.ingestion.spec import load_source_specs
from smepulse_assets.quality.freshness import LAG_CHECK_NAME
from smepulse_assets.reports.assets import REPORTS
from smepulse_assets.tools.generator import GeneratorConfig, WorldConfig, generate_sample_data
from smepulse_assets.tools.run_progress import QUIET_RUN_CONFIG, printed_progress, write_run_log
from smepulse_assets.tools.runs import run_days, run_lag_checks, run_reference
from smepulse_lib import storage, warehouse
from smepulse_lib.metadata import plain_value
from smepulse_lib.names import DAILY_JOB, DOCS_JOB, ML_JOB, REPORTS_JOB
from smepulse_lib.programs import beside_interpreter
from smepulse_lib.settings import Settings


def prepare_dagster_home(settings: Settings) -> None:
    """The instance lives under the data directory and uses the repository's dagster.yaml (or the
    file SMEPULSE_INSTANCE_CONFIG names); this process (and what it starts) uses that instance."""
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.instance_config, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = settings.dagster_home


def bronze_rows(settings: Settings, table: str) -> int:
    fs, path = storage.filesystem(storage.join(settings.lake_url, "bronze", table))
    return ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive").count_rows() if fs.exists(path) else 0


def run_demo(settings: Settings, config: GeneratorConfig, world: WorldConfig | None = None) -> dict:
    from smepulse_assets.definitions import build_defs

    settings.ensure_local_dirs()
    prepare_dagster_home(settings)
    started = time.perf_counter()
    snapshot, sme, files = generate_sample_data(config, settings.landing_url, world)
    settings = settings.record_data_start(config.start)
    print(
        f"Generated {len(snapshot.rows)} invoices and an SME world of {len(sme.order_lines)} order lines, "
        f"{len(sme.payments)} payments, {len(sme.bank_lines)} bank lines: {len(files)} daily files under "
        f"{settings.landing_url}\n"
        f"Days {config.start}..{config.end}; daily partitions start on {settings.partitions_start}"
    )
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when MLflow is imported (by build_defs)
    defs = build_defs(settings)
    log_file = Path(settings.data_dir) / "logs" / f"demo-{datetime.now():%Y%m%dT%H%M%S}.log"
    print(f"Materializing (dbt's output and Dagster's event stream go to {log_file}):", flush=True)
    with dg.DagsterInstance.get() as instance:
        runs = DemoRuns(defs, instance, log_file)
        try:
            runs.reference()
            result = runs.days(config.start, config.end, DAILY_JOB)
            # a failing ML, report or docs step is reported in the summary (and the exit status)
            # rather than stopping the demo: the warehouse's AR figures stand without them
            ml = runs.days(config.start, config.end, ML_JOB, raise_on_error=False)
            # what the reports sensor asks for after an ML run: the packs of its last day
            reports = runs.days(config.end, config.end, REPORTS_JOB, raise_on_error=False)
            docs = runs.docs()  # the data catalog, and the column types the UI shows
            # what the 06:00 schedule would judge next: without it the UI lists every daily asset's
            # newest_day_lag check as never evaluated until the morning after the demo
            lag = runs.lag()
        finally:
            runs.write_event_log()
    checks = [r for run in (result, ml, reports, lag) for r in run.get_asset_check_evaluations()]
    summary = {
        "seconds": round(time.perf_counter() - started, 1),
        "bronze": {
            f"{s.name}_{kind}": bronze_rows(settings, f"{s.name}_{kind}")
            for s in load_source_specs(settings.sources_dir)
            for kind in ("raw", "quarantine")
        },
        "warehouse": warehouse.row_counts(settings.warehouse_path),
        "checks": {
            "passed": sum(c.passed for c in checks),
            "warned": sum(not c.passed and c.severity == dg.AssetCheckSeverity.WARN for c in checks),
            "failed": sum(not c.passed and c.severity == dg.AssetCheckSeverity.ERROR for c in checks),
            "not passing": not_passing(checks),
        },
        "log_file": str(log_file),
        "failures": [failure for run in (ml, reports, docs, lag) for failure in run_failures(run)],
    }
    print_summary(settings, config.end, summary)
    return summary


class DemoRuns:
    """The demo's runs, each printing its progress to the terminal and sending everything else
    (dbt's output, which dagster-dbt writes to stdout, libraries' notes, then every Dagster event)
    to one log file."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, log_file: Path):
        self.defs, self.instance, self.log_file = defs, instance, log_file
        self.run_ids: list[str] = []
        log_file.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _followed(self, title: str) -> Iterator[str]:
        self.run_ids.append(str(uuid.uuid4()))  # what Dagster makes a run id of
        terminal = sys.stdout
        # libraries print to both streams (dbt's lines to stdout, MLflow's registry notes to stderr);
        # a failed step still reaches the terminal as its progress line, and the run's error as raised
        with self.log_file.open("a", encoding="utf-8") as sink, redirect_stdout(sink), redirect_stderr(sink):
            with printed_progress(self.instance, self.run_ids[-1], title, terminal):
                yield self.run_ids[-1]

    def reference(self) -> dg.ExecuteInProcessResult:
        with self._followed("reference") as run_id:
            return run_reference(self.defs, self.instance, run_id=run_id, run_config=QUIET_RUN_CONFIG)

    def lag(self) -> dg.ExecuteInProcessResult:
        with self._followed("newest day lag") as run_id:
            return run_lag_checks(self.defs, self.instance, run_id=run_id, run_config=QUIET_RUN_CONFIG)

    def docs(self) -> dg.ExecuteInProcessResult:
        with self._followed("docs") as run_id:
            return self.defs.resolve_job_def(DOCS_JOB).execute_in_process(
                instance=self.instance, run_id=run_id, run_config=QUIET_RUN_CONFIG, raise_on_error=False
            )

    def days(self, first: date, last: date, job_name: str, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
        with self._followed(job_name.removesuffix("_job")) as run_id:
            return run_days(
                self.defs,
                self.instance,
                first,
                last,
                raise_on_error,
                job_name,
                run_config=QUIET_RUN_CONFIG,
                run_id=run_id,
            )

    def write_event_log(self) -> None:
        write_run_log(self.instance, self.run_ids, self.log_file)


def print_summary(settings: Settings, last_day: date, summary: dict) -> None:
    print(f"\nMaterialized {summary['seconds']} s. Rows per layer:")
    for name, rows in summary["bronze"].items():
        print(f"  bronze.{name:<28} {rows:>9}")
    for name, rows in summary["warehouse"].items():
        print(f"  {name:<35} {rows:>9}")
    dso = warehouse.query(
        settings.warehouse_path,
        "select open_invoices, open_amount, overdue_invoices, dso_days from gold.kpi_ar_dso_analysis where "
        "as_of_date = ?",
        [last_day],
    )
    aging = warehouse.query(
        settings.warehouse_path,
        "select aging_bucket, invoice_count, open_amount, round(amount_share * 100, 1) as pct "
        "from gold.kpi_ar_aging where as_of_date = ? order by bucket_order",
        [last_day],
    )
    working_capital = warehouse.query(
        settings.warehouse_path,
        "select w.ar_outstanding_vnd, w.ap_outstanding_vnd, w.dso_days, w.dpo_days, w.inventory_days, w.ccc_days, "
        "r.revenue_vnd, r.gross_margin_pct, p.success_rate, k.match_rate "
        "from gold.kpi_working_capital w "
        "join gold.kpi_daily_revenue r on r.revenue_date = w.as_of_date "
        "join gold.kpi_payment_success_rate p on p.as_of_date = w.as_of_date "
        "join gold.kpi_reconciliation_daily k on k.statement_date = w.as_of_date where w.as_of_date = ?",
        [last_day],
    )
    checks = summary["checks"]
    print(f"\nChecks: {checks['passed']} passed, {checks['warned']} warned, {checks['failed']} failed")
    for name in checks["not passing"]:
        print(f"  not passing: {name}")
    print(f"\nAR on {last_day}:\n{dso.to_string(index=False)}\n\nAging on {last_day}:\n{aging.to_string(index=False)}")
    table = working_capital.T.to_string(header=False, float_format=lambda v: f"{v:,.2f}")
    print(f"\nSME world on {last_day} (VND):\n{table}")
    print_ml_summary(settings, last_day)
    print(f"\nWarehouse: {settings.warehouse_path}\nRun log (every Dagster event): {summary['log_file']}")
    print(f"Serving copy (BI tools, notebooks): {settings.serving_path}\nReports of {last_day}:")
    for report in REPORTS:
        print(f"  {report.url(settings.lake_url, last_day)}")
    print(f"Data catalog: {storage.join(settings.lake_url, 'docs', 'data_catalog.html')}")
    print(f"Dashboard: {beside_interpreter('smepulse')} dashboard   (then http://127.0.0.1:8501)")
    print(
        f"Open the UI: {beside_interpreter('smepulse')} ui   (then http://127.0.0.1:3000; "
        f"DAGSTER_HOME={settings.dagster_home})"
    )
    # last, where a person reading the end of the output sees it; the command then exits 1
    for failure in summary["failures"]:
        print(f"Failed: {failure} (its error and log: {summary['log_file']})")


def not_passing(checks: list[dg.AssetCheckEvaluation]) -> list[str]:
    """A line per check that did not pass; the newest-day lag checks in one line, since they say
    one thing of every daily asset at once (a world replayed from history warns on all of them)."""
    failing = [c for c in checks if not c.passed]
    lines = sorted(f"{c.asset_key.to_user_string()}: {c.check_name}" for c in failing if c.check_name != LAG_CHECK_NAME)
    behind = [c for c in failing if c.check_name == LAG_CHECK_NAME]
    if behind:
        newest = sorted({_lag_day(c) for c in behind})
        lines.append(
            f"{LAG_CHECK_NAME} on {len(behind)} daily assets: newest day {', '.join(newest)}, behind now "
            "(a world replayed from history stays behind)"
        )
    return lines


def _lag_day(check: dg.AssetCheckEvaluation) -> str:
    """The day a lag check found newest, or "none": its ``as_of`` is that day's end ("never" without one)."""
    end = plain_value(check.metadata.get("as_of"))
    return "none" if end in (None, "never") else f"{datetime.fromisoformat(end).date() - timedelta(days=1)}"


def print_ml_summary(settings: Settings, last_day: date) -> None:
    tables = set(
        warehouse.query(
            settings.warehouse_path, "select table_name from information_schema.tables where table_schema = 'gold'"
        )["table_name"]
    )
    if "ar_collection_worklist" in tables:
        worklist = warehouse.query(
            settings.warehouse_path,
            "select call_order, invoice_id, customer_name, open_amount, days_past_due, "
            "round(probability_over_30_late, 2) as p_late_30, expected_payment_date, later_than_predicted as "
            "late_vs_model, round(prediction_confidence, 2) as confidence "
            "from gold.ar_collection_worklist where score_date = ? order by call_order limit 5",
            [last_day],
        )
        print(f"\nCollection worklist on {last_day} (top 5):\n{worklist.to_string(index=False)}")


def run_failures(run: dg.ExecuteInProcessResult) -> list[str]:
    """What failed in a run, a line each: its failed steps, or, when it failed before any step ran
    (a resource that would not start, such as an unreachable MLflow store), the run itself."""
    steps = [f"{e.step_key}: {root_cause(e.step_failure_data.error)}" for e in run.all_events if e.is_step_failure]
    if steps or run.success:
        return steps
    stops = (dg.DagsterEventType.RESOURCE_INIT_FAILURE, dg.DagsterEventType.RUN_FAILURE)
    errors = [getattr(e.event_specific_data, "error", None) for e in run.all_events if e.event_type in stops]
    return [f"{run.job_def.name}: {root_cause(next(filter(None, errors), None))}"]


def root_cause(error) -> str:
    """The first line of the innermost cause of Dagster's SerializableErrorInfo (or None): a step
    that exhausted its retries says "Exceeded max_retries", its cause says what went wrong."""
    if error is None:
        return "failed"
    while error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0]
