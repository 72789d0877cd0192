"""Benchmark: the Excel AR pack, written and read back as its check reads it.

    .venv/bin/python benchmarks/excel_pack.py                      # the last day of ./data (after make demo)
    .venv/bin/python benchmarks/excel_pack.py --data-dir /path/to/data
    .venv/bin/python benchmarks/excel_pack.py --rows 500000        # an open-invoice sheet of that many rows

With a data directory: the pack of its newest published day from its serving copy (what
`reports/ar_pack_xlsx` does), its sheets' rows, the write and the check's read-back. With
``--rows``: one table of the open-invoice sheet's columns and types, generated, so the pack of a
ledger far larger than the sample can be measured without building that ledger. Prints the wall
clock and this process's peak resident memory; figures, not assertions (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from smepulse_assets.reports import verify, workbook
from smepulse_assets.reports.figures import Figures, published_days, serving_reader
from smepulse_lib.settings import Settings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="data", help="a data directory with a serving copy (default ./data)")
    parser.add_argument("--rows", type=int, help="measure a generated open-invoice sheet of this many rows instead")
    return parser.parse_args()


def open_invoices(rows: int) -> pd.DataFrame:
    """The columns and types of `Figures.open_invoices()`, with 20,000 customers."""
    rng = np.random.default_rng(0)
    invoice_date = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 500, rows), unit="D")
    return pd.DataFrame(
        {
            "doc_id": [f"{1_900_000_000 + i}" for i in range(rows)],
            "customer_number": [f"{200_000 + i % 20_000}" for i in range(rows)],
            "customer_name": [f"Customer {i % 20_000} Co., Ltd" for i in range(rows)],
            "invoice_date": invoice_date.date,
            "due_date": (invoice_date + pd.Timedelta(days=30)).date,
            "currency": "USD",
            "amount": (rng.random(rows) * 1e5).round(2),
            "open_amount": (rng.random(rows) * 1e5).round(2),
            "days_past_due": rng.integers(-30, 200, rows),
            "aging_bucket": "0-30",
        }
    )


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def generated(rows: int) -> None:
    frame = open_invoices(rows)
    started = time.perf_counter()
    data = workbook.table_workbook(frame, workbook.OPEN_ITEMS)
    written = time.perf_counter()
    back = workbook.read_table(data, workbook.OPEN_ITEMS)
    read = time.perf_counter()
    assert len(back) == rows, f"read back {len(back)} rows of {rows}"
    print(f"open-invoice sheet of {rows:,} rows: write {written - started:.1f} s, read back {read - written:.1f} s")
    print(f"file {len(data) / 1e6:.1f} MB, peak memory {peak_gb():.2f} GB")


def from_data_dir(data_dir: str) -> None:
    settings = Settings.from_env({"SMEPULSE_DATA_DIR": str(Path(data_dir).resolve())})
    with serving_reader(settings.serving_path, settings.lake_url) as con:
        figures = Figures(con, published_days(con)[0])
        started = time.perf_counter()
        data = workbook.ar_pack(figures)
        written = time.perf_counter()
        mismatches = verify.pack_mismatches(data, figures)
        checked = time.perf_counter()
        open_rows, worklist_rows = len(figures.open_invoices()), len(figures.worklist())
    print(f"AR pack of {figures.day}: {open_rows:,} open invoices, {worklist_rows:,} worklist rows")
    print(f"write {written - started:.1f} s, check (read back, compare with gold) {checked - written:.1f} s")
    print(f"file {len(data) / 1e6:.2f} MB, peak memory {peak_gb():.2f} GB, mismatches {mismatches or 'none'}")


if __name__ == "__main__":
    args = parse_args()
    generated(args.rows) if args.rows else from_data_dir(args.data_dir)
