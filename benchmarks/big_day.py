"""Benchmark: one very large day of invoices, through the daily job to gold.

    .venv/bin/python benchmarks/big_day.py                          # 2,000,000 invoice rows in one day
    .venv/bin/python benchmarks/big_day.py --rows 500000

A month of an ordinary world (every source) is loaded first; then one day lands whose Kaggle
invoice file holds ``--rows`` new open invoices (the month's customers, amounts and terms drawn
from it), and the daily job runs that day in process, as the drop sensor's run would. Prints the
wall clock of the day's run and of its slowest steps, and the peak resident memory of this process
plus its children (dbt) at the same moment. Figures, not assertions: the targets (under 5 minutes,
under 4 GB on a 2-core machine) are judged by reading them (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import MemorySampler, step_seconds, step_spans

from smepulse_lib.settings import Settings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="invoice rows in the big day")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (path printed)")
    return parser.parse_args()


def big_invoice_file(history: Path, day: date, rows: int, seed: int = 7) -> pd.DataFrame:
    """``rows`` open invoices posted on ``day``, in the Kaggle format, drawn from the history's."""
    past = pd.concat(pd.read_csv(p, dtype=str, keep_default_na=False) for p in history.glob("*/*.csv"))
    rng = np.random.default_rng(seed)
    frame = past.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    ids = (2_100_000_000 + np.arange(rows)).astype(str)
    due = pd.to_datetime(day) + pd.to_timedelta(rng.choice([15, 30, 45, 60], size=rows), unit="D")
    frame["doc_id"] = frame["invoice_id"] = np.char.add(ids, ".0")
    frame["posting_date"] = f"{day}"
    frame["document_create_date"] = frame["document_create_date.1"] = f"{day:%Y%m%d}"
    frame["baseline_create_date"] = f"{day:%Y%m%d}.0"
    frame["due_in_date"] = due.strftime("%Y%m%d").to_numpy() + ".0"
    frame["clear_date"], frame["isOpen"] = "", "1"
    frame["buisness_year"] = f"{day.year}.0"
    return frame


def main() -> None:
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data_dir = Path(tempfile.mkdtemp(prefix="smepulse-bench-bigday-"))
    first, last = date(2020, 1, 1), date(2020, 1, 31)
    big = last + timedelta(days=1)
    os.environ.update({"SMEPULSE_DATA_DIR": str(data_dir / "data"), "SMEPULSE_PARTITIONS_START": f"{first}"})
    settings = Settings.from_env(dict(os.environ))
    settings.ensure_local_dirs()

    import dagster as dg

    from smepulse_assets.definitions import build_defs
    from smepulse_assets.tools.generator import GeneratorConfig, generate_sample_data, world_config
    from smepulse_assets.tools.runs import run_days, run_reference

    figures: dict[str, object] = {"rows": args.rows}
    config = GeneratorConfig(start=first, end=big, customers=300, invoices_per_day=100, seed=21)
    generate_sample_data(config, settings.landing_url, world_config(config, orders_per_day=30))
    invoices = Path(settings.landing_url) / "kaggle_invoices"
    shutil.rmtree(invoices / f"{big}")
    started = time.perf_counter()
    frame = big_invoice_file(invoices, big, args.rows)
    (invoices / f"{big}").mkdir()
    target = invoices / f"{big}" / f"invoices_{big}.csv"
    frame.to_csv(target, index=False)
    del frame
    figures["file_mb"] = round(target.stat().st_size / 2**20, 1)
    figures["file_written_s"] = round(time.perf_counter() - started, 1)

    defs = build_defs(settings)
    instance = dg.DagsterInstance.ephemeral()
    run_reference(defs, instance)
    run_days(defs, instance, first, last)

    memory = MemorySampler()
    memory.start()
    started = time.perf_counter()
    result = run_days(defs, instance, big, big, raise_on_error=False)
    figures["big_day_s"] = round(time.perf_counter() - started, 1)
    figures["success"] = result.success
    figures.update(memory.figures())
    steps = step_seconds(step_spans(instance, result.run_id))
    figures["slowest_steps"] = {k: round(v, 1) for k, v in sorted(steps.items(), key=lambda kv: -kv[1])[:5]}

    print(f"one day of {args.rows:,} invoice rows ({figures['file_mb']} MB of CSV) through the daily job:")
    print(f"  run: {figures['big_day_s']} s, success {figures['success']}")
    print(f"  peak memory (process + children): {figures['peak_rss_mb']} MB; slowest steps: {figures['slowest_steps']}")
    print(json.dumps(figures, default=str))
    if args.keep:
        print(f"data kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
