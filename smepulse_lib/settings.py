"""Where SME Pulse keeps its data, resolved from the environment.

Everything lives under one data directory (``SMEPULSE_DATA_DIR``, default
``./data``) so a first run needs no setup; each location can be overridden on
its own, and the landing zone and lake accept ``s3://`` URLs (read through
s3fs, which takes credentials and endpoint from the standard ``AWS_*``
variables, never from files).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from smepulse_lib.ledger_thresholds import load_ledger_thresholds

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

# Instance behaviour the platform relies on, set in every process that creates runs (the code
# location, in-process runs, and `smepulse ui`, which passes it to the daemon and webserver).
# A run over a range of days (single-run backfill) records one "materialization planned" event
# per asset for the whole range instead of one per asset per day, so a long range starts much
# sooner (figures: docs/benchmarks.md, "Measurements behind the code"). Dagster's trade-off: when such a run
# fails, its days show as missing, not failed, in the partition view; the run itself shows failed
# and the alert sensor reports it.
# A range output's per-day events reach the event log as batches of up to 1,000, which the
# platform's storages (event_log_batching.py) write in a few statements instead of ~7 per event.
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
DAGSTER_INSTANCE_ENV = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1", EVENT_BATCH_SIZE_ENV: "1000"}


def apply_instance_env() -> None:
    for name, value in DAGSTER_INSTANCE_ENV.items():
        os.environ.setdefault(name, value)


@contextmanager
def environment_set(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in this process's environment for the block, then the previous values back (a
    variable that was unset is unset again)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The daily partitions start where the data starts: SMEPULSE_PARTITIONS_START when set, else the
# first day `smepulse generate`, `demo` or `replay` wrote to the landing zone (kept in this file
# under the data directory), else this day. A partition set that opened years before the data
# showed a UI of empty days and a backfill dialog whose default range held nothing.
PARTITIONS_START_FILE = "partitions_start"
DEFAULT_PARTITIONS_START = "2018-01-01"
CALENDAR_YEARS_BEFORE_DATA = 2


def _partitions_start(env: Mapping[str, str], data_dir: str) -> str:
    if env.get("SMEPULSE_PARTITIONS_START"):
        return env["SMEPULSE_PARTITIONS_START"]
    recorded = Path(data_dir) / PARTITIONS_START_FILE
    if recorded.exists():
        return recorded.read_text(encoding="utf-8").strip()
    return DEFAULT_PARTITIONS_START


def _is_url(location: str) -> bool:
    return "://" in location


def _flag(env: Mapping[str, str], name: str) -> bool:
    """An on/off setting: true/1/yes/on, false/0/no/off or unset; anything else is a mistake worth naming."""
    text = env.get(name, "").strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("", "false", "0", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {env[name]!r}")


def _absolute(location: str) -> str:
    """Local paths become absolute so dbt (which runs in its own directory) sees the same place."""
    return location if _is_url(location) else str(Path(location).expanduser().resolve())


@dataclass(frozen=True)
class Settings:
    data_dir: str
    landing_url: str
    lake_url: str
    warehouse_path: str
    mlflow_tracking_uri: str
    dagster_home: str
    instance_config: str  # the dagster.yaml copied into DAGSTER_HOME (SQLite files, or deploy/dagster.postgres.yaml)
    partitions_start: str  # first business day the daily partitions cover
    sources_dir: str | None  # YAML sources beyond the shipped ones (smepulse_assets/sources/)
    alert_webhook_url: str | None  # alerts are POSTed here when set
    ui_url: str  # base of the links alerts carry
    # DuckDB's own default is 80 % of the machine's memory per connection; a cap makes large
    # queries spill to disk instead, so dbt and the Python steps stay within a known budget
    duckdb_memory_limit: str
    # The serving copy's DuckDB file of views (local: BI tools open it); its Parquet is in the lake
    serving_path: str = ""
    partitions_start_fixed: bool = False  # SMEPULSE_PARTITIONS_START set: landed data does not move it
    # How long a dbt step waits for a warehouse another process holds (one outside the daemon's queue)
    warehouse_wait_seconds: float = 600.0
    # A deployment's own FX rates (CSV: rate_date, currency, reporting_currency, rate), over the shipped seed
    fx_rates_file: str | None = None
    # The cash position (ml/cash_position): the bank balance before the statement's first line, and
    # the balance below which a forecast week is a business alert (both VND)
    cash_opening_balance_vnd: float = 0.0
    cash_floor_vnd: float = 0.0
    # The business's own sales database (PostgreSQL URL), extracted by updated_at when set
    # (smepulse_assets/sales_db/); its schema, its business days' time zone, and how far each
    # day's extraction window reaches back for clock skew and late commits
    sales_db_url: str | None = None
    sales_db_schema: str = "public"
    sales_db_timezone: str = "Asia/Ho_Chi_Minh"
    sales_db_overlap_minutes: int = 60
    # The SME's own sales on account (orders of accounts with a credit line) as a receivables
    # ledger beside the delivered AR files. Off unless set: an AR export of the same business
    # may already hold these invoices, and counting them twice is worse than not at all.
    sales_as_receivables: bool = False
    # A business's own thresholds per ledger (invoice sizes, customer value), as the JSON dbt reads
    # (smepulse_lib/ledger_thresholds.py; SMEPULSE_LEDGER_THRESHOLDS_FILE): read and checked at start
    ledger_thresholds: str = "{}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = _absolute(env.get("SMEPULSE_DATA_DIR", "data"))
        return cls(
            data_dir=data_dir,
            landing_url=_absolute(env.get("SMEPULSE_LANDING_URL", f"{data_dir}/landing")).rstrip("/"),
            lake_url=_absolute(env.get("SMEPULSE_LAKE_URL", f"{data_dir}/lake")).rstrip("/"),
            warehouse_path=_absolute(env.get("SMEPULSE_WAREHOUSE_PATH", f"{data_dir}/warehouse.duckdb")),
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI", f"sqlite:///{data_dir}/mlflow.db"),
            dagster_home=_absolute(env.get("DAGSTER_HOME", f"{data_dir}/dagster_home")),
            instance_config=str(REPO_ROOT / env["SMEPULSE_INSTANCE_CONFIG"])
            if env.get("SMEPULSE_INSTANCE_CONFIG")
            else str(REPO_ROOT / "dagster.yaml"),
            partitions_start=_partitions_start(env, data_dir),
            sources_dir=_absolute(env["SMEPULSE_SOURCES_DIR"]) if env.get("SMEPULSE_SOURCES_DIR") else None,
            alert_webhook_url=env.get("SMEPULSE_ALERT_WEBHOOK_URL") or None,
            ui_url=env.get("SMEPULSE_UI_URL", "http://localhost:3000"),
            duckdb_memory_limit=env.get("SMEPULSE_DUCKDB_MEMORY_LIMIT", "2GB"),
            serving_path=_absolute(env.get("SMEPULSE_SERVING_PATH", f"{data_dir}/serving/serving.duckdb")),
            partitions_start_fixed=bool(env.get("SMEPULSE_PARTITIONS_START")),
            warehouse_wait_seconds=float(env.get("SMEPULSE_WAREHOUSE_WAIT_SECONDS", "600")),
            fx_rates_file=_absolute(env["SMEPULSE_FX_RATES_FILE"]) if env.get("SMEPULSE_FX_RATES_FILE") else None,
            cash_opening_balance_vnd=float(env.get("SMEPULSE_CASH_OPENING_BALANCE_VND", "0")),
            cash_floor_vnd=float(env.get("SMEPULSE_CASH_FLOOR_VND", "0")),
            sales_db_url=env.get("SMEPULSE_SALES_DB_URL") or None,
            sales_db_schema=env.get("SMEPULSE_SALES_DB_SCHEMA", "public"),
            sales_db_timezone=env.get("SMEPULSE_SALES_DB_TIMEZONE", "Asia/Ho_Chi_Minh"),
            sales_db_overlap_minutes=int(env.get("SMEPULSE_SALES_DB_OVERLAP_MINUTES", "60")),
            sales_as_receivables=_flag(env, "SMEPULSE_SALES_AS_RECEIVABLES"),
            ledger_thresholds=load_ledger_thresholds(env["SMEPULSE_LEDGER_THRESHOLDS_FILE"])
            if env.get("SMEPULSE_LEDGER_THRESHOLDS_FILE")
            else "{}",
        )

    @property
    def calendar_start(self) -> date:
        """First day of the calendar (date dimension, dates bronze accepts): January 1st,
        CALENDAR_YEARS_BEFORE_DATA years before the first partition day. It follows the data, so a
        ledger of 2012 is covered as well as one of 2026; the years before the first day hold
        invoices posted before the first delivery (a ledger's opening items)."""
        return date(date.fromisoformat(self.partitions_start).year - CALENDAR_YEARS_BEFORE_DATA, 1, 1)

    def dbt_env(self) -> dict[str, str]:
        """The variables profiles.yml and sources.yml read; dbt runs as a subprocess of this env."""
        return {
            "SMEPULSE_WAREHOUSE_PATH": self.warehouse_path,
            "SMEPULSE_LAKE_URL": self.lake_url,
            "SMEPULSE_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "SMEPULSE_SALES_AS_RECEIVABLES": "true" if self.sales_as_receivables else "false",
            "SMEPULSE_LEDGER_THRESHOLDS": self.ledger_thresholds,
            **self.reference_env(),
        }

    def reference_env(self) -> dict[str, str]:
        """The calendar and FX file dbt uses; a step that checks rows against the same reference data
        (bronze) puts them in its environment too, so both judge alike."""
        return {"SMEPULSE_CALENDAR_START": f"{self.calendar_start}", "SMEPULSE_FX_RATES_FILE": self.fx_rates_file or ""}

    def record_data_start(self, first_day: date) -> Settings:
        """Remember that landed data starts on ``first_day`` (the earliest day recorded wins) and
        return the settings with the partitions starting there, unless the environment fixes it."""
        recorded = Path(self.data_dir) / PARTITIONS_START_FILE
        earliest = min([first_day, *([date.fromisoformat(recorded.read_text().strip())] if recorded.exists() else [])])
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_text(f"{earliest}\n", encoding="utf-8")
        if self.partitions_start_fixed:
            return self
        return replace(self, partitions_start=f"{earliest}")

    def ensure_local_dirs(self) -> None:
        """Create the local folders the defaults point at (URLs are left to their store)."""
        for location in (self.data_dir, self.landing_url, self.lake_url):
            if not _is_url(location):
                Path(location).mkdir(parents=True, exist_ok=True)
        Path(self.warehouse_path).parent.mkdir(parents=True, exist_ok=True)
        Path(self.serving_path).parent.mkdir(parents=True, exist_ok=True)
