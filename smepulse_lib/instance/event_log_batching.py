"""Dagster event log storage that writes a range run's per-day asset events in batches.

A range run (one run backfilling many days) reports each asset once per day: at 520 days
and ~60 assets that is ~33,000 materialization events. Dagster's SQL event storages write
each in its own statements (an event row, its tag rows, the asset's latest-event row) on
a fresh connection, and record a planned check's per-day rows by serializing the same event
once per day. Together that was more than half of a 50k-invoice backfill's daily range
(docs/benchmarks.md, "Measurements behind the code").

Dagster hands a range output's per-day events to ``store_event_batch`` when
``DAGSTER_EVENT_BATCH_SIZE`` is set (settings.DAGSTER_INSTANCE_ENV sets it wherever runs are
created; Dagster's open-source storages then store them one by one). The storages here write
such a batch as a batch: the event rows in one statement, the tag rows in one, and the
asset's latest-event row once, for the last day (each day's write would overwrite the
previous one). What is read back is the same as event by event (planned check rows leave out
the event the event log holds); ``tests/test_event_log.py`` compares the two.

On disk, each SQLite file is also kept open on one connection instead of being opened for
every event (Dagster's way), which made a new day's runs markedly slower on disk than in memory.

This module uses Dagster's private storage API; ``event_log`` imports it only on the Dagster
versions it was tested with. ``dagster.yaml`` configures the on-disk storage for the UI;
``ephemeral_instance()`` builds the in-memory instance that tests and the benchmark run in.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import sqlalchemy as db
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationPlanned
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import InMemoryEventLogStorage, SqlEventLogStorage, SqliteEventLogStorage
from dagster._core.storage.event_log.base import EventLogCursor
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

# The kinds a batch is written for; any other batch is stored event by event.
BATCHED_KINDS = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION}


def one_asset_one_kind(events: Sequence[EventLogEntry]) -> bool:
    """Whether the batch is what a range output produces: one run, one asset, one kind of event
    (then its last event is the asset's newest, and the only one its latest-event row keeps)."""
    firsts = events[0].get_dagster_event() if events[0].is_dagster_event else None
    if firsts is None or firsts.event_type not in BATCHED_KINDS or firsts.asset_key is None:
        return False
    return all(
        e.is_dagster_event
        and e.run_id == events[0].run_id
        and e.get_dagster_event().event_type == firsts.event_type
        and e.get_dagster_event().asset_key == firsts.asset_key
        for e in events
    )


def insert_returning_ids(conn, rows: list[dict[str, Any]]) -> list[int]:
    """Insert event rows in one statement; their storage ids in the rows' order."""
    statement = SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True)
    return [row[0] for row in conn.execute(statement, rows)]


class BatchedAssetEvents(SqlEventLogStorage):
    """The batch writes, shared by the in-memory and the on-disk storage (each says where event
    rows go in ``_insert_event_rows``; it comes before Dagster's storage among their bases)."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if len(events) < 2 or not one_asset_one_kind(events):
            super().store_event_batch(events)
            return
        rows = [self._event_to_row(event) for event in events]
        ids = self._insert_event_rows(events[0].run_id, rows)
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, events, ids)
            self._store_asset_event(conn, events[-1], ids[-1])
        self._stored(events)

    def _insert_event_rows(self, run_id: str, rows: list[dict[str, Any]]) -> list[int]:
        raise NotImplementedError

    def _stored(self, events: Sequence[EventLogEntry]) -> None:
        """What the storage does after storing each of a batch's events (the in-memory one
        notifies its watchers)."""

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        # Dagster's version serializes the same event once per partition and compiles one
        # statement with every day's values: seconds per long range of a few hundred checks.
        # The rows also leave the event out: it is in the event log already (the row's
        # evaluation_event_storage_id points at it), and its ~1.5 kB (the partitions definition and
        # subset) repeated on every day's row was 36 of the 90-day demo's 95 MB index. Dagster
        # reads a planned row without its event (as it reads its own older rows) and takes a
        # check's partition status from the storage ids; the evaluation replaces the row's event.
        planned = event.get_dagster_event().event_specific_data
        assert isinstance(planned, AssetCheckEvaluationPlanned)
        keys: list[str | None] = (
            [*planned.partitions_subset.get_partition_keys()] if planned.partitions_subset else [None]
        )
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": None,
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**row, "partition": key} for key in keys])


class BatchedInMemoryEventLogStorage(BatchedAssetEvents, InMemoryEventLogStorage):
    """In-memory storage (ephemeral instances: tests, the benchmark) with batch writes."""

    def _insert_event_rows(self, run_id: str, rows: list[dict[str, Any]]) -> list[int]:
        with self.run_connection(run_id) as conn:
            return insert_returning_ids(conn, rows)

    def _stored(self, events: Sequence[EventLogEntry]) -> None:
        # as InMemoryEventLogStorage.store_event does after each event
        for event in events:
            self._storage_id += 1
            for handler in list(self._handlers[event.run_id]):
                handler(event, str(EventLogCursor.from_storage_id(self._storage_id)))


class BatchedSqliteEventLogStorage(BatchedAssetEvents, SqliteEventLogStorage):
    """The UI's on-disk storage (SQLite files under DAGSTER_HOME) with batch writes and kept
    connections: the run's own file, and the index file that mirrors asset events for
    cross-run queries.

    Its files are where Dagster's default storage keeps them (DAGSTER_HOME/history/runs), so an
    instance switches to it, or back, with its history intact. dagster.yaml names the guarded
    entry point, event_log.BatchedSqliteEventLogStorage, which builds this one on a tested Dagster."""

    # Files kept open at once: a run writes its own file and the index.
    KEPT_FILES = 8

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, db.engine.Engine] = OrderedDict()  # before Dagster's init connects
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.engine.Connection]:
        """Dagster's, on a connection kept open per file. Dagster builds an engine and opens the
        file for every use: each event's statements were compiled anew, opening and closing the
        file (the last connection to close checkpoints the WAL) cost more than the writes, and
        every commit waited for the disk: a new day's events took several times longer on disk
        than in memory. Commits here do not wait for the disk (WAL with synchronous=NORMAL: a power cut
        can lose the last events, never corrupt the file)."""
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                sqlite = conn.connection.driver_connection  # the sqlite3 connection under SQLAlchemy's
                assert sqlite is not None
                changes = sqlite.total_changes
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME and sqlite.total_changes != changes:
                    self._mark_run_file_changed(shard)

    def _mark_run_file_changed(self, run_id: str) -> None:
        """The UI follows a running run's logs with Dagster's file watcher, which reacts to the
        run's file changing. On a kept connection a commit only grows the WAL beside the file
        (Dagster's closing connection checkpointed it into the file each time), so a write marks
        the file itself (only a write: the watcher reads, and a read must not wake it again)."""
        os.utime(self.path_for_shard(run_id))

    def _engine(self, shard: str) -> db.engine.Engine:
        if shard in self._engines:
            self._engines.move_to_end(shard)
            return self._engines[shard]
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            # all use is under the storage's lock; Dagster's _initdb opens a second connection
            # (it inspects the file while its first is open), closed when returned
            poolclass=db.pool.QueuePool,
            pool_size=1,
            max_overflow=1,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _commit_without_waiting_for_disk)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > self.KEPT_FILES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def _close_files(self) -> None:
        while self._engines:
            self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        with self._db_lock:
            self._close_files()  # the run files are deleted: no connection may stay on one
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock:
            self._close_files()

    def _insert_event_rows(self, run_id: str, rows: list[dict[str, Any]]) -> list[int]:
        with self.run_connection(run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_connection() as conn:
            return insert_returning_ids(conn, rows)


def _commit_without_waiting_for_disk(dbapi_connection, _record) -> None:
    # Dagster creates its files in WAL mode (a no-op then); synchronous is per connection
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def ephemeral_instance() -> dg.DagsterInstance:
    """What dg.DagsterInstance.ephemeral() builds, with the batched in-memory event log."""
    from dagster._core.instance import InstanceType
    from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
    from dagster._core.run_coordinator import DefaultRunCoordinator
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._core.storage.root import TemporaryLocalArtifactStorage
    from dagster._core.storage.runs import InMemoryRunStorage

    return dg.DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=InMemoryRunStorage(),
        event_storage=BatchedInMemoryEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )
