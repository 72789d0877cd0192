"""Writing the serving copy: Parquet files per table under ``<lake>/serving``, and a DuckDB file of
views over them that readers open.

Every file is replaced whole (a rename locally, one upload on S3), so a reader sees a day's old
rows or its new ones, never a half. The views file is written under a temporary name and renamed
over the old one: a reader that has it open keeps its views (they name folders, not files, so they
see new days too), and the next reader to open it gets the new one. Nothing here opens the warehouse
for writing or holds a lock a reader could collide with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from smepulse_assets.serving.tables import DAY_PARTITION, ServedTable
from smepulse_lib import storage
from smepulse_lib.windows import DayWindow

WHOLE_FILE = "data_0.parquet"


@dataclass(frozen=True)
class Published:
    relation: str
    rows: int  # rows written by this publish (the window's days, or the whole table)
    files: int
    by_day: bool


@dataclass(frozen=True)
class PublishStamp:
    """When a publish happened, for which days, by which run: what readers see in ``ops.serving_publish``."""

    published_at: datetime
    window: DayWindow
    run_id: str


def table_url(root_url: str, table: ServedTable) -> str:
    return storage.join(root_url, table.folder)


def day_url(root_url: str, table: ServedTable, day: date) -> str:
    return storage.join(table_url(root_url, table), f"{DAY_PARTITION}={day}")


@contextmanager
def staging_dir(root_url: str) -> Iterator[str]:
    """A scratch folder for DuckDB's COPY: inside the serving root when it is local, so the finished
    files are renamed into place on the same filesystem (an atomic step), else a temporary folder."""
    if storage.is_local(root_url):
        path = Path(storage.filesystem(root_url)[1]) / ".staging" / uuid.uuid4().hex
        path.mkdir(parents=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="smepulse-serving-"))
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def publish_table(
    con: duckdb.DuckDBPyConnection, table: ServedTable, root_url: str, window: DayWindow | None
) -> Published:
    """Publish one warehouse relation: the window's days of a by-day table (all of them when
    ``window`` is None), or the whole table."""
    with staging_dir(root_url) as staging:
        if not table.by_day:
            con.execute(f"copy (select * from {table.relation}) to '{staging}/{WHOLE_FILE}' (format parquet)")
            rows = pq.read_metadata(f"{staging}/{WHOLE_FILE}").num_rows
            storage.move_file_into(f"{staging}/{WHOLE_FILE}", storage.join(table_url(root_url, table), WHOLE_FILE))
            return Published(table.relation, rows, 1, by_day=False)
        return _publish_days(con, table, root_url, window, staging)


def _publish_days(
    con: duckdb.DuckDBPyConnection, table: ServedTable, root_url: str, window: DayWindow | None, staging: str
) -> Published:
    if window is None and table.retain_days:  # republishing every day: the newest ones it keeps
        (newest,) = con.execute(f"select max({table.day_of_row()}) from {table.relation}").fetchall()[0]
        window = table.kept(DayWindow(newest - timedelta(days=table.retain_days - 1), newest)) if newest else None
    window = table.kept(window) if window is not None else None
    where = "true" if window is None else f"{table.day_of_row()} between '{window.first}' and '{window.last}'"
    con.execute(
        f"copy (select *, {table.day_of_row()} as {DAY_PARTITION} from {table.relation} where {where}) "
        f"to '{staging}/out' (format parquet, partition_by ({DAY_PARTITION}), filename_pattern 'data_{{i}}')"
    )
    written = _staged_days(f"{staging}/out")
    before = _published_files(root_url, table)  # one listing of the table's folder, not one per day
    rows = files = 0
    for day, paths in written.items():
        target = day_url(root_url, table, day)
        names = {Path(p).name for p in paths}
        for path in paths:
            rows += pq.read_metadata(path).num_rows
            storage.move_file_into(path, storage.join(target, Path(path).name))
        _remove(target, before.get(day, set()) - names)
        files += len(paths)
    # A day of the window (of all days, when republishing everything) that has no rows now loses the
    # rows an earlier publish gave it; so does a day past the table's retention.
    cutoff = window.last - timedelta(days=table.retain_days - 1) if table.retain_days and window else None
    for day, names in before.items():
        withdrawn = day not in written and (window is None or window.first <= day <= window.last)
        if withdrawn or (cutoff is not None and day < cutoff):
            _remove(day_url(root_url, table, day), names, folder=True)
    return Published(table.relation, rows, files, by_day=True)


def _staged_days(folder: str) -> dict[date, list[str]]:
    found: dict[date, list[str]] = {}
    for day_dir in sorted(Path(folder).glob(f"{DAY_PARTITION}=*")) if Path(folder).exists() else []:
        day = date.fromisoformat(day_dir.name.split("=", 1)[1])
        found[day] = sorted(str(p) for p in day_dir.glob("*.parquet"))
    return found


def _published_files(root_url: str, table: ServedTable) -> dict[date, set[str]]:
    """The files a by-day table has in the copy now, by day."""
    fs, path = storage.filesystem(table_url(root_url, table))
    found: dict[date, set[str]] = {}
    for name in fs.find(path) if fs.exists(path) else []:
        folder, _, file = name.rpartition("/")
        prefix = f"{DAY_PARTITION}="
        if prefix in folder.rpartition("/")[2]:
            found.setdefault(date.fromisoformat(folder.rpartition(prefix)[2]), set()).add(file)
    return found


def _remove(folder_url: str, names: set[str], folder: bool = False) -> None:
    """Remove files of a day's folder (and the folder, when it is left without its files)."""
    fs, path = storage.filesystem(folder_url)
    for name in names:
        fs.rm(f"{path}/{name}")
    if folder:
        with contextlib.suppress(FileNotFoundError):  # an object store has no folder once its last file is gone
            fs.rm(path, recursive=True)


def publish_frame(root_url: str, table: ServedTable, frame: pd.DataFrame) -> Published:
    """Publish a table that is not in the warehouse (what the Dagster instance knows), whole."""
    storage.write_parquet(
        storage.join(table_url(root_url, table), WHOLE_FILE), pa.Table.from_pandas(frame, preserve_index=False)
    )
    return Published(table.relation, len(frame), 1, by_day=False)


def published_counts(root_url: str, table: ServedTable, window: DayWindow) -> dict[date | None, int]:
    """Rows the published files hold, read from their Parquet footers: per day of the window for a
    by-day table (days without a file count 0), else under the key None."""
    fs, _ = storage.filesystem(root_url)
    if not table.by_day:
        return {None: _rows_in(fs, table_url(root_url, table))}
    return {day: _rows_in(fs, day_url(root_url, table, day)) for day in table.kept(window).days}


def _rows_in(fs, folder_url: str) -> int:
    path = storage.filesystem(folder_url)[1]
    if not fs.exists(path):
        return 0
    rows = 0
    for name in fs.ls(path, detail=False):
        if name.endswith(".parquet"):
            with fs.open(name, "rb") as handle:  # closed after its footer is read
                rows += pq.read_metadata(handle).num_rows
    return rows


def write_views_file(
    serving_path: str,
    root_url: str,
    tables: list[ServedTable],
    schemas: dict[str, list[tuple[str, str]]],
    stamp: PublishStamp,
) -> None:
    """The DuckDB file readers open: one view per published table over its Parquet files (an empty
    table with the warehouse's columns while nothing is published), and ``ops.serving_publish`` saying
    when and for which days. Written aside and renamed over the old file."""
    Path(serving_path).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{serving_path}.tmp-{uuid.uuid4().hex}"
    try:
        with duckdb.connect(tmp) as out:
            fs, _ = storage.filesystem(root_url)
            if not storage.is_local(root_url):
                out.register_filesystem(fs)
            for schema in sorted({t.relation.split(".")[0] for t in tables} | {"ops"}):
                out.execute(f"create schema if not exists {schema}")
            for table in tables:  # a live relation is the warehouse's own view over the lake
                out.execute(table.view_sql or _view_sql(fs, root_url, table, schemas[table.relation]))
            out.execute(
                "create table ops.serving_publish (relation varchar, by_day boolean, published_at timestamptz, "
                "window_first date, window_last date, run_id varchar)"
            )
            out.executemany(
                "insert into ops.serving_publish values (?, ?, ?, ?, ?, ?)",
                [
                    [t.relation, t.by_day, stamp.published_at, stamp.window.first, stamp.window.last, stamp.run_id]
                    for t in tables
                ],
            )
        os.replace(tmp, serving_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _view_sql(fs, root_url: str, table: ServedTable, columns: list[tuple[str, str]]) -> str:
    folder = table_url(root_url, table)
    pattern = storage.join(folder, "*", "*.parquet") if table.by_day else storage.join(folder, WHOLE_FILE)
    if fs.glob(storage.filesystem(pattern)[1]):
        reader = f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
        return (
            f"create view {table.relation} as select * exclude ({DAY_PARTITION}) from {reader}"
            if table.by_day
            else (f"create view {table.relation} as select * from read_parquet('{pattern}')")
        )
    column_list = ", ".join(f'"{name}" {kind}' for name, kind in columns)
    return f"create table {table.relation} ({column_list})"
