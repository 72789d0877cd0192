"""Bronze, built from a source's YAML: each day's drop, typed and contract-checked, as Parquet.

Partition D of ``bronze/<source>_raw`` holds every row delivered in
``<landing>/<source>/<landing pattern for D>``; rows that break the contract or
a reject rule go to partition D of ``bronze/<source>_quarantine`` with the rule
and the reason. Re-materializing a day rewrites both files whole, so it replaces,
never duplicates. All files of a run are parsed before anything is written: an
unreadable file fails the run and leaves every partition as it was.

A load record per day (files, rows read/loaded/quarantined) is written beside
the data; the source's checks (its YAML's quality section) then judge what is stored, and a
failing reject rule stops the run before silver.
"""

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from smepulse_assets.ingestion.delivery import APPEND, content_digest, loaded_before, refuse_rewritten
from smepulse_assets.ingestion.landing import Entry, loaded_and_skipped, source_entries
from smepulse_assets.ingestion.parse import DropFileError, check_drop_file, parse_drop_files
from smepulse_assets.ingestion.spec import QUARANTINE_SCHEMA, SourceSpec
from smepulse_assets.quality import source_checks
from smepulse_assets.quality.layer_summary import LayerSummary
from smepulse_assets.quality.row_rules import validate_row_rules
from smepulse_lib import storage
from smepulse_lib.conventions import DAILY_FRESHNESS, OWNER, TRANSIENT_RETRY
from smepulse_lib.resources import PlatformPaths
from smepulse_lib.windows import DayWindow


@dataclass
class DayLoad:
    day: date
    files: list[str]
    rows: pa.Table  # bronze schema
    quarantined: pa.Table  # quarantine schema
    rows_read: int
    skipped: list[Entry] = field(default_factory=list)  # files in the day's folder not loaded, with the rule
    digests: list[str] = field(default_factory=list)  # of each loaded file's content, in the order of files

    def counts(self) -> "DayCounts":
        return DayCounts(
            self.day, self.files, self.rows_read, self.rows.num_rows, self.quarantined.num_rows, self.skipped
        )


@dataclass(frozen=True)
class DayCounts:
    day: date
    files: list[str]
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    skipped: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class DayFiles:
    """A day's folder: the files the source loads and those it skips."""

    loaded: list[str]
    skipped: list[Entry]


# A window's files are parsed together up to this many bytes of CSV, then written, then the next
# batch: a year of small daily files is one pass, and a huge window never sits in memory whole.
BATCH_BYTES = 64 * 2**20
# Days are written from this many threads: encoding and writing a file release the GIL, and a
# 520-day window is ~1,560 small files per source.
WRITE_THREADS = os.cpu_count() or 1


def partition_url(lake_url: str, table: str, day: date) -> str:
    """Hive-style folder per day, so DuckDB prunes days by ``partition_date``."""
    return storage.join(lake_url, "bronze", table, f"partition_date={day:%Y-%m-%d}", "part.parquet")


def day_files(spec: SourceSpec, landing_url: str, day: date) -> DayFiles:
    return DayFiles(*loaded_and_skipped(source_entries(spec, landing_url, day)))


def read_days(spec: SourceSpec, days: list[date], files: dict[date, DayFiles], ingested_at: datetime) -> list[DayLoad]:
    """Parse the days' files together, then split rows and quarantine back into their days."""
    day_of = {url: day for day in days for url in files[day].loaded}
    digests: dict[str, str] = {}
    parsed = parse_drop_files(spec, _read_and_digest(day_of, digests), day_of)
    rows = _table(parsed.rows, spec.bronze_schema, ingested_at)
    quarantined = _table(parsed.quarantined.assign(source=spec.name), QUARANTINE_SCHEMA, ingested_at)
    row_days = _indices_by_day(parsed.rows, day_of)
    quarantine_days = _indices_by_day(parsed.quarantined, day_of)
    return [
        DayLoad(
            day=day,
            files=files[day].loaded,
            rows=rows if len(days) == 1 else rows.take(pa.array(row_days.get(day, []), type=pa.int64())),
            quarantined=quarantined.take(pa.array(quarantine_days.get(day, []), type=pa.int64())),
            rows_read=sum(parsed.rows_read_by_file[url] for url in files[day].loaded),
            skipped=files[day].skipped,
            digests=[digests[url] for url in files[day].loaded],
        )
        for day in days
    ]


def _read_and_digest(urls, digests: dict[str, str]):
    """Each file's bytes, one at a time (each let go once parsed), noting its content's digest."""
    for url in urls:
        data = delivered_bytes(url)
        digests[url] = content_digest(data)
        yield url, data


def delivered_bytes(url: str) -> bytes:
    """A delivered file's bytes; one that cannot be read (permission denied, removed while the run
    read the folder, an I/O error) is a refused delivery like one that cannot be parsed."""
    try:
        return storage.read_bytes(url)
    except OSError as err:
        raise DropFileError(url, f"cannot be read: {err.strerror or err}") from None


def _indices_by_day(frame: pd.DataFrame, day_of: dict[str, date]) -> dict:
    if not len(frame):
        return {}
    positions = pd.Series(range(len(frame)))
    return dict(positions.groupby(frame["_source_file"].map(day_of).to_numpy()).indices.items())


def _table(frame: pd.DataFrame, schema: pa.Schema, ingested_at: datetime) -> pa.Table:
    """The frame's columns in the schema, with the ingestion time (added to the Arrow table: an
    added pandas column would copy a frame of millions of rows)."""
    columns = [name for name in schema.names if name != "_ingested_at"]
    frame = frame if len(frame) else pd.DataFrame(columns=columns)
    own = pa.schema([schema.field(name) for name in columns])
    table = pa.Table.from_pandas(frame[columns], schema=own, preserve_index=False)
    stamp = schema.field("_ingested_at")
    return table.append_column(stamp, pa.repeat(pa.scalar(ingested_at, stamp.type), table.num_rows))


SKIPPED_TYPE = pa.list_(pa.struct([("file", pa.string()), ("rule", pa.string())]))
LOAD_SCHEMA = pa.schema(
    [
        ("files", pa.list_(pa.string())),
        ("digests", pa.list_(pa.string())),  # of each file's content (delivery.py), in the order of files
        ("skipped", SKIPPED_TYPE),  # files under the day's folder not loaded, each with the rule that skipped it
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("_ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


def load_record_url(spec: SourceSpec, lake_url: str, day: date) -> str:
    """What a day's load read and wrote; the conservation and pass-rate checks compare it with the data."""
    return storage.join(lake_url, "bronze", "_loads", spec.name, f"partition_date={day:%Y-%m-%d}", "load.parquet")


def write_day(spec: SourceSpec, lake_url: str, load: DayLoad, ingested_at: datetime) -> None:
    storage.write_parquet(partition_url(lake_url, spec.raw_table, load.day), load.rows)
    storage.write_parquet(partition_url(lake_url, spec.quarantine_table, load.day), load.quarantined)
    record = {
        "files": [load.files],
        "digests": [load.digests],
        "skipped": [[{"file": e.url, "rule": e.skip} for e in load.skipped]],
        "rows_read": [load.rows_read],
        "rows_loaded": [load.rows.num_rows],
        "rows_quarantined": [load.quarantined.num_rows],
        "_ingested_at": [ingested_at],
    }
    storage.write_parquet(load_record_url(spec, lake_url, load.day), pa.table(record, schema=LOAD_SCHEMA))


def stored_data_reader(spec: SourceSpec, lake_url: str, window: DayWindow | None = None):
    """DuckDB views over the stored bronze data, quarantine and load records, for the checks; and
    ``skipped_files``, the files the load records name as skipped (of ``window``'s days if given)."""
    con = storage.duckdb_reader(lake_url)
    loads = storage.join(lake_url, "bronze", "_loads", spec.name)
    views = {
        "delivered_rows": storage.join(lake_url, "bronze", spec.raw_table, "*", "*.parquet"),
        "quarantined": storage.join(lake_url, "bronze", spec.quarantine_table, "*", "*.parquet"),
        "load_records": storage.join(loads, "*", "*.parquet"),
    }
    for view, glob in views.items():
        con.execute(f"create view {view} as select * from read_parquet('{glob}', hive_partitioning = true)")
    # flag rules read the delivery day as reject rules do (a day's rows are its folder's)
    con.execute("create or replace view delivered as select *, partition_date as _delivered_on from delivered_rows")
    # Load records written before `skipped` was added lack it, so these are read by column name,
    # which reads every file's schema first: only the window's records, not a history's.
    if window is None:
        records = f"'{storage.join(loads, '*', '*.parquet')}'"
    else:
        records = "[" + ", ".join(f"'{load_record_url(spec, lake_url, day)}'" for day in window.days) + "]"
    con.execute(
        "create view skipped_files as select partition_date, s.file, s.rule from (select partition_date, "
        f"unnest(skipped) as s from read_parquet({records}, hive_partitioning = true, union_by_name = true))"
    )
    return con


def _summary(loads: list[DayCounts]) -> dict[str, int]:
    return {
        "files": sum(len(load.files) for load in loads),
        "rows_read": sum(load.rows_read for load in loads),
        "rows_loaded": sum(load.rows_loaded for load in loads),
        "rows_quarantined": sum(load.rows_quarantined for load in loads),
    }


def _per_day_table(loads: list[DayCounts]) -> str:
    """Each day's counts as one markdown table, for the run log of a range."""
    rows = [
        f"| {load.day} | {len(load.files)} | {load.rows_read} | {load.rows_loaded} | {load.rows_quarantined} |"
        for load in loads
    ]
    return "\n".join(["| day | files | read | loaded | quarantined |", "|---|---|---|---|---|", *rows])


def _add_day_metadata(context: dg.AssetExecutionContext, spec: SourceSpec, load: DayCounts) -> None:
    """A day's own figures on that day's materializations. A range run's metadata would otherwise
    be copied into every day's event: one day of a 90-day run showed the 90 days' rows and files."""
    day = f"{load.day}"
    context.add_asset_metadata(
        {
            "files": len(load.files),
            "source_files": dg.MetadataValue.json([f.rsplit("/", 1)[-1] for f in load.files]),
            "rows_read": load.rows_read,
            "rows_loaded": load.rows_loaded,
            "rows_quarantined": load.rows_quarantined,
            "dagster/row_count": load.rows_loaded,
            # only when there are some: every day of every source carries this metadata
            **(
                {"skipped_files": dg.MetadataValue.json([{"file": e.relative, "rule": e.skip} for e in load.skipped])}
                if load.skipped
                else {}
            ),
        },
        asset_key=spec.raw_key,
        partition_key=day,
    )
    context.add_asset_metadata(
        {"rows_quarantined": load.rows_quarantined, "dagster/row_count": load.rows_quarantined},
        asset_key=spec.quarantine_key,
        partition_key=day,
    )


def bronze_specs(spec: SourceSpec) -> list[dg.AssetSpec]:
    common: dict[str, Any] = {
        "group_name": "bronze",
        "owners": [OWNER],
        "freshness_policy": DAILY_FRESHNESS,
        "kinds": {"python", "parquet"},
    }
    return [
        dg.AssetSpec(
            spec.raw_key,
            description=f"{spec.description} Typed by the source's contract ({spec.path.name}), with source "
            "file, line and ingestion time. Parquet in the lake, one file per day.",
            metadata={"keys": list(spec.keys), "contract": str(spec.path)},
            **common,
        ),
        dg.AssetSpec(
            spec.quarantine_key,
            description=f"Rows of the day's {spec.name} deliveries that broke the contract or a reject rule, "
            "with the rule, the reason and the raw record. Rows read = rows loaded + rows quarantined.",
            **common,
        ),
    ]


def build_bronze_assets(spec: SourceSpec, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    rules = spec.rules
    validate_row_rules(rules.row_rules, spec.rule_schema)  # a broken rule fails at load, not mid-run

    @dg.multi_asset(
        name=f"{spec.name}_bronze",
        specs=bronze_specs(spec),
        check_specs=source_checks.check_specs(rules),
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=TRANSIENT_RETRY,  # the landing zone and the lake may be S3
    )
    def bronze(context: dg.AssetExecutionContext, paths: PlatformPaths):
        window = DayWindow.of(context.partition_time_window)
        days = window.days
        ingested_at = datetime.now(UTC)
        os.environ.update(paths.reference_env)  # the calendar and FX rates this deployment's dbt uses
        loads = list(write_window(spec, paths.landing_url, paths.lake_url, days, ingested_at))
        missing = [f"{load.day}" for load in loads if not load.files]
        if missing:  # one warning for the window: a backfill of a source delivered on weekdays has hundreds
            context.log.warning(
                f"No {spec.name} delivery for {len(missing)} day(s), written empty: {', '.join(missing)}"
            )
        skipped = [entry.describe() for load in loads for entry in load.skipped]
        if skipped:
            context.log.warning(f"{len(skipped)} file(s) under {spec.name}'s day folders not loaded: {skipped}")
        with stored_data_reader(spec, paths.lake_url, window) as con:
            checks = source_checks.evaluate(con, rules, window)
        summary = _summary(loads)
        layer = LayerSummary.of_bronze(
            tables=[spec.name],
            rows_loaded=summary["rows_loaded"],
            rows_quarantined=summary["rows_quarantined"],
            checks=checks,
        )
        # the window's totals and per-day table go to the run log; each day's event has its own
        context.log.info(f"{len(days)} day(s): {summary}" + (f"\n{_per_day_table(loads)}" if len(days) > 1 else ""))
        context.log.info(layer.render())
        for load in loads:
            _add_day_metadata(context, spec, load)
        # a one-day run's summary is that day's; a range's is not any day's (it is in the log)
        run_summary = layer.as_metadata() if len(days) == 1 else {}
        yield dg.MaterializeResult(
            asset_key=spec.raw_key,
            metadata={
                "lake_path": paths.lake("bronze", spec.raw_table),
                "load_records": paths.lake("bronze", "_loads", spec.name),
                **run_summary,
            },
        )
        yield dg.MaterializeResult(
            asset_key=spec.quarantine_key,
            metadata={"lake_path": paths.lake("bronze", spec.quarantine_table), **run_summary},
        )
        yield from checks

    return bronze


def write_window(
    spec: SourceSpec, landing_url: str, lake_url: str, days: list[date], ingested_at: datetime
) -> Iterator[DayCounts]:
    """Load the window batch by batch and write each day's partitions; yields each day's counts once
    it is written (the rows themselves are let go)."""

    def write(load: DayLoad) -> DayCounts:
        write_day(spec, lake_url, load, ingested_at)
        return load.counts()

    if spec.delivery == APPEND:
        earlier = {day: loaded_before(load_record_url(spec, lake_url, day)) for day in days}
        refuse_rewritten(spec, earlier, {day: day_files(spec, landing_url, day).loaded for day in days})
    with ThreadPoolExecutor(WRITE_THREADS) as pool:
        for batch in load_window(spec, landing_url, days, ingested_at):
            yield from pool.map(write, batch)


def load_window(spec: SourceSpec, landing_url: str, days: list[date], ingested_at: datetime):
    """The window's DayLoads, batch by batch. Every file is known readable before the first
    partition is written: in one batch because it is parsed whole; across batches because each
    file is checked (encoding, CSV, header) before the first batch is parsed."""
    files = {day: day_files(spec, landing_url, day) for day in days}
    batches = _batches(days, files)
    try:
        if len(batches) > 1:
            for url in (url for day in days for url in files[day].loaded):
                check_drop_file(spec, url, delivered_bytes(url))
        for batch in batches:
            yield read_days(spec, batch, files, ingested_at)
    except DropFileError as err:
        raise dg.Failure(
            description=f"Unreadable delivery {err.source_file}: {err.problem}. No partition was written.",
            metadata={"file": err.source_file, "problem": err.problem},
            allow_retries=False,  # the file stays unreadable until it is replaced
        ) from err


def _batches(days: list[date], files: dict[date, DayFiles]) -> list[list[date]]:
    """Consecutive days whose files add up to at most BATCH_BYTES (a day is never split)."""
    batches: list[list[date]] = [[]]
    size = 0
    for day in days:
        day_size = sum(storage.file_size(url) for url in files[day].loaded)
        if batches[-1] and size + day_size > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(day)
        size += day_size
    return batches
