"""Sensor per source: new or changed drops request their daily partitions.

The cursor remembers a fingerprint of every drop file seen (size and ETag or
modification time), so the same file never triggers twice and a rewritten file
triggers again. Days with new drops that follow each other are requested as
one range run (the assets have single-run backfill policies), so a month
landing at once is one run, not thirty. Files in a folder that is not a day of
the partitions are reported once, not crashed on.
"""


import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import dagster as dg

from .. import storage
from ..resources import PlatformPaths
from .spec import SourceSpec


@dataclass
class DropPlan:
    ranges: list[tuple[date, date, str]] = field(default_factory=list)  # first, last, run key
    reports: list[str] = field(default_factory=list)
    cursor: dict = field(default_factory=dict)


def list_drop_files(spec: SourceSpec, landing_url: str) -> dict[str, str]:
    """Every file under the source's landing folder matching its pattern, relative path -> fingerprint."""
    fs, root = storage.filesystem(storage.join(landing_url, spec.name))
    if not fs.exists(root):
        return {}
    pattern = spec.landing.format(day="*")
    found = {path[len(root) :].lstrip("/"): info for path, info in fs.find(root, detail=True).items()}
    return {relative: storage.file_fingerprint(info) for relative, info in found.items() if fnmatch.fnmatch(relative, pattern)}


def _partition_day(folder: str, partitions_def: dg.PartitionsDefinition) -> date | None:
    try:
        day = datetime.strptime(folder, "%Y-%m-%d").date()
    except ValueError:
        return None
    return day if partitions_def.has_partition_key(f"{day}") else None


def plan_drop_runs(
    spec: SourceSpec, files: dict[str, str], cursor: dict, partitions_def: dg.PartitionsDefinition
) -> DropPlan:
    seen: dict[str, str] = cursor.get("files", {})
    reported: dict[str, str] = cursor.get("reported", {})
    plan = DropPlan(cursor={"files": dict(seen), "reported": dict(reported)})
    changed: dict[date, list[str]] = {}
    for relative, fingerprint in sorted(files.items()):
        folder = relative.split("/", 1)[0]
        day = _partition_day(folder, partitions_def) if "/" in relative else None
        if day is None:
            if reported.get(relative) != fingerprint:
                plan.reports.append(
                    f"{spec.name}/{relative}: not in a YYYY-MM-DD folder within the partitions; not loaded"
                )
                plan.cursor["reported"][relative] = fingerprint
            continue
        if seen.get(relative) != fingerprint:
            changed.setdefault(day, []).append(f"{relative}={fingerprint}")
            plan.cursor["files"][relative] = fingerprint
    plan.ranges = _contiguous_ranges(spec.name, changed)
    return plan


def _contiguous_ranges(source: str, changed: dict[date, list[str]]) -> list[tuple[date, date, str]]:
    ranges: list[tuple[date, date, str]] = []
    run: list[date] = []
    for day in sorted(changed):
        if run and day - run[-1] != timedelta(days=1):
            ranges.append(_range(source, run, changed))
            run = []
        run.append(day)
    if run:
        ranges.append(_range(source, run, changed))
    return ranges


def _range(source: str, days: list[date], changed: dict[date, list[str]]) -> tuple[date, date, str]:
    digest = hashlib.sha1("\n".join(f for d in days for f in changed[d]).encode()).hexdigest()[:16]
    return days[0], days[-1], f"{source}:{days[0]}..{days[-1]}:{digest}"


def run_request_for(first: date, last: date, run_key: str) -> dg.RunRequest:
    if first == last:
        return dg.RunRequest(run_key=run_key, partition_key=f"{first}")
    return dg.RunRequest(
        run_key=run_key,
        tags={
            "dagster/asset_partition_range_start": f"{first}",
            "dagster/asset_partition_range_end": f"{last}",
        },
    )


def build_drop_sensor(spec: SourceSpec, job, partitions_def: dg.PartitionsDefinition):
    @dg.sensor(
        name=f"{spec.name}_drop_sensor",
        job=job,
        minimum_interval_seconds=30,
        description=f"Requests the daily partitions of new or changed {spec.name} drops "
        f"in <landing>/{spec.name}/{spec.landing.format(day='<YYYY-MM-DD>')}.",
    )
    def drop_sensor(context: dg.SensorEvaluationContext, paths: PlatformPaths):
        cursor = json.loads(context.cursor) if context.cursor else {}
        plan = plan_drop_runs(spec, list_drop_files(spec, paths.landing_url), cursor, partitions_def)
        for report in plan.reports:
            context.log.warning(report)
        requests = [run_request_for(*r) for r in plan.ranges]
        skip = None if requests else dg.SkipReason(f"No new or changed {spec.name} drops.")
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(plan.cursor), skip_reason=skip)

    return drop_sensor
