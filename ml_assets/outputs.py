"""The ML output schema in the warehouse: what models write and gold reads as a dbt source.

Each output is a table in schema ``ml`` keyed by a day column; writing a range of
days replaces those days (delete, then insert, in one transaction), so a re-run
never duplicates and a day is never half written.
"""

from datetime import date

import duckdb
import pandas as pd

SCHEMA = "ml"


def read(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """A query's rows; nullable integers become floats (NaN), which the models take as missing."""
    frame = con.execute(sql, params or []).df()
    nullable = [c for c, t in frame.dtypes.items() if isinstance(t, pd.api.extensions.ExtensionDtype) and t.kind in "iuf"]
    return frame.astype({c: "float64" for c in nullable})


def replace_days(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, day_column: str, first: date, last: date
) -> int:
    """Replace the rows of days first..last in ``ml.<table>`` with ``frame``; return rows written."""
    outside = frame[(frame[day_column] < pd.Timestamp(first)) | (frame[day_column] > pd.Timestamp(last))]
    if len(outside):
        raise ValueError(f"{len(outside)} rows of ml.{table} fall outside {first}..{last}")
    con.execute(f"create schema if not exists {SCHEMA}")
    con.register("incoming", frame)
    try:
        con.execute(f"create table if not exists {SCHEMA}.{table} as select * from incoming limit 0")
        con.execute("begin transaction")
        try:
            con.execute(f"delete from {SCHEMA}.{table} where {day_column} between ? and ?", [first, last])
            con.execute(f"insert into {SCHEMA}.{table} by name select * from incoming")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.unregister("incoming")
    return len(frame)


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    sql = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(sql, [SCHEMA, table]).fetchone()[0] > 0
