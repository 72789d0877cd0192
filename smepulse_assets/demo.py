"""`smepulse demo`: sample data for a range of days, materialized bronze to gold, and a summary."""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow.dataset as ds

from . import storage, warehouse
from .generator import GeneratorConfig, generate_invoice_drops
from .runs import run_days, run_reference
from .settings import REPO_ROOT, Settings


def prepare_dagster_home(settings: Settings) -> None:
    """The instance lives under the data directory and uses the repository's dagster.yaml."""
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")


def bronze_rows(settings: Settings, table: str) -> int:
    fs, path = storage.filesystem(storage.join(settings.lake_url, "bronze", table))
    return ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive").count_rows() if fs.exists(path) else 0


def run_demo(settings: Settings, config: GeneratorConfig) -> dict:
    from .definitions import build_defs

    settings.ensure_local_dirs()
    prepare_dagster_home(settings)
    started = time.perf_counter()
    snapshot, files = generate_invoice_drops(config, settings.landing_url)
    print(f"Generated {len(snapshot.rows)} invoices in {len(files)} daily drops under {settings.landing_url}")
    defs = build_defs(settings)
    with dg.DagsterInstance.get() as instance:
        run_reference(defs, instance)
        result = run_days(defs, instance, config.start, config.end)
    checks = result.get_asset_check_evaluations()
    summary = {
        "seconds": round(time.perf_counter() - started, 1),
        "bronze": {t: bronze_rows(settings, t) for t in ("kaggle_invoices_raw", "kaggle_invoices_quarantine")},
        "warehouse": warehouse.row_counts(settings.warehouse_path),
        "checks": {
            "passed": sum(c.passed for c in checks),
            "warned": sum(not c.passed and c.severity == dg.AssetCheckSeverity.WARN for c in checks),
            "failed": sum(not c.passed and c.severity == dg.AssetCheckSeverity.ERROR for c in checks),
            "not passing": sorted(f"{c.asset_key.to_user_string()}: {c.check_name}" for c in checks if not c.passed),
        },
    }
    print_summary(settings, config.end, summary)
    return summary


def print_summary(settings: Settings, last_day: date, summary: dict) -> None:
    print(f"\nMaterialized {summary['seconds']} s. Rows per layer:")
    for name, rows in summary["bronze"].items():
        print(f"  bronze.{name:<28} {rows:>9}")
    for name, rows in summary["warehouse"].items():
        print(f"  {name:<35} {rows:>9}")
    dso = warehouse.query(
        settings.warehouse_path,
        "select open_invoices, open_amount, overdue_invoices, dso_days from gold.kpi_ar_dso_analysis where as_of_date = ?",
        [last_day],
    )
    aging = warehouse.query(
        settings.warehouse_path,
        "select aging_bucket, invoice_count, open_amount, round(amount_share * 100, 1) as pct "
        "from gold.kpi_ar_aging where as_of_date = ? order by bucket_order",
        [last_day],
    )
    checks = summary["checks"]
    print(f"\nChecks: {checks['passed']} passed, {checks['warned']} warned, {checks['failed']} failed")
    for name in checks["not passing"]:
        print(f"  not passing: {name}")
    print(f"\nAR on {last_day}:\n{dso.to_string(index=False)}\n\nAging on {last_day}:\n{aging.to_string(index=False)}")
    print(f"\nWarehouse: {settings.warehouse_path}")
    print(f"Open the UI: smepulse ui   (then http://127.0.0.1:3000; DAGSTER_HOME={settings.dagster_home})")
