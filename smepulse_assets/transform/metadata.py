"""What a dbt asset's materialization says about itself: its rows (each day its own) and its columns.

dagster-dbt can fetch row counts and column schemas through an in-process dbt adapter, one
query per model; the platform asks the warehouse itself instead, in one query per table for the
window's rows by day and one query for every column of the build. A range run reports each
day's rows on that day's materialization: the range's totals are the run log's and the layer
summary's, never a day's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from smepulse_lib.windows import DayWindow

# Per-day metadata of a range costs Dagster O(days x assets) squared to accumulate in a step (it
# copies all of a step's partition metadata at each addition; figures: docs/benchmarks.md).
# A range longer than this reports each model's rows for the window in the run log instead, and
# its days carry no row count (no figure rather than a wrong one).
PER_DAY_METADATA_DAYS = 31

RowsByDay = dict[str | None, int]  # day -> rows; None: the whole table (no day column)


def _day_column(node: Mapping[str, Any]) -> str | None:
    meta = node.get("config", {}).get("meta") or node.get("meta") or {}
    return meta.get("partition_column") or meta.get("window_column")


def _counted(node: Mapping[str, Any], status: str) -> bool:
    # views write no rows, and counting one runs its query (the training view of the collection
    # model joins every invoice-day of the window); ephemeral models are no relation at all
    return (
        status == "success"
        and node.get("resource_type") in {"model", "seed"}
        and node.get("config", {}).get("materialized") not in {"view", "ephemeral"}
    )


def rows_by_day(
    warehouse: DuckDBResource, manifest: Mapping[str, Any], run_results: Mapping[str, Any], window: DayWindow | None
) -> dict[str, RowsByDay]:
    """Rows each successful table holds, by day of the window (its partition_column or
    window_column meta), or in all for a table without a day column or a build without a window."""
    counts: dict[str, RowsByDay] = {}
    with warehouse.get_connection() as con:
        for result in run_results["results"]:
            node = manifest["nodes"].get(result["unique_id"], {})
            if not _counted(node, result["status"]):
                continue
            relation, column = f'"{node["schema"]}"."{node["alias"]}"', _day_column(node)
            if window is not None and column:
                sql = (
                    f"select cast({column} as date)::varchar, count(*) from {relation} "
                    f"where {column} between ? and ? group by 1"
                )
                counts[node["name"]] = dict(con.execute(sql, [window.first, window.last]).fetchall())
            else:
                counts[node["name"]] = {None: con.execute(f"select count(*) from {relation}").fetchone()[0]}
    return counts


def window_totals(rows: dict[str, RowsByDay], window: DayWindow | None) -> dict[str, int]:
    """Each table's rows for the window (day-keyed tables; a build without a window: every table)."""
    return {name: sum(days.values()) for name, days in rows.items() if window is None or None not in days}


def rows_written(
    warehouse: DuckDBResource, manifest: Mapping[str, Any], run_results: Mapping[str, Any], window: DayWindow | None
) -> dict[str, int]:
    """Rows each successful day-keyed table holds for the window (what the layer summary counts)."""
    if window is None:
        return {}
    return window_totals(rows_by_day(warehouse, manifest, run_results, window), window)


def column_schemas(
    warehouse: DuckDBResource, manifest: Mapping[str, Any], unique_ids: list[str]
) -> dict[str, dg.TableSchema]:
    """Every column of the built relations, with the warehouse's types and the YAML's descriptions."""
    nodes = [manifest["nodes"][u] for u in unique_ids if u in manifest["nodes"]]
    if not nodes:
        return {}
    wanted = {(n["schema"], n["alias"]): n for n in nodes}
    with warehouse.get_connection() as con:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "order by table_schema, table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, list[dg.TableColumn]] = {}
    for schema, table, column, data_type in rows:
        node = wanted.get((schema, table))
        if node is None:
            continue
        documented = node.get("columns", {}).get(column, {})
        columns.setdefault(node["unique_id"], []).append(
            dg.TableColumn(name=column, type=data_type.lower(), description=documented.get("description") or None)
        )
    return {unique_id: dg.TableSchema(columns=cols) for unique_id, cols in columns.items()}


def output_metadata(
    context: dg.AssetExecutionContext,
    event: dg.Output,
    rows: RowsByDay | None,
    schema: dg.TableSchema | None,
    days: list[str] | None,
) -> dg.Output:
    """The model's own rows and columns on its materializations: on the output itself for a build
    without days or of one day; for a range, each day's rows on that day's event and the columns on
    the newest day's (the UI shows the newest materialization's schema, else the definition's).
    The columns go on a materialization only when they differ from the definition's (the data
    catalog's, docs job): repeated on every day, with the step output's copy, they were a sixth of
    what a day's daily run stored in the instance (docs/benchmarks.md)."""
    key = context.assets_def.keys_by_output_name[event.output_name]
    declared = context.assets_def.specs_by_key[key].metadata.get("dagster/column_schema")
    own: dict[str, Any] = {"dagster/column_schema": schema} if schema and not same_columns(schema, declared) else {}
    if not days or len(days) == 1:
        if rows is not None:
            own["dagster/row_count"] = sum(rows.values())
        return event.with_metadata({**event.metadata, **own})
    if rows is not None and None in rows:  # a table rebuilt whole: its size after the build
        own["dagster/row_count"] = rows[None]
    elif rows is not None and len(days) <= PER_DAY_METADATA_DAYS:
        for day in days[:-1]:
            context.add_asset_metadata({"dagster/row_count": rows.get(day, 0)}, asset_key=key, partition_key=day)
        own["dagster/row_count"] = rows.get(days[-1], 0)
    if own:
        context.add_asset_metadata(own, asset_key=key, partition_key=days[-1])
    return event


def same_columns(built: dg.TableSchema, declared: Any) -> bool:
    """Whether the built table's columns are the definition's: names, types (the catalog writes
    them in capitals, DuckDB's information schema as given) and descriptions, in order."""
    declared = getattr(declared, "schema", declared)  # a TableSchemaMetadataValue, or the schema itself
    if not isinstance(declared, dg.TableSchema):
        return False

    def columns(schema: dg.TableSchema) -> list[tuple]:
        return [(c.name, (c.type or "").lower(), c.description) for c in schema.columns]

    return columns(built) == columns(declared)
