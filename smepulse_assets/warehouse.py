"""Read-only looks into the DuckDB warehouse (summaries, tests, benchmarks)."""

from __future__ import annotations

import duckdb
import fsspec
import pandas as pd

LAYER_TABLES = {
    "silver": ["stg_ar_invoice_history", "stg_ar_invoices", "ftr_invoice_risk", "ftr_ar_customer_payment"],
    "gold": ["dim_date", "dim_ar_customer", "fact_ar_invoices", "kpi_ar_dso_analysis", "kpi_ar_aging"],
    "ops": ["ops_quarantine", "alerts"],
}


def query(warehouse_path: str, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(warehouse_path, read_only=True) as con:
        # ops.alerts is a view over the lake: on an s3:// lake it reads through s3fs at
        # query time, with the same AWS_* settings as the platform (as profiles.yml does)
        con.register_filesystem(fsspec.filesystem("s3"))
        return con.execute(sql, params or []).df()


def row_counts(warehouse_path: str) -> dict[str, int]:
    union = " union all ".join(
        f"select '{schema}.{table}' as name, count(*) as n from {schema}.{table}"
        for schema, tables in LAYER_TABLES.items()
        for table in tables
    )
    return dict(query(warehouse_path, union).itertuples(index=False))
