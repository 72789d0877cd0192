"""Read-only looks into the DuckDB warehouse (summaries, tests, benchmarks)."""

from __future__ import annotations

import duckdb
import fsspec
import pandas as pd

LAYERS = ("silver", "gold", "ops")


def query(warehouse_path: str, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(warehouse_path, read_only=True) as con:
        # ops.alerts is a view over the lake: on an s3:// lake it reads through s3fs at
        # query time, with the same AWS_* settings as the platform (as profiles.yml does)
        con.register_filesystem(fsspec.filesystem("s3"))
        return con.execute(sql, params or []).df()


def row_counts(warehouse_path: str) -> dict[str, int]:
    """Rows of every table and view in the silver, gold and ops layers, layer by layer."""
    layers = ", ".join(f"'{layer}'" for layer in LAYERS)
    tables = query(
        warehouse_path,
        f"select table_schema, table_name from information_schema.tables where table_schema in ({layers}) "
        "order by array_position(?, table_schema), table_name",
        [list(LAYERS)],
    )
    union = " union all ".join(
        f"select '{schema}.{table}' as name, count(*) as n from {schema}.{table}"
        for schema, table in tables.itertuples(index=False)
    )
    return dict(query(warehouse_path, union).itertuples(index=False))
