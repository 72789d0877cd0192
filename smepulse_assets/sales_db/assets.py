"""Bronze assets of the sales database: one per table, one partition per business day.

A run extracts its days' windows (extract.py) in one query per table, splits the rows into the
days, and merges each day with what the day held (a re-extraction adds, never loses). The checks
read the extracted history as the database stood at the end of the run's last day.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pyarrow as pa

from smepulse_assets.ingestion.bronze import partition_url
from smepulse_assets.sales_db.extract import (
    DayWindows,
    SalesDbError,
    SalesDbUnreachable,
    check_tables,
    extract,
    merged,
    redacted,
    rows_of_day,
)
from smepulse_assets.sales_db.tables import TABLES, TABLES_BY_NAME, Table
from smepulse_lib import storage
from smepulse_lib.conventions import DAILY_FRESHNESS, OWNER, TRANSIENT_RETRY
from smepulse_lib.resources import PlatformPaths
from smepulse_lib.settings import Settings
from smepulse_lib.windows import DayWindow


class SalesDatabase(dg.ConfigurableResource):
    """Where the sales database is and how its business days are cut (Settings.sales_db_*)."""

    url: str
    db_schema: str = "public"
    timezone: str = "Asia/Ho_Chi_Minh"
    overlap_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> "SalesDatabase":
        return cls(
            url=settings.sales_db_url or "",
            db_schema=settings.sales_db_schema,
            timezone=settings.sales_db_timezone,
            overlap_minutes=settings.sales_db_overlap_minutes,
        )

    def windows(self, days: list[date]) -> DayWindows:
        return DayWindows(days, self.timezone, timedelta(minutes=self.overlap_minutes))


CHUNK_DAYS = 31  # days a range run extracts per query of a table


def asset_key(table: Table) -> dg.AssetKey:
    return dg.AssetKey(["bronze", table.bronze_table])


CHECKS = (
    dg.AssetCheckSpec(
        "allocations_reference_known_rows",
        asset=asset_key(TABLES_BY_NAME["payment_allocations"]),
        description="Every allocation in force at the end of the run's last day applies a payment and an invoice "
        "that the extraction has seen (a dangling reference means a row changed without its updated_at).",
    ),
    dg.AssetCheckSpec(
        "allocated_within_amounts",
        asset=asset_key(TABLES_BY_NAME["payments"]),
        description="At the end of the run's last day, no payment is allocated beyond what was received and no "
        "invoice beyond its total (WARN: the sales system allowed an over-allocation).",
    ),
)


def _specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            asset_key(table),
            description=f"{table.description} Extracted from the sales database by updated_at: each row is a "
            "version of a database row (its state as of updated_at, soft deletes included), in the partition of "
            "the business day whose window found it. Parquet in the lake, one file per day.",
            metadata={"keys": list(table.keys), "columns": table.column_names},
            group_name="bronze",
            owners=[OWNER],
            freshness_policy=DAILY_FRESHNESS,
            kinds={"postgres", "dlt", "parquet"},
        )
        for table in TABLES
    ]


def build_sales_db_assets(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="sales_db_bronze",
        specs=_specs(),
        check_specs=list(CHECKS),
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=TRANSIENT_RETRY,  # the database and the lake are across a network
    )
    def sales_db_bronze(context: dg.AssetExecutionContext, paths: PlatformPaths, sales_db: SalesDatabase):
        days = DayWindow.of(context.partition_time_window).days
        windows = sales_db.windows(days)
        try:
            extra = check_tables(sales_db.url, TABLES, sales_db.db_schema)
        except SalesDbError as err:
            # unreachable: the retry policy tries again; a missing table or column would fail again
            raise dg.Failure(description=f"{err}", allow_retries=isinstance(err, SalesDbUnreachable)) from err
        extracted_at = datetime.now(UTC)
        for table in TABLES:
            counts = _extract_table(context, paths, sales_db, table, windows, extracted_at)
            context.log.info(f"{table.name}: {len(days)} day(s), {counts}")
            yield dg.MaterializeResult(
                asset_key=asset_key(table),
                metadata={
                    "database": redacted(sales_db.url),
                    "lake_path": paths.lake("bronze", table.bronze_table),
                    "extra_columns_not_read": dg.MetadataValue.json(extra[table.name]),
                },
            )
        yield from evaluate_checks(paths.lake_url, days[-1])

    return sales_db_bronze


def _extract_table(
    context: dg.AssetExecutionContext,
    paths: PlatformPaths,
    sales_db: SalesDatabase,
    table: Table,
    windows: DayWindows,
    extracted_at: datetime,
) -> dict[str, int]:
    """Extract the run's span a month at a time (one query per month and table: a 520-day backfill
    of the 5M-invoice world holds ~27M versions), then write each day's rows merged with what it held."""
    totals = {"rows_extracted": 0, "new_versions": 0}
    for chunk in windows.chunks(CHUNK_DAYS):
        for day, found in _days_of(sales_db, table, chunk, extracted_at):
            _write_day(context, paths, table, chunk, day, found, totals)
    return totals


def _days_of(sales_db: SalesDatabase, table: Table, windows: DayWindows, extracted_at: datetime):
    try:
        rows = extract(sales_db.url, table, sales_db.db_schema, *windows.span)
    except SalesDbError as err:
        raise dg.Failure(description=f"{err}", allow_retries=False) from err
    for day in windows.days:
        yield day, rows_of_day(rows, windows, day, extracted_at)


def _write_day(
    context: dg.AssetExecutionContext,
    paths: PlatformPaths,
    table: Table,
    windows: DayWindows,
    day: date,
    found: pa.Table,
    totals: dict[str, int],
) -> None:
    """The day's rows merged into what it held; its own figures on its own materialization."""
    url = partition_url(paths.lake_url, table.bronze_table, day)
    stored, added = merged(_stored(url), found, table)
    storage.write_parquet(url, stored)
    totals["rows_extracted"] += found.num_rows
    totals["new_versions"] += added
    context.add_asset_metadata(
        {
            "rows_extracted": found.num_rows,
            "new_versions": added,
            "soft_deletes": found.num_rows - found.column("deleted_at").null_count,
            "window": windows.describe(day),
            "dagster/row_count": stored.num_rows,
        },
        asset_key=asset_key(table),
        partition_key=f"{day}",
    )


def _stored(url: str) -> pa.Table | None:
    fs, path = storage.filesystem(url)
    return storage.read_parquet(url) if fs.exists(path) else None


def _state_sql(lake_url: str, table: Table, day: date) -> str:
    """The table as the database stood at the end of ``day``: each key's last version, not deleted."""
    files = storage.join(lake_url, "bronze", table.bronze_table, "*", "*.parquet")
    keys = ", ".join(table.keys)
    return (
        f"(select * from (select * from read_parquet('{files}', hive_partitioning = true) "
        f"where updated_on <= date '{day}' "
        f"qualify row_number() over (partition by {keys} order by updated_at desc) = 1) where deleted_at is null)"
    )


def evaluate_checks(lake_url: str, day: date):
    allocations, invoices, payments = (
        _state_sql(lake_url, TABLES_BY_NAME[name], day) for name in ("payment_allocations", "invoices", "payments")
    )
    with storage.duckdb_reader(lake_url) as con:
        dangling = con.execute(
            f"select allocation_id, payment_id, invoice_id from {allocations} as a "
            f"where not exists (select 1 from {invoices} as i where i.invoice_id = a.invoice_id) "
            f"or not exists (select 1 from {payments} as p where p.payment_id = a.payment_id) order by 1"
        ).fetchall()
        over = con.execute(
            f"""select 'payment' as kind, p.payment_id as id, p.amount_vnd as amount, sum(a.amount_vnd) as allocated
            from {payments} as p join {allocations} as a using (payment_id)
            group by all having sum(a.amount_vnd) > p.amount_vnd
            union all
            select 'invoice', i.invoice_id, i.total_vnd, sum(a.amount_vnd)
            from {invoices} as i join {allocations} as a using (invoice_id)
            group by all having sum(a.amount_vnd) > i.total_vnd order by 1, 2"""
        ).fetchall()
    yield dg.AssetCheckResult(
        check_name="allocations_reference_known_rows",
        asset_key=asset_key(TABLES_BY_NAME["payment_allocations"]),
        passed=not dangling,
        description=f"{len(dangling)} allocation(s) in force on {day} name an unknown payment or invoice"
        + (f", e.g. {dangling[:3]}" if dangling else ""),
        metadata={"as_of": f"{day}", "dangling": len(dangling)},
    )
    yield dg.AssetCheckResult(
        check_name="allocated_within_amounts",
        asset_key=asset_key(TABLES_BY_NAME["payments"]),
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(over)} payment(s) or invoice(s) allocated beyond their amount on {day}"
        + (f", e.g. {[(k, i, float(a), float(s)) for k, i, a, s in over[:3]]}" if over else ""),
        metadata={"as_of": f"{day}", "over_allocated": len(over)},
    )
