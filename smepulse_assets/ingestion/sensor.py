"""One sensor over every source's landing folder: new or changed drops request their days.

The sensor remembers, per source, a fingerprint of every drop file seen (size and
modification time and a digest of the content, or the ETag on S3: fingerprints.py; kept in the
instance, the cursor being their digest: sensor_state.py), so
the same file never triggers twice and a rewritten file triggers again, even one copied
in with its old timestamps. Changed days of all sources are merged before runs are
requested: a day whose eight sources land together is one run (of the landed-days job,
which builds every source's day and scores it), not one per source; days that follow each other
form one range run (the assets have single-run backfill policies), so a month
landing at once is one run, not thirty. Files in a folder that is not a day of the
partitions are reported once, not crashed on.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg

from smepulse_assets.ingestion.fingerprints import Fingerprints, fingerprints
from smepulse_assets.ingestion.landing import Entry, source_entries
from smepulse_assets.ingestion.sensor_state import load_state, save_state
from smepulse_assets.ingestion.spec import SourceSpec
from smepulse_lib import storage
from smepulse_lib.names import DROP_SENSOR, REFERENCE_JOB, SOURCES_TAG
from smepulse_lib.resources import PlatformPaths
from smepulse_lib.windows import DayWindow


@dataclass
class DropPlan:
    ranges: list[tuple[date, date, str]] = field(default_factory=list)  # first, last, run key
    reports: list[str] = field(default_factory=list)
    cursor: dict = field(default_factory=dict)  # source name -> {"files": ..., "reported": ...}
    sources: dict[date, set[str]] = field(default_factory=dict)  # day -> sources with new drops

    def sources_between(self, first: date, last: date) -> list[str]:
        return sorted({name for day, names in self.sources.items() if first <= day <= last for name in names})


def already_loaded(instance: dg.DagsterInstance, spec: SourceSpec, entries: list[Entry]) -> list[Entry]:
    """The files a sensor starting without a cursor counts as seen: those of days the source's
    bronze asset has materialized, written before its last materialization. Without this, the
    first tick after `smepulse demo` (which loads the landing zone in process) or after a
    backfill would request every day again."""
    latest = instance.get_latest_materialization_event(spec.raw_key)
    if latest is None:
        return []
    loaded_days = instance.get_materialized_partitions(spec.raw_key)
    seen = []
    for entry in entries:
        modified = storage.modified_at(entry.info)
        if entry.folder in loaded_days and modified is not None and modified <= latest.timestamp:
            seen.append(entry)
    return seen


def starting_cursor(instance: dg.DagsterInstance, spec: SourceSpec, entries: list[Entry]) -> dict:
    """A source's cursor when the sensor starts without one: the files already loaded, as seen."""
    return {"files": fingerprints(already_loaded(instance, spec, entries), {}, {}).files}


def source_fingerprints(entries: list[Entry], source_cursor: dict) -> Fingerprints:
    # files outside a day folder are remembered as reported: their content is not read again each tick
    seen = {**source_cursor.get("reported", {}), **source_cursor.get("files", {})}
    return fingerprints(entries, seen, source_cursor.get("markers", {}))


def _partition_day(folder: str, partition_keys: frozenset[str]) -> date | None:
    """The day a folder is named for, None unless it is a partition's key exactly (YYYY-MM-DD:
    ``2020-6-3`` is a folder bronze never reads, so it is reported, not requested)."""
    return date.fromisoformat(folder) if folder in partition_keys else None


def plan_drop_runs(
    listings: list[tuple[SourceSpec, dict[str, str]]], cursor: dict, partition_keys: frozenset[str]
) -> DropPlan:
    """Runs for the days with new or changed files in any source (``listings``: each source and its
    files; ``partition_keys``: the days of the partitions, asked of the definition once, not per file)."""
    plan = DropPlan()
    changed: dict[date, list[str]] = {}
    for spec, files in listings:
        seen: dict[str, str] = cursor.get(spec.name, {}).get("files", {})
        reported: dict[str, str] = cursor.get(spec.name, {}).get("reported", {})
        state = plan.cursor[spec.name] = {"files": dict(seen), "reported": dict(reported)}
        for relative, fingerprint in sorted(files.items()):
            folder = relative.split("/", 1)[0]
            day = _partition_day(folder, partition_keys) if "/" in relative else None
            if day is None:
                if reported.get(relative) != fingerprint:
                    plan.reports.append(
                        f"{spec.name}/{relative}: not in a YYYY-MM-DD folder within the partitions; not loaded"
                    )
                    state["reported"][relative] = fingerprint
                continue
            if seen.get(relative) != fingerprint:
                changed.setdefault(day, []).append(f"{spec.name}/{relative}={fingerprint}")
                plan.sources.setdefault(day, set()).add(spec.name)
                state["files"][relative] = fingerprint
        for relative in sorted(set(seen) - set(files)):  # removed: the day's delivery changed too
            day = _partition_day(relative.split("/", 1)[0], partition_keys)
            if day is not None:
                changed.setdefault(day, []).append(f"{spec.name}/{relative}=removed")
                plan.sources.setdefault(day, set()).add(spec.name)
            del state["files"][relative]
    _through_newest_loaded(changed, _newest_day(cursor, partition_keys))
    plan.ranges = _contiguous_ranges(changed)
    return plan


def _newest_day(cursor: dict, partition_keys: frozenset[str]) -> date | None:
    """The newest day with a file seen before this tick: loaded, or requested already."""
    days = [
        _partition_day(relative.split("/", 1)[0], partition_keys)
        for state in cursor.values()
        for relative in state.get("files", {})
    ]
    return max((d for d in days if d is not None), default=None)


def _through_newest_loaded(changed: dict[date, list[str]], newest: date | None) -> None:
    """A changed day before the newest loaded one (a corrected or late delivery) also changes the
    days after it: their snapshots (aging, the customer's payment record, features as of each
    day) count what it delivered. They join its run, so a correction reaches every table."""
    if newest is None or not changed or min(changed) >= newest:
        return
    day = min(changed)
    while day < newest:
        day += timedelta(days=1)
        changed.setdefault(day, []).append("follows an earlier changed day")


def _contiguous_ranges(changed: dict[date, list[str]]) -> list[tuple[date, date, str]]:
    ranges: list[tuple[date, date, str]] = []
    run: list[date] = []
    for day in sorted(changed):
        if run and day - run[-1] != timedelta(days=1):
            ranges.append(_range(run, changed))
            run = []
        run.append(day)
    if run:
        ranges.append(_range(run, changed))
    return ranges


def _range(days: list[date], changed: dict[date, list[str]]) -> tuple[date, date, str]:
    digest = hashlib.sha1("\n".join(f for d in days for f in changed[d]).encode()).hexdigest()[:16]
    return days[0], days[-1], f"landing:{days[0]}..{days[-1]}:{digest}"


class PartitionKeys:
    """The partitions' keys, listed again only when the last one changes (a new day): listing the
    days of a year and more took a fifth of a quiet tick."""

    def __init__(self, partitions_def: dg.PartitionsDefinition):
        self.partitions_def = partitions_def
        self.last: str | None = None
        self.keys: frozenset[str] = frozenset()

    def current(self) -> frozenset[str]:
        last = self.partitions_def.get_last_partition_key()
        if last != self.last:
            self.keys, self.last = frozenset(self.partitions_def.get_partition_keys()), last
        return self.keys


def _never_materialized(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> list[str]:
    return [k.to_user_string() for k in keys if instance.get_latest_materialization_event(k) is None]


def run_request_for(first: date, last: date, run_key: str, sources: list[str]) -> dg.RunRequest:
    return DayWindow(first, last).run_request(run_key, {SOURCES_TAG: ",".join(sources)})


def build_drop_sensor(
    specs: list[SourceSpec], job, partitions_def: dg.PartitionsDefinition, waits_for: Iterable[dg.AssetKey] = ()
):
    """``waits_for``: assets the daily runs read but do not build (the calendar, the FX seed): on a
    fresh install the sensor waits for their first load (the seed sensor requests it) instead of
    starting a daily run that would fail on their absence."""
    prerequisites = list(waits_for)
    partition_keys = PartitionKeys(partitions_def)
    folders = ", ".join(f"<landing>/{s.name}/{s.landing.format(day='<YYYY-MM-DD>')}" for s in specs)

    @dg.sensor(
        name=DROP_SENSOR,
        job=job,
        # Dagster's sensor daemon looks every 5 s; under that, every look ticks: a drop waits ~5 s at
        # most, for a listing per source each time (a few LIST calls on S3, files already seen not read)
        minimum_interval_seconds=4,
        # on from the start: its first tick counts what was already loaded as seen (already_loaded)
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests one run of {job.name} for the days with new or changed drops in any of {folders}.",
    )
    def drop_sensor(context: dg.SensorEvaluationContext, paths: PlatformPaths):
        # a tick with nothing new must cost little: it runs every few seconds beside the runs, on the
        # same cores. It opens the instance only to start, to save changed fingerprints, or to check
        # the reference data before requesting a run (sensor_state keeps the last fingerprints).
        # every file under each source's folder: those it loads and those it skips (a day's run reports them)
        entries = {spec.name: source_entries(spec, paths.landing_url) for spec in specs}
        cursor = load_state(lambda: context.instance, context.cursor)
        if cursor is None:
            cursor = {spec.name: starting_cursor(context.instance, spec, entries[spec.name]) for spec in specs}
        prints = {spec.name: source_fingerprints(entries[spec.name], cursor.get(spec.name, {})) for spec in specs}
        listings = [(spec, prints[spec.name].files) for spec in specs]
        plan = plan_drop_runs(listings, cursor, partition_keys.current())
        missing = _never_materialized(context.instance, prerequisites) if plan.ranges else []
        if missing:  # the cursor stays: the days are requested once the reference data is there
            return dg.SkipReason(f"Waiting for the reference data's first load ({REFERENCE_JOB}): {', '.join(missing)}")
        for spec in specs:
            plan.cursor[spec.name]["markers"] = prints[spec.name].markers
        for report in plan.reports:
            context.log.warning(report)
        requests = [
            run_request_for(first, last, key, plan.sources_between(first, last)) for first, last, key in plan.ranges
        ]
        skip = None if requests else dg.SkipReason("No new or changed drops.")
        new_cursor = save_state(lambda: context.instance, plan.cursor, context.cursor)
        return dg.SensorResult(run_requests=requests, cursor=new_cursor, skip_reason=skip)

    return drop_sensor
