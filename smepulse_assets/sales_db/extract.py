"""Extraction of the sales database by ``updated_at``, with dlt's SQL source.

A business day's extraction takes each table's rows whose ``updated_at`` falls in the day's
window, in the business's time zone, widened backwards by ``overlap``:

    [midnight(day) - overlap, midnight(day + 1))

The window is bounded on both sides, so dlt keeps no watermark of its own: re-running a day
re-extracts the same window, and a backfill is any range of days. The overlap is for clock
skew and late commits: a change stamped 23:55 by a clock (or a transaction) that committed
after the day's extraction ran is found by the next day's. A row found twice is one version
(same key and ``updated_at``); silver keeps one.

What an extraction by ``updated_at`` cannot see, and the database must therefore not do:
delete rows for real (a soft delete, ``deleted_at``, is an update like any other) or change a
row without stamping it. A row changed twice before its day is extracted shows only its last
state, which is the day's state the platform reports.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from smepulse_assets.sales_db.tables import Table

# dlt reports anonymous usage to its vendor unless told not to; a data platform's extraction sends nothing.
os.environ.setdefault("RUNTIME__DLT_TELEMETRY", "false")

# The columns bronze adds to each extracted row: the business day of its stamp (in the database's
# time zone) and when the extraction read it.
UPDATED_ON, EXTRACTED_AT = "updated_on", "_extracted_at"
CHUNK_ROWS = 50_000  # rows per query page: a day of a 5M-invoice ledger is a few pages


class SalesDbError(Exception):
    """The sales database cannot be extracted as configured: unreachable, or a table or column missing."""


class SalesDbUnreachable(SalesDbError):
    """No connection to the server: worth trying again, unlike a table or column missing."""


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy 2 reads postgresql:// as psycopg 3; the platform ships psycopg2."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg2://{rest}" if scheme in ("postgres", "postgresql") else url


def libpq_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgresql+") or scheme == "postgres" else url


def redacted(url: str) -> str:
    """The URL without its password, for messages and metadata."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    where = f"{parts.username}@{host}" if parts.username else host
    return urlunsplit((parts.scheme, f"{where}:{parts.port}" if parts.port else where, parts.path, "", ""))


@dataclass(frozen=True)
class DayWindows:
    """The extraction windows of a run's days, in the database's time zone."""

    days: list[date]
    timezone: str
    overlap: timedelta

    def midnight(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def window(self, day: date) -> tuple[datetime, datetime]:
        return self.midnight(day) - self.overlap, self.midnight(day + timedelta(days=1))

    def describe(self, day: date) -> str:
        """The day's window in the database's time zone, as its users read their clocks."""
        zone = ZoneInfo(self.timezone)
        start, end = (moment.astimezone(zone).isoformat(timespec="minutes") for moment in self.window(day))
        return f"{start} .. {end}"

    def chunks(self, days: int) -> list[DayWindows]:
        return [
            DayWindows(self.days[i : i + days], self.timezone, self.overlap) for i in range(0, len(self.days), days)
        ]

    @property
    def span(self) -> tuple[datetime, datetime]:
        return self.window(self.days[0])[0], self.window(self.days[-1])[1]


def check_tables(url: str, tables: tuple[Table, ...], schema: str) -> dict[str, list[str]]:
    """Each table's columns against the contract, before anything is read: a missing table or
    column is an error naming them; extra columns are returned (they are not read)."""
    import psycopg2

    try:
        # psycopg2's `with` ends the transaction, not the connection: closing() ends both
        with closing(psycopg2.connect(libpq_url(url), connect_timeout=10)) as con, con.cursor() as cur:
            cur.execute(
                "select table_name, column_name from information_schema.columns where table_schema = %s",
                (schema,),
            )
            found: dict[str, list[str]] = {}
            for name, column in cur.fetchall():
                found.setdefault(name, []).append(column)
    except psycopg2.OperationalError as err:
        raise SalesDbUnreachable(
            f"cannot reach the sales database at {redacted(url)}: {' '.join(f'{err}'.split())}"
        ) from err
    problems, extra = [], {}
    for table in tables:
        columns = found.get(table.name)
        if columns is None:
            problems.append(f"table {schema}.{table.name} is missing")
            continue
        missing = [c for c in table.column_names if c not in columns]
        if missing:
            problems.append(f"{schema}.{table.name} lacks {missing} (has {sorted(columns)})")
        extra[table.name] = sorted(set(columns) - set(table.column_names))
    if problems:
        raise SalesDbError(f"the sales database at {redacted(url)} does not match the contract: " + "; ".join(problems))
    return extra


def extract(url: str, table: Table, schema: str, start: datetime, end: datetime) -> pa.Table:
    """The table's rows stamped in [start, end), typed by the contract (dlt's SQL source pages the
    query and pushes the window into its WHERE clause)."""
    import dlt
    from dlt.sources.sql_database import sql_table

    rows = sql_table(
        credentials=sqlalchemy_url(url),
        table=table.name,
        schema=schema,
        backend="pyarrow",
        chunk_size=CHUNK_ROWS,
        reflection_level="full_with_precision",
        included_columns=table.column_names,
        incremental=dlt.sources.incremental(
            "updated_at", initial_value=start, end_value=end, range_start="closed", range_end="open"
        ),
    )
    chunks = [chunk.select(table.column_names) for chunk in rows]
    if not chunks:
        return table.arrow_schema.empty_table()
    return _typed(pa.concat_tables(chunks, promote_options="permissive"), table)


def _typed(extracted: pa.Table, table: Table) -> pa.Table:
    """The contract's types; a value that does not fit (an amount with more decimals than cents)
    is an error naming the table and column, not a silent rounding."""
    columns = []
    for field in table.arrow_schema:
        try:
            columns.append(extracted.column(field.name).cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise SalesDbError(f"{table.name}.{field.name}: cannot be read as {field.type}: {err}") from err
    return pa.table(columns, schema=table.arrow_schema)


def rows_of_day(extracted: pa.Table, windows: DayWindows, day: date, extracted_at: datetime) -> pa.Table:
    """The rows of a range's extraction inside one day's window, with their business day and the
    extraction's time."""
    start, end = windows.window(day)
    stamp = extracted.column("updated_at")
    inside = extracted.filter(pc.and_(pc.greater_equal(stamp, pa.scalar(start)), pc.less(stamp, pa.scalar(end))))
    local = pc.local_timestamp(inside.column("updated_at").cast(pa.timestamp("us", tz=windows.timezone)))
    inside = inside.append_column(UPDATED_ON, local.cast(pa.date32()))
    when = pa.scalar(extracted_at, pa.timestamp("us", tz="UTC"))
    return inside.append_column(EXTRACTED_AT, pa.repeat(when, inside.num_rows))


def merged(previous: pa.Table | None, extracted: pa.Table, table: Table) -> tuple[pa.Table, int]:
    """A day's rows after a new extraction: every version seen before stays (a row updated since
    the day was first extracted has left the day's window, and its version of the day must not be
    lost), and a version seen again is kept once, as last read. Returns the rows and how many
    versions the new extraction added."""
    if previous is None or previous.num_rows == 0:
        return extracted, extracted.num_rows
    con = duckdb.connect()
    con.register("previous_rows", previous.cast(extracted.schema))
    con.register("extracted_rows", extracted)
    keys = ", ".join([*table.keys, "updated_at"])
    result = con.sql(
        f"select * from (select * from previous_rows union all by name select * from extracted_rows) "
        f"qualify row_number() over (partition by {keys} order by {EXTRACTED_AT} desc) = 1 order by {keys}"
    ).to_arrow_table()
    return result.cast(extracted.schema), result.num_rows - previous.num_rows
