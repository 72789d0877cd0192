"""Benchmark: one business day extracted from a sales database the size of the 5M-invoice world.

    .venv/bin/python benchmarks/sales_db.py                       # 520 days x 9,620 invoices a day (~5M)
    .venv/bin/python benchmarks/sales_db.py --invoices-per-day 100   # the 50k world

Starts a PostgreSQL server (as the tests do), fills the contract's tables with SQL
(``generate_series``: invoices with 1-4 lines, most paid by a payment allocated to them,
updated on the day they were paid), indexes ``updated_at`` as the contract asks, and then
measures, wall clock:
- the extraction of each table for the last day, by dlt's SQL source (median of 3);
- the history's backfill (``sales_db_job`` over every day but the last, one range run, in process,
  into a fresh data directory), then the nightly run of the last day on top of it: each with its
  bronze step (check of the tables, extraction a month at a time, Parquet per day) and its dbt
  step (silver histories rebuilt whole, gold receivables for the run's days and the day before),
  from the runs' step timings; the peak resident memory of this process and of dbt's.
Prints a table and a JSON line. Figures, not assertions (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smepulse_assets.sales_db.extract import DayWindows, extract
from smepulse_assets.sales_db.tables import TABLES
from smepulse_assets.tools.postgres_server import postgres_server
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib.names import SALES_DB_JOB
from tests.conftest import Platform, make_settings

ZONE = "Asia/Ho_Chi_Minh"

# Invoice i is posted on day i / per_day at 08:00-18:00 local; 90 % are paid 0-60 days after
# their due date by a payment of their own, allocated at once; those are updated on that day.
FILL = """
insert into customers
select 'KH' || c, 'Customer ' || c, 'wholesale', 30, 200000000, timestamptz '{start}', null
from generate_series(1, %(customers)s) as c;

insert into invoices
select id, 'KH' || (1 + i %% %(customers)s), posted::date, posted::date + 30, 'VND', 1000000 + (i %% 997) * 10000,
       case when paid_at < timestamptz '{end}' then 'paid' else 'open' end,
       case when paid_at < timestamptz '{end}' then paid_at else posted end, null
from (
    select i, 'HD' || i as id,
           timestamptz '{start}' + (i / %(per_day)s) * interval '1 day' + interval '8 hours'
               + (i %% 600) * interval '1 minute' as posted,
           case when i %% 10 <> 0 then timestamptz '{start}' + (i / %(per_day)s + 30 + i %% 61) * interval '1 day'
               + interval '10 hours' end as paid_at
    from generate_series(0, %(invoices)s - 1) as i
) as s;

insert into invoice_lines
select invoice_id, n, 'SKU' || (n * 7 %% 40), n, total_vnd / lines, 0, total_vnd / lines,
       invoice_date + interval '8 hours', null
from (select *, 1 + abs(hashtext(invoice_id)) %% 4 as lines from invoices) as i, lateral generate_series(1, lines) as n;

insert into payments
select 'PT' || substr(invoice_id, 3), customer_id, updated_at::date, 'bank_transfer', total_vnd, 0, updated_at, null
from invoices where status = 'paid';

insert into payment_allocations
select 'PT' || substr(invoice_id, 3) || '-1', 'PT' || substr(invoice_id, 3), invoice_id, updated_at::date, total_vnd,
       updated_at, null
from invoices where status = 'paid';
"""


def fill(url: str, start: date, days: int, per_day: int, customers: int) -> dict[str, int]:
    """The tables filled by SQL, then indexed on updated_at (after the load: faster than during it)."""
    end = start + timedelta(days=days)
    with psycopg2.connect(url) as con, con.cursor() as cur:
        for table in TABLES:
            cur.execute(table.create_statement().split(";\n")[0])
        sql = FILL.format(start=f"{start} 00:00+07", end=f"{end} 00:00+07")
        cur.execute(sql, {"customers": customers, "per_day": per_day, "invoices": per_day * days})
        counts = {}
        for table in TABLES:
            cur.execute(f"create index {table.name}_updated_at on {table.name} (updated_at)")
            cur.execute(f"analyze {table.name}")
            cur.execute(f"select count(*) from {table.name}")
            counts[table.name] = cur.fetchone()[0]
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=520)
    parser.add_argument("--invoices-per-day", type=int, default=9620)
    parser.add_argument("--customers", type=int, default=20000)
    args = parser.parse_args()
    start = date(2019, 1, 1)
    last = start + timedelta(days=args.days - 1)
    figures: dict[str, object] = {}
    with postgres_server("sales") as pg:
        url = f"postgresql://{pg['DAGSTER_PG_USER']}@{pg['DAGSTER_PG_HOST']}:{pg['DAGSTER_PG_PORT']}/sales"
        began = time.perf_counter()
        figures["rows"] = fill(url, start, args.days, args.invoices_per_day, args.customers)
        figures["fill_s"] = round(time.perf_counter() - began, 1)
        windows = DayWindows([last], ZONE, timedelta(minutes=60))
        for table in TABLES:
            timings, rows = [], 0
            for _ in range(3):
                began = time.perf_counter()
                rows = extract(url, table, "public", *windows.span).num_rows
                timings.append(time.perf_counter() - began)
            figures[f"extract_{table.name}_s"] = round(statistics.median(timings), 3)
            figures[f"extract_{table.name}_rows"] = rows
        with tempfile.TemporaryDirectory() as tmp:
            settings = make_settings(Path(tmp), SMEPULSE_SALES_DB_URL=url, SMEPULSE_PARTITIONS_START=f"{start}")
            platform = Platform(settings)
            run_reference(platform.defs, platform.instance)
            for name, first in (("backfill", start), ("nightly", last)):
                began = time.perf_counter()
                until = last - timedelta(days=1) if name == "backfill" else last
                result = run_days(platform.defs, platform.instance, first, until, job_name=SALES_DB_JOB)
                figures[f"{name}_run_s"] = round(time.perf_counter() - began, 1)
                for step in platform.instance.get_run_step_stats(result.run_id):
                    figures[f"{name}_{step.step_key}_s"] = round(step.end_time - step.start_time, 1)
            figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            figures["peak_rss_dbt_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(f"sales database: {args.days} days x {args.invoices_per_day} invoices/day, last day {last}")
    for name, value in figures.items():
        print(f"  {name:40} {value}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
