"""Benchmark: full backfill, one new day after it, and definitions load time.

    python benchmarks/backfill.py [--days 520] [--invoices-per-day 100] [--customers 300] [--orders-per-day 30]

Generates every source's drops (Kaggle invoices and the SME world) in a temporary data directory, then measures (wall clock):
- definitions load (a fresh interpreter importing the code location),
- the full backfill of all days as one range run, bronze through gold,
- one new day materialized after it,
- the hourly freshness checks and one alert-sensor tick over all those runs,
and prints a table and a JSON line. Figures, not assertions: targets are judged
by reading them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

import dagster as dg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", type=date.fromisoformat, default=date(2019, 1, 1))
    parser.add_argument("--days", type=int, default=520)
    parser.add_argument("--invoices-per-day", type=float, default=100.0)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--orders-per-day", type=float, default=30.0)
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="smepulse-bench-")
    os.environ.update(SMEPULSE_DATA_DIR=data_dir, SMEPULSE_PARTITIONS_START="2018-01-01")
    from smepulse_assets import warehouse
    from smepulse_assets.definitions import build_defs
    from smepulse_assets.generator import GeneratorConfig, generate_sample_data, world_config
    from smepulse_assets.quality.alert_sensor import SENSOR_NAME
    from smepulse_assets.runs import evaluate_sensor, run_days, run_freshness_checks, run_reference
    from smepulse_assets.settings import Settings

    settings = Settings.from_env()
    settings.ensure_local_dirs()
    last = args.start + timedelta(days=args.days - 1)
    config = GeneratorConfig(start=args.start, end=last + timedelta(days=1), customers=args.customers,
                             invoices_per_day=args.invoices_per_day)
    figures: dict[str, float | int | str] = {
        "days": args.days, "invoices_per_day": args.invoices_per_day, "orders_per_day": args.orders_per_day
    }

    t = time.perf_counter()
    snapshot, world, _ = generate_sample_data(config, settings.landing_url, world_config(config, args.orders_per_day))
    figures["generate_s"] = round(time.perf_counter() - t, 2)
    figures["invoice_rows"] = len(snapshot.rows)
    figures["order_lines"] = len(world.order_lines)
    figures["payments"] = len(world.payments)
    figures["bank_lines"] = len(world.bank_lines)

    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import smepulse_assets.definitions"], check=True, env=os.environ)
    figures["definitions_load_s"] = round(time.perf_counter() - t, 2)

    defs = build_defs(settings)
    instance = dg.DagsterInstance.ephemeral()
    run_reference(defs, instance)
    t = time.perf_counter()
    backfill = run_days(defs, instance, args.start, last)
    figures["full_backfill_s"] = round(time.perf_counter() - t, 2)
    checks = backfill.get_asset_check_evaluations()
    figures["backfill_checks"] = len(checks)
    figures["backfill_checks_not_passing"] = ", ".join(sorted(c.check_name for c in checks if not c.passed)) or "none"

    t = time.perf_counter()
    run_days(defs, instance, last + timedelta(days=1), last + timedelta(days=1))
    figures["one_new_day_s"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    run_freshness_checks(defs, instance)
    figures["freshness_checks_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    evaluate_sensor(defs, instance, SENSOR_NAME)
    figures["alert_sensor_tick_s"] = round(time.perf_counter() - t, 2)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    counts = warehouse.row_counts(settings.warehouse_path)
    figures["fact_ar_invoices_rows"] = counts["gold.fact_ar_invoices"]
    figures["ftr_invoice_risk_rows"] = counts["silver.ftr_invoice_risk"]
    figures["fact_orders_rows"] = counts["gold.fact_orders"]
    figures["ftr_customer_behavior_rows"] = counts["silver.ftr_customer_behavior"]

    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
