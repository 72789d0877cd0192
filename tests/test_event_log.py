"""The batched event log storages store what Dagster's own storages store, event by event.

Real Dagster runs of a small partitioned graph (a range run over 12 days, with data versions,
metadata and a partitioned check) record into Dagster's storage with batching off and into
ours; every read the UI and the sensors make of those records must agree.
"""

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import sqlalchemy
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.utils import make_new_run_id

from smepulse_lib.instance import event_log_batching as event_log
from smepulse_lib.names import RANGE_END_TAG, RANGE_START_TAG
from smepulse_lib.settings import EVENT_BATCH_SIZE_ENV, REPO_ROOT, apply_instance_env

pytestmark = pytest.mark.slow  # runs dbt or Dagster runs

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-13")
RANGE = {RANGE_START_TAG: "2024-01-01", RANGE_END_TAG: "2024-01-12"}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), code_version="1")
def invoices(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)}, data_version=dg.DataVersion("v1"))


@dg.asset(
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[invoices],
    code_version="1",
    check_specs=[dg.AssetCheckSpec("has_rows", asset="ar_days")],
)
def ar_days(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"first": context.partition_key_range.start},
        check_results=[dg.AssetCheckResult(check_name="has_rows", passed=True)],
    )


GRAPH = dg.Definitions(assets=[invoices, ar_days], jobs=[dg.define_asset_job("range_job", partitions_def=DAYS)])
KEYS = [invoices.key, ar_days.key]
CHECK = dg.AssetCheckKey(ar_days.key, "has_rows")


def run_range(instance: dg.DagsterInstance) -> str:
    result = GRAPH.resolve_job_def("range_job").execute_in_process(instance=instance, tags=RANGE)
    assert result.success
    return result.run_id


def recorded(instance: dg.DagsterInstance, run_id: str) -> dict:
    """What the UI and sensors read back of a range run, without storage ids and timestamps."""
    storage = instance.event_log_storage
    views: dict = {
        "event_types": Counter(
            e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.is_dagster_event
        )
    }
    for key in KEYS:
        materializations = instance.fetch_materializations(key, limit=100, ascending=True).records
        latest = storage.get_asset_records([key])[0].asset_entry
        views[key.to_user_string()] = {
            "partitions": sorted(instance.get_materialized_partitions(key)),
            "per_day": [
                (r.partition_key, dict(r.asset_materialization.metadata), r.asset_materialization.tags)
                for r in materializations
            ],
            "tags": sorted(sorted(t.items()) for t in instance.get_event_tags_for_asset(key)),
            "data_version_of_last_day": instance.get_latest_data_version_record(
                key, partition_key="2024-01-12"
            ).asset_materialization.tags,
            "latest": (latest.last_materialization.dagster_event.partition, latest.last_run_id == run_id),
        }
    history = storage.get_asset_check_execution_history(CHECK, limit=100)
    views["check_executions"] = Counter((r.partition, r.status.value) for r in history)
    views["check_partitions"] = sorted(
        (i.partition_key or "", i.latest_execution_status.value, i.latest_planned_run_id == run_id)
        for i in storage.get_asset_check_partition_info([CHECK])
    )
    latest = storage.get_latest_asset_check_execution_by_key([CHECK])[CHECK]
    views["latest_check"] = (latest.partition, latest.status.value, latest.run_id == run_id)
    return views


def planned_rows(instance: dg.DagsterInstance) -> tuple[int, int]:
    """The planned check rows, and how many of them hold a serialized event."""
    with instance.event_log_storage.index_connection() as conn:
        count, bodies = conn.execute(
            sqlalchemy.text(
                "select count(*), count(evaluation_event) from asset_check_executions "
                "where execution_status = 'PLANNED'"
            )
        ).one()
    return count, bodies


def one_by_one(instance: dg.DagsterInstance) -> dict:
    """Batching off: each event in its own write, as Dagster's storages do by default."""
    with mock.patch.dict(os.environ, {EVENT_BATCH_SIZE_ENV: "0"}):
        return recorded(instance, run_range(instance))


def batched(instance: dg.DagsterInstance) -> tuple[dict, int]:
    apply_instance_env()  # as the code location and `smepulse ui` do: batches of a range's days
    with mock.patch.object(event_log, "insert_returning_ids", wraps=event_log.insert_returning_ids) as writes:
        run_id = run_range(instance)
    return recorded(instance, run_id), writes.call_count


@contextmanager
def home_instance(home: Path, dagster_yaml: str) -> Iterator[dg.DagsterInstance]:
    """An instance on disk, as the UI loads it: DAGSTER_HOME holding a dagster.yaml."""
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(dagster_yaml)
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": str(home)}), dg.DagsterInstance.get() as instance:
        yield instance


def test_a_range_run_in_memory_records_the_same_batched():
    expected = one_by_one(dg.DagsterInstance.ephemeral())
    views, batches = batched(event_log.ephemeral_instance())
    assert batches == len(KEYS)  # one write per asset's 12 days, not 12
    assert views == expected
    # the comparison has something to compare
    assert views["event_types"]["ASSET_MATERIALIZATION"] == 24
    assert sum(views["check_executions"].values()) >= 12
    assert views["ar_days"]["latest"] == ("2024-01-12", True)
    assert views["invoices"]["data_version_of_last_day"]["dagster/data_version"] == "v1"


def test_the_ui_instance_records_the_same_batched_on_disk(tmp_path):
    """The repository's dagster.yaml (what `smepulse ui` and `smepulse demo` use) against Dagster's
    default on-disk storage: the same records, in the same files (history/runs: the run's own
    file and the cross-run index)."""
    with home_instance(tmp_path / "default", "telemetry:\n  enabled: false\n") as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        expected = one_by_one(instance)
        assert planned_rows(instance) == (12, 12)  # the range's planned event on every day's row
    with home_instance(tmp_path / "ours", (REPO_ROOT / "dagster.yaml").read_text()) as instance:
        assert isinstance(instance.event_log_storage, event_log.BatchedSqliteEventLogStorage)
        views, batches = batched(instance)
        planned_ours = planned_rows(instance)
    assert batches == len(KEYS)
    assert views == expected
    # the planned rows, one per day, leave out the event Dagster's storage repeats on each
    assert planned_ours == (12, 0)

    def files(home):
        return sorted(p.name for p in (tmp_path / home / "history" / "runs").glob("*.db"))

    assert len(files("ours")) == 2 and "index.db" in files("ours")
    assert len(files("default")) == 2


def test_a_batch_of_two_assets_events_is_stored_one_by_one():
    """Dagster batches one output's days; a batch mixing assets is stored as single events."""
    source = dg.DagsterInstance.ephemeral()
    events = [
        e
        for e in source.all_logs(run_range(source))
        if e.is_dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
    ]
    storage = event_log.BatchedInMemoryEventLogStorage()
    with mock.patch.object(event_log, "insert_returning_ids", wraps=event_log.insert_returning_ids) as writes:
        storage.store_event_batch(events)
    assert writes.call_count == 0
    for key in KEYS:
        assert storage.get_materialized_partitions(key) == set(DAYS.get_partition_keys())


def test_the_on_disk_storage_keeps_its_files_open_and_other_readers_see_every_event(tmp_path):
    """Runs write through one kept connection per file (Dagster opened each file for every
    event); what they commit is there for another process's storage (the UI's, the daemon's)."""
    with home_instance(tmp_path / "ours", (REPO_ROOT / "dagster.yaml").read_text()) as instance:
        storage = instance.event_log_storage
        opened = []

        def count(dbapi_connection, _record):  # every event log file opened, by any engine
            path = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
            if Path(path).parent.name == "runs":
                opened.append(path)

        sqlalchemy.event.listen(sqlalchemy.pool.Pool, "connect", count)
        try:
            run_ids = [run_range(instance) for _ in range(3)]
        finally:
            sqlalchemy.event.remove(sqlalchemy.pool.Pool, "connect", count)
        # a run file: its kept connection and the one Dagster's _initdb opens beside it; the index
        # is also opened by Dagster's own engines (its table checks)
        assert all(Counter(opened)[storage.path_for_shard(run_id)] <= 2 for run_id in run_ids)
        assert len(opened) <= 6 * len(run_ids)  # Dagster's own storage opened its files ~56 times per run here
        with storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        for _ in range(storage.KEPT_FILES):  # more files than are kept open: the oldest are closed
            run_range(instance)
        assert len(storage._engines) == storage.KEPT_FILES
        expected = {key: instance.get_materialized_partitions(key) for key in KEYS}
        counts = [len(instance.all_logs(run_id)) for run_id in run_ids]
        other = SqliteEventLogStorage(str(tmp_path / "ours" / "history" / "runs"))  # Dagster's own, another reader
        assert {key: other.get_materialized_partitions(key) for key in KEYS} == expected
        assert [len(other.get_logs_for_run(run_id)) for run_id in run_ids] == counts
        storage.wipe()  # deletes the run files: none stays open (the index is emptied, and open again)
        assert list(storage._engines) == ["index"]
        assert [p.name for p in (tmp_path / "ours" / "history" / "runs").glob("*.db")] == ["index.db"]


def test_a_run_written_on_disk_is_followed_live_by_another_storage(tmp_path):
    """The UI follows a running run's logs through Dagster's file watcher on the run's file, from
    its own process. With the writer's connection kept open a commit only grows the WAL beside
    that file; each write must still reach the watcher as it happens, and a read must not."""
    base = str(tmp_path / "runs")
    writer, ui = event_log.BatchedSqliteEventLogStorage(base), event_log.BatchedSqliteEventLogStorage(base)
    run_id, seen = make_new_run_id(), []

    def entry(message):
        return EventLogEntry(
            error_info=None, level=logging.INFO, user_message=message, run_id=run_id, timestamp=time.time()
        )

    writer.store_event(entry("started"))  # the run's file exists before anyone watches it
    ui.watch(run_id, None, lambda event, _cursor: seen.append(event.user_message))
    try:
        for n in range(3):
            writer.store_event(entry(f"event {n}"))
            deadline = time.monotonic() + 10
            while f"event {n}" not in seen and time.monotonic() < deadline:
                time.sleep(0.05)
            assert f"event {n}" in seen, f"the watcher did not see event {n}: {seen}"
        assert seen[0] == "started" and len(seen) == len(set(seen)) == 4
        run_file = Path(writer.path_for_shard(run_id))
        before = run_file.stat().st_mtime_ns
        time.sleep(0.01)
        assert len(ui.get_records_for_run(run_id).records) == 4 and run_file.stat().st_mtime_ns == before
    finally:
        ui.dispose()
        writer.dispose()


def test_an_untested_dagster_version_gets_dagsters_own_storage_with_a_warning(tmp_path, monkeypatch, caplog):
    """The batched storages override private methods: on a Dagster they were not tested with, the
    instance the UI, the daemon and every run open must still work, on Dagster's storage."""
    from smepulse_lib import private_api
    from smepulse_lib.instance import event_log as guard

    monkeypatch.setitem(private_api.TESTED_VERSIONS, "dagster", ("0.0.0",))
    with caplog.at_level("WARNING", logger=private_api.logger.name):
        with home_instance(tmp_path / "home", (REPO_ROOT / "dagster.yaml").read_text()) as instance:
            assert type(instance.event_log_storage) is SqliteEventLogStorage
            expected_records = one_by_one(instance)
        assert type(guard.ephemeral_instance().event_log_storage).__name__ == "InMemoryEventLogStorage"
    assert expected_records["event_types"]["ASSET_MATERIALIZATION"] == 24  # runs record as usual
    assert "is not a version the batched event log" in caplog.text
