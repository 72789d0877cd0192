"""What a warehouse's silver and gold tables hold, as one comparable figure per table.

A table's figure is its row count and the sum of its rows' hashes: independent of row order,
sensitive to every value (a float summed in another order hashes differently) and to repeated
rows. Columns that record when a run happened rather than what the data says are left out;
silver and gold have none (bronze's ``_ingested_at`` and the ``ops`` schema, a log of runs and
alerts, are not compared). ``_source_file`` is compared relative to the landing zone, so two
worlds in two folders compare.
"""

import duckdb

SCHEMAS = ("silver", "gold")
AUDIT_COLUMNS: dict[str, tuple[str, ...]] = {}  # table -> columns a run's time leaks into: none


def content_hashes(
    warehouse_path: str, landing_url: str, where: dict[str, str] | None = None
) -> dict[str, tuple[int, int]]:
    """{schema.table: (rows, hash)} for every table and view of silver and gold. ``where``: a
    filter per table (e.g. the live rows of a history that also records withdrawn ones)."""
    with duckdb.connect(warehouse_path, read_only=True) as con:
        lineage = {
            f"{schema}.{table}"
            for schema, table in con.execute(
                "select table_schema, table_name from information_schema.columns where column_name = '_source_file'"
            ).fetchall()
        }
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_schema in {SCHEMAS} order by 1"
        ).fetchall()
        hashes = {}
        for (table,) in tables:
            audit = AUDIT_COLUMNS.get(table, ())
            columns = f"* exclude ({', '.join(audit)})" if audit else "*"
            if table in lineage:
                columns += f" replace (replace(_source_file, '{landing_url}/', '') as _source_file)"
            condition = f"where {where[table]}" if where and table in where else ""
            rows, total = con.execute(
                f"select count(*), coalesce(sum(hash(t)), 0) from (select {columns} from {table} {condition}) as t"
            ).fetchone()
            hashes[table] = (rows, int(total))
        return hashes


def differing(left: dict[str, tuple[int, int]], right: dict[str, tuple[int, int]]) -> dict[str, tuple]:
    """The tables whose figures differ (or that only one side has), with both figures."""
    return {t: (left.get(t), right.get(t)) for t in sorted(set(left) | set(right)) if left.get(t) != right.get(t)}
