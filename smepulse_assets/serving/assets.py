"""The serving copy as an asset: published after the gold marts and the score tables of each daily
and ML run, checked against the warehouse it copies."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import fsspec

from smepulse_assets.serving import instance_status
from smepulse_assets.serving.publish import (
    Published,
    PublishStamp,
    publish_frame,
    publish_table,
    published_counts,
    write_views_file,
)
from smepulse_assets.serving.tables import ServedTable, served_tables
from smepulse_lib import storage
from smepulse_lib.conventions import WAREHOUSE_POOL, daily_asset_args
from smepulse_lib.names import DAY_COLUMN_TAG, SERVING_DAYS_TAG
from smepulse_lib.resources import PlatformPaths, WarehouseResource
from smepulse_lib.windows import DayWindow

GROUP = "serving"
ROW_COUNT_CHECK = "row_counts_match_warehouse"
SERVING_FOLDER = "serving"  # under the lake


class ServingConfig(dg.Config):
    republish_all_days: bool = False
    """Rewrite every day of the tables published by day, not only the run's days: after a table was
    rebuilt outside the daily runs (a full refresh), or to fill a serving copy started late."""


@dataclass(frozen=True)
class ServingPart:
    """One serving asset: the warehouse models it publishes (its dependencies) and what it is."""

    name: str
    copies: list[dg.AssetSpec]
    description: str

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey([GROUP, self.name])


def build_serving_assets(
    partitions_def: dg.PartitionsDefinition, parts: list[ServingPart], watched: Callable[[], list]
) -> list[dg.AssetsDefinition]:
    """One asset per part, each run by the job that builds its models: the daily run publishes what it
    wrote and the ML run the scores, so neither copies what the other wrote. Each writes the views file
    over every part's tables. ``watched`` gives the asset and check definitions whose status (last
    materialization, latest check result) they publish beside them."""
    specs = [s for part in parts for s in part.copies]
    day_columns = {".".join(s.key.path): s.tags[DAY_COLUMN_TAG] for s in specs if DAY_COLUMN_TAG in s.tags}
    retain = {".".join(s.key.path): int(s.tags[SERVING_DAYS_TAG]) for s in specs if SERVING_DAYS_TAG in s.tags}
    return [_serving_asset(part, partitions_def, day_columns, retain, watched) for part in parts]


def _serving_asset(
    part: ServingPart,
    partitions_def: dg.PartitionsDefinition,
    day_columns: dict[str, str],
    retain: dict[str, int],
    watched: Callable,
) -> dg.AssetsDefinition:
    deps: list[dg.AssetKey] = sorted((s.key for s in part.copies), key=dg.AssetKey.to_user_string)
    own = {".".join(key.path) for key in deps}

    description = (
        f"{part.description} Part of the serving copy: Parquet under <lake>/serving and a DuckDB file of views "
        "(SMEPULSE_SERVING_PATH) that dashboards, BI tools and the report packs read while runs write the "
        "warehouse; also the latest result of every check and each asset's last materialization."
    )

    @dg.asset(
        key=part.key,
        deps=deps,
        **daily_asset_args(partitions_def, GROUP, description),
        pool=WAREHOUSE_POOL,  # reads the warehouse: it waits for the run writing it
        check_specs=[
            dg.AssetCheckSpec(
                ROW_COUNT_CHECK,
                asset=part.key,
                description="Every table it published holds as many rows as the warehouse: for each day the run "
                "published (tables published by day) or in all (tables published whole). Counted from the "
                "Parquet files' footers after they were written.",
            )
        ],
    )
    def serving_copy(
        context: dg.AssetExecutionContext, config: ServingConfig, warehouse: WarehouseResource, paths: PlatformPaths
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        window = DayWindow.of(context.partition_time_window)
        root = paths.lake(SERVING_FOLDER)
        with warehouse.get_connection() as con:
            _reads_the_lake(con, paths.lake_url)
            everything = served_tables(con, day_columns, retain)  # the views file's tables
            tables = [t for t in everything if t.relation in own and not t.live]  # a live view has no copy
            published = [publish_table(con, t, root, None if config.republish_all_days else window) for t in tables]
            schemas = {t.relation: _columns(con, t.relation) for t in everything}
            mismatches = _count_mismatches(con, root, tables, window)
        status_of = instance_status.Watched.of(watched())
        for table, frame, columns in (
            (instance_status.CHECK_RESULTS, instance_status.check_results(context.instance, status_of),
             instance_status.CHECK_COLUMNS),
            (instance_status.ASSET_STATUS, instance_status.asset_status(context.instance, status_of),
             instance_status.STATUS_COLUMNS),
        ):  # fmt: skip
            published.append(publish_frame(root, table, frame))
            schemas[table.relation] = columns
        all_tables = [*everything, instance_status.CHECK_RESULTS, instance_status.ASSET_STATUS]
        stamp = PublishStamp(datetime.now(UTC), window, context.run_id)
        write_views_file(paths.serving_path, root, all_tables, schemas, stamp)
        return dg.MaterializeResult(
            metadata=_metadata(published, paths, root, window, time.perf_counter() - started),
            check_results=[_row_count_check(mismatches, tables, window)],
        )

    return serving_copy


def _reads_the_lake(con: duckdb.DuckDBPyConnection, lake_url: str) -> None:
    """ops.alerts is a view over the lake's alert log: on S3 it reads through s3fs (AWS_* settings)."""
    if not storage.is_local(lake_url):
        con.register_filesystem(fsspec.filesystem("s3"))


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"describe {relation}").fetchall()]


def _count_mismatches(
    con: duckdb.DuckDBPyConnection, root: str, tables: list[ServedTable], window: DayWindow
) -> list[dict]:
    """Where the published files and the warehouse disagree: relation, day (None: whole), both counts."""
    mismatches = []
    for table in tables:
        published = published_counts(root, table, window)
        for day, rows in _warehouse_counts(con, table, window).items():
            if published.get(day, 0) != rows:
                mismatches.append(
                    {"relation": table.relation, "day": day, "warehouse": rows, "published": published.get(day, 0)}
                )
    return mismatches


def _warehouse_counts(con: duckdb.DuckDBPyConnection, table: ServedTable, window: DayWindow) -> dict[date | None, int]:
    if not table.by_day:
        return {None: con.execute(f"select count(*) from {table.relation}").fetchall()[0][0]}
    counted = dict(
        con.execute(
            f"select {table.day_of_row()} as day, count(*) from {table.relation} "
            f"where {table.day_of_row()} between ? and ? group by all",
            [window.first, window.last],
        ).fetchall()
    )
    return {day: counted.get(day, 0) for day in table.kept(window).days}


def _row_count_check(mismatches: list[dict], tables: list[ServedTable], window: DayWindow) -> dg.AssetCheckResult:
    shown = "; ".join(
        f"{m['relation']}{'' if m['day'] is None else ' on ' + str(m['day'])}: "
        f"{m['published']} published, {m['warehouse']} in the warehouse"
        for m in mismatches[:10]
    )
    return dg.AssetCheckResult(
        check_name=ROW_COUNT_CHECK,
        passed=not mismatches,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(mismatches)} table-days differ: {shown}" if mismatches else None,
        metadata={
            "tables_compared": len(tables),
            "days_compared": window.label(),
            "mismatches": len(mismatches),
        },
    )


def _metadata(published: list[Published], paths: PlatformPaths, root: str, window: DayWindow, seconds: float) -> dict:
    lines = ["| table | published | rows written | files |", "|---|---|---|---|"]
    lines += [f"| {p.relation} | {'by day' if p.by_day else 'whole'} | {p.rows:,} | {p.files} |" for p in published]
    return {
        "serving_file": dg.MetadataValue.path(paths.serving_path),
        "parquet_root": dg.MetadataValue.path(root),
        "days_published": window.label(),
        "tables": len(published),
        "rows_written": sum(p.rows for p in published),
        "files_written": sum(p.files for p in published),
        "seconds": round(seconds, 2),
        "published": dg.MetadataValue.md("\n".join(lines)),
    }
