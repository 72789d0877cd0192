"""The ML output schema in the warehouse: what models write and gold reads as a dbt source.

Each output is a table in schema ``ml`` keyed by a day column; writing a range of
days replaces those days (delete, then insert, in one transaction), so a re-run
never duplicates and a day is never half written.
"""

from collections.abc import Callable
from datetime import date

import duckdb
import pandas as pd

SCHEMA = "ml"


def read(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """A query's rows; nullable integers become floats (NaN), which the models take as missing."""
    return as_model_frame(con.execute(sql, params or []).df())


def as_model_frame(frame: pd.DataFrame) -> pd.DataFrame:
    nullable = [
        c for c, t in frame.dtypes.items() if isinstance(t, pd.api.extensions.ExtensionDtype) and t.kind in "iuf"
    ]
    return frame.astype(dict.fromkeys(nullable, "float64"))


def replace_days(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, day_column: str, first: date, last: date
) -> int:
    """Replace the rows of days first..last in ``ml.<table>`` with ``frame``; return rows written."""
    con.register("incoming", frame)
    try:
        return replace_days_with(con, table, "select * from incoming", [], day_column, first, last)
    finally:
        con.unregister("incoming")


def replace_days_with(
    con: duckdb.DuckDBPyConnection, table: str, select: str, params: list, day_column: str, first: date, last: date
) -> int:
    """Replace the rows of days first..last in ``ml.<table>`` with the rows of a query (which never
    leave the database: scores for millions of invoice-days are joined in SQL, not in pandas).
    Rows dated outside the window raise, and the table is left as it was."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {SCHEMA}.{table} as select * from ({select}) limit 0", params)
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {SCHEMA}.{table} where {day_column} between ? and ?", [first, last])
        (inserted,) = con.execute(f"insert into {SCHEMA}.{table} by name select * from ({select})", params).fetchall()[
            0
        ]
        (written,) = con.execute(
            f"select count(*) from {SCHEMA}.{table} where {day_column} between ? and ?", [first, last]
        ).fetchall()[0]
        if inserted != written:
            raise ValueError(f"{inserted - written} rows of ml.{table} fall outside {first}..{last}")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return written


def write_days(
    con: duckdb.DuckDBPyConnection, table: str, columns: str, day_column: str, days: tuple[date, date], frames: list
) -> int:
    """Replace days first..last of ``ml.<table>`` with the rows of ``frames`` (one per day, some empty),
    stamped with ``predicted_at``; ``columns`` (the table's column list) makes the table on its first
    write with its types, not pandas', and clears the days when no frame has rows."""
    first, last = days
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {SCHEMA}.{table} ({columns})")
    written = [frame for frame in frames if len(frame)]
    if not written:
        return clear_days(con, table, columns, day_column, first, last)
    rows = pd.concat(written, ignore_index=True).assign(predicted_at=pd.Timestamp.now(tz="UTC").tz_localize(None))
    names = [line.strip().split()[0] for line in columns.split(",")]
    return replace_days(con, table, rows[names], day_column, first, last)


CHUNK_ROWS = 262_144  # rows a scoring step holds in memory at a time


def stage_in_chunks(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: list,
    transform: Callable[[pd.DataFrame], pd.DataFrame],
    temp_table: str,
) -> int:
    """Temp table ``temp_table`` := ``transform`` of the query's rows, chunk by chunk: the rows are
    read through a second cursor, so memory holds one chunk, never the whole window. Returns the
    rows staged; 0 if the query returned none (and then no table was made)."""
    reader = con.cursor().execute(sql, params)
    staged = 0
    try:
        while len(chunk := reader.fetch_df_chunk(CHUNK_ROWS // 2048)):
            con.register("chunk", transform(as_model_frame(chunk)))
            con.execute(
                f"insert into {temp_table} by name select * from chunk"
                if staged
                else f"create or replace temp table {temp_table} as select * from chunk"
            )
            con.unregister("chunk")
            staged += len(chunk)
    finally:
        reader.close()
    return staged


def clear_days(
    con: duckdb.DuckDBPyConnection, table: str, columns: str, day_column: str, first: date, last: date
) -> int:
    """A window with nothing to write: its earlier rows go (a re-run never leaves stale scores). The
    table is made with ``columns`` (a column list, as written when there are rows) if nothing was
    ever written, so gold, which reads it, builds from the first day on."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {SCHEMA}.{table} ({columns})")
    con.execute(f"delete from {SCHEMA}.{table} where {day_column} between ? and ?", [first, last])
    return 0
