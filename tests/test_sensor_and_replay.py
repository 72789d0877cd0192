"""Replay splits a snapshot into daily drops; the sensor requests the right partitions once."""

import json
import os
from datetime import date

import dagster as dg

from smepulse_assets.ingestion.sensor_state import load_state
from smepulse_assets.kaggle_invoices.replay import drop_url, replay_file, split_into_drops
from smepulse_assets.tools.runs import evaluate_drop_sensor
from smepulse_lib import private_api, storage
from smepulse_lib.names import DROP_SENSOR, RANGE_END_TAG, RANGE_START_TAG, REFERENCE_JOB, SOURCES_TAG
from tests.kaggle_samples import ROWS, csv_bytes


def test_replay_posts_open_then_clears_on_the_clearing_day(tmp_path):
    rows = [r.split(",") for r in ROWS]
    drops, unroutable = split_into_drops([*rows, ["x"] * 19])
    assert len(unroutable) == 1
    assert min(drops) == date(2020, 1, 26) and max(drops) == date(2020, 2, 20)
    posted = drops[date(2020, 1, 26)]
    assert len(posted) == 4 and all(r[-1] == "1" and r[3] == "" for r in posted)
    assert [r[5] for r in drops[date(2020, 2, 11)]] == ["1930438491.0"]
    assert drops[date(2020, 2, 11)][0][-1] == "0" and drops[date(2020, 2, 11)][0][3] == "2020-02-11 00:00:00"
    assert drops[date(2020, 2, 1)] == []  # a quiet day still gets its (header-only) drop

    source = tmp_path / "kaggle.csv"
    source.write_bytes(csv_bytes(*ROWS))
    replay = replay_file(str(source), str(tmp_path / "landing"))
    files, bad = replay.files, replay.unroutable_rows
    assert bad == 0 and len(files) == (date(2020, 2, 20) - date(2020, 1, 26)).days + 1
    assert replay.first_day == date(2020, 1, 26)


def stored_state(platform, cursor: str | None) -> dict | None:
    """The fingerprints a drop sensor's cursor stands for."""
    return load_state(lambda: platform.instance, cursor)


def reference_loaded(platform) -> None:
    """What the reference job's first run records (the drop sensor waits for it)."""
    reference = platform.defs.resolve_job_def(REFERENCE_JOB).asset_layer.selected_asset_keys
    for key in reference:
        platform.instance.report_runless_asset_event(dg.AssetMaterialization(key))


def test_the_sensor_waits_for_the_reference_data_then_requests_the_days(platform):
    storage.write_bytes(drop_url(platform.settings.landing_url, date(2020, 1, 1)), csv_bytes(*ROWS))
    waiting = evaluate_drop_sensor(platform.defs, platform.instance)
    assert "Waiting for the reference data" in waiting.skip_message and "gold/dim_date" in waiting.skip_message
    reference_loaded(platform)
    assert [r.partition_key for r in evaluate_drop_sensor(platform.defs, platform.instance).run_requests] == [
        "2020-01-01"
    ]


def test_sensor_requests_new_days_once_and_again_when_changed(platform):
    reference_loaded(platform)
    landing = platform.settings.landing_url
    for day in (date(2020, 1, 1), date(2020, 1, 2), date(2020, 1, 5)):
        storage.write_bytes(drop_url(landing, day), csv_bytes(*ROWS))
    storage.write_bytes(storage.join(landing, "kaggle_invoices", "not-a-day", "x.csv"), csv_bytes(*ROWS))

    result = evaluate_drop_sensor(platform.defs, platform.instance)
    requested = sorted(
        (
            r.partition_key or r.tags[RANGE_START_TAG],
            r.tags.get(RANGE_END_TAG),
        )
        for r in result.run_requests
    )
    # two contiguous days form one range run; the lone day gets its own partition run
    assert requested == [("2020-01-01", "2020-01-02"), ("2020-01-05", None)]
    assert "not-a-day" in json.dumps(stored_state(platform, result.cursor)["kaggle_invoices"]["reported"])

    again = evaluate_drop_sensor(platform.defs, platform.instance, result.cursor)
    assert not again.run_requests  # same files: nothing new, and the bad folder is not re-reported
    assert again.cursor == result.cursor  # the same fingerprints

    storage.write_bytes(drop_url(landing, date(2020, 1, 2)), csv_bytes(*ROWS[:2]))  # a re-delivery
    changed = evaluate_drop_sensor(platform.defs, platform.instance, again.cursor)
    # the corrected day and every loaded day after it, whose snapshots count what it delivered
    [request] = changed.run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("2020-01-02", "2020-01-05")
    assert request.tags[SOURCES_TAG] == "kaggle_invoices"
    assert len({r.run_key for r in result.run_requests + changed.run_requests}) == 3

    os.remove(drop_url(landing, date(2020, 1, 5)))  # a delivery taken back whole: the day changed too
    removed = evaluate_drop_sensor(platform.defs, platform.instance, changed.cursor)
    assert [r.partition_key for r in removed.run_requests] == ["2020-01-05"]
    files = stored_state(platform, removed.cursor)["kaggle_invoices"]["files"]
    assert "2020-01-05/invoices_2020-01-05.csv" not in files


def test_sources_landing_on_the_same_day_request_one_run(platform):
    """Eight sources deliver every day: the daily job (which builds all of them) runs once per day,
    not once per source."""
    reference_loaded(platform)
    landing = platform.settings.landing_url
    storage.write_bytes(drop_url(landing, date(2020, 1, 3)), csv_bytes(*ROWS))
    storage.write_bytes(storage.join(landing, "orders", "2020-01-03", "orders.csv"), b"order_id\n")
    storage.write_bytes(storage.join(landing, "payments", "2020-01-04", "payments.csv"), b"payment_id\n")

    result = evaluate_drop_sensor(platform.defs, platform.instance)
    [request] = result.run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2020-01-03",
        "2020-01-04",
    )
    assert request.tags[SOURCES_TAG] == "kaggle_invoices,orders,payments"
    assert set(stored_state(platform, result.cursor)) >= {"kaggle_invoices", "orders", "payments", "customers"}


def test_the_cursor_is_a_digest_and_the_fingerprints_live_in_the_instance(platform, monkeypatch):
    """Dagster stores a sensor's cursor with every tick, skipped ones too: the drop sensor's is the
    digest of its fingerprints (kept once in the instance), not a fingerprint per file."""
    reference_loaded(platform)
    for day in range(1, 31):
        storage.write_bytes(drop_url(platform.settings.landing_url, date(2020, 1, day)), csv_bytes(*ROWS))
    result = evaluate_drop_sensor(platform.defs, platform.instance)
    assert result.cursor.startswith("fingerprints:") and len(result.cursor) < 40
    assert len(stored_state(platform, result.cursor)["kaggle_invoices"]["files"]) == 30
    requested = [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in result.run_requests]
    assert requested == [("2020-01-01", "2020-01-30")]

    # a cursor that is not the stored fingerprints' (set in the UI, a tick never committed) counts as
    # none: the sensor starts again from what bronze materialized (nothing here), so nothing is lost
    assert stored_state(platform, "fingerprints:0000") is None
    reset = evaluate_drop_sensor(platform.defs, platform.instance, "fingerprints:0000")
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in reset.run_requests] == requested
    assert reset.cursor == result.cursor

    # on a Dagster version the key-value store was not tested with, the fingerprints are the cursor
    # (a digest cursor then reads as none: the same days with the same run key, which Dagster does
    # not launch twice)
    monkeypatch.setitem(private_api.TESTED_VERSIONS, "dagster", ("0.0.0",))
    fallback = evaluate_drop_sensor(platform.defs, platform.instance, result.cursor)
    assert [r.run_key for r in fallback.run_requests] == [r.run_key for r in result.run_requests]
    assert len(json.loads(fallback.cursor)["kaggle_invoices"]["files"]) == 30


def test_a_tick_with_nothing_new_does_not_open_the_instance(platform):
    """The daemon ticks the drop sensor every few seconds beside the runs: while nothing lands, a
    tick only lists the landing folders (its context here has no instance: opening one would fail).
    A day folder named otherwise than the partitions' keys is reported, not requested."""
    reference_loaded(platform)
    landing = platform.settings.landing_url
    storage.write_bytes(drop_url(landing, date(2020, 1, 1)), csv_bytes(*ROWS))
    storage.write_bytes(storage.join(landing, "kaggle_invoices", "2020-1-2", "x.csv"), csv_bytes(*ROWS))
    first = evaluate_drop_sensor(platform.defs, platform.instance)
    assert [r.partition_key for r in first.run_requests] == ["2020-01-01"]
    sensor = platform.defs.resolve_sensor_def(DROP_SENSOR)
    with dg.build_sensor_context(cursor=first.cursor, resources=platform.defs.resources) as context:
        quiet = sensor(context)
    assert quiet.skip_reason.skip_message == "No new or changed drops." and quiet.cursor == first.cursor

    storage.write_bytes(drop_url(landing, date(2020, 1, 2)), csv_bytes(*ROWS))
    landed = evaluate_drop_sensor(platform.defs, platform.instance, first.cursor)
    assert [r.partition_key for r in landed.run_requests] == ["2020-01-02"]
    reported = stored_state(platform, landed.cursor)["kaggle_invoices"]["reported"]
    assert list(reported) == ["2020-1-2/x.csv"]


def test_files_the_source_skips_still_start_their_day_and_upper_case_names_are_loaded(platform):
    """A file in a sub-folder of a day, or an upper-case name, is not ignored: the sensor requests
    the day (whose run loads the upper-case file and reports the other in files_accounted_for)."""
    reference_loaded(platform)
    landing = platform.settings.landing_url
    storage.write_bytes(storage.join(landing, "kaggle_invoices", "2020-01-03", "INVOICES.CSV"), csv_bytes(*ROWS))
    storage.write_bytes(storage.join(landing, "kaggle_invoices", "2020-01-07", "late", "x.csv"), csv_bytes(*ROWS))
    result = evaluate_drop_sensor(platform.defs, platform.instance)
    assert sorted(r.partition_key for r in result.run_requests) == ["2020-01-03", "2020-01-07"]
    files = stored_state(platform, result.cursor)["kaggle_invoices"]["files"]
    assert set(files) == {"2020-01-03/INVOICES.CSV", "2020-01-07/late/x.csv"}


def test_a_corrected_file_copied_with_its_old_timestamps_is_seen_and_a_chmod_is_not(platform):
    """`cp -p` / `rsync -t` keep a file's size and modification time: the sensor looks at the
    content when the inode or change time moved, so the correction starts a run; a chmod, or the
    same bytes copied again, do not."""
    reference_loaded(platform)
    day = date(2020, 1, 3)
    url = drop_url(platform.settings.landing_url, day)
    storage.write_bytes(url, csv_bytes(*ROWS))
    first = evaluate_drop_sensor(platform.defs, platform.instance)
    assert [r.partition_key for r in first.run_requests] == [f"{day}"]
    stamp = os.stat(url)

    os.chmod(url, 0o600)
    chmodded = evaluate_drop_sensor(platform.defs, platform.instance, first.cursor)
    assert not chmodded.run_requests

    corrected = csv_bytes(*ROWS).replace(b"54273.28", b"54273.29")  # one cent, same size
    assert len(corrected) == stamp.st_size
    for content, requested in ((csv_bytes(*ROWS), []), (corrected, [f"{day}"])):  # the same bytes, then a fix
        copy = url + ".incoming"
        storage.write_bytes(copy, content)
        os.utime(copy, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # as cp -p / rsync -t leave it
        os.replace(copy, url)
        result = evaluate_drop_sensor(platform.defs, platform.instance, chmodded.cursor)
        assert [r.partition_key for r in result.run_requests] == requested
        chmodded = result
