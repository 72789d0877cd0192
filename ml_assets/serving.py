"""Which model served each day: recorded by a model asset, read by its scores.

A model asset's materialization of a day records the registry's champion version of each of
its models after that day's step (``serving_versions``) and the serving baseline of the
training in force (``serving_baseline``). A range run trains at the retrain cadence through
its days (``training.trained_or_kept``), so its days record what served each of them, and the
scores asset scores each run of days served alike with that version: a backfill makes the
same first predictions as running the days one by one, and an early invoice is never
predicted by a model that saw its outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg

from ml_assets.tracking import champion_version, load_version
from smepulse_lib.metadata import plain_values
from smepulse_lib.windows import DayWindow

SERVING_VERSIONS_KEY = "serving_versions"
# Where a model asset's metadata keeps the serving baseline its training fitted.
SERVING_BASELINE_KEY = "serving_baseline"


def serving_versions(model_names: list[str]) -> dict[str, str | None]:
    """Each model's champion version in the registry now (None: nothing promoted yet)."""
    return {name: champion_version(name) for name in model_names}


@dataclass(frozen=True)
class Serving:
    """What served a run of consecutive days: the champion versions their model materializations
    recorded (None: no record, an older materialization or none, so the registry's champion now)
    and, while a model has no champion, the serving baseline of the training in force."""

    window: DayWindow
    versions: dict[str, str | None] | None
    baseline: Any = None
    trained_as_of: str | None = None

    def version(self, model_name: str) -> str | None:
        """The champion version that served these days; None while nothing had been promoted."""
        return champion_version(model_name) if self.versions is None else self.versions.get(model_name)

    def load(self, model_name: str, flavor_name: str = "sklearn") -> tuple[Any, str] | None:
        """The model that served these days and its version, from the registry; None without one."""
        version = self.version(model_name)
        return None if version is None else (load_version(model_name, version, flavor_name), version)

    def scored_with(self) -> str:
        """Where a model that served these days came from, for the scores' metadata."""
        if self.versions is None:
            return "the registry's champion"
        return f"the champion serving on {self.window.label()}"

    def baseline_source(self) -> str:
        return f"baseline fitted by the training as of {self.trained_as_of}"


def serving_plan(context: dg.AssetExecutionContext, model_key: dg.AssetKey) -> list[Serving]:
    """The days of the run's window, as runs of consecutive days that the same model served,
    from the model asset's materialization of each day. A day without a champion and without
    a fitted baseline (its model was not trained: too little data) is a run of its own, since
    the baseline is then fitted on the labels known by that day."""
    window = DayWindow.of(context.partition_time_window)
    recorded = _latest_by_day(context.instance, model_key, window)
    plan: list[Serving] = []
    previous_key = None
    for day in window.days:
        serving, key = _day_serving(day, recorded.get(f"{day}", {}))
        if plan and key == previous_key:
            last = plan[-1]
            plan[-1] = Serving(DayWindow(last.window.first, day), last.versions, last.baseline, last.trained_as_of)
        else:
            plan.append(serving)
        previous_key = key
    return plan


def _day_serving(day: date, metadata: dict[str, Any]) -> tuple[Serving, str]:
    versions = metadata.get(SERVING_VERSIONS_KEY)
    baseline = metadata.get(SERVING_BASELINE_KEY)
    trained_as_of = metadata.get("trained_as_of")
    serving = Serving(DayWindow(day, day), versions, baseline, trained_as_of)
    if versions is None:  # no record of that day: the registry's champion as it is now
        return serving, "registry"
    if any(v is not None for v in versions.values()):
        return serving, json.dumps(versions, sort_keys=True)
    if baseline is None:
        return serving, f"fit as of {day}"
    return serving, json.dumps([versions, baseline, trained_as_of], sort_keys=True)


def _latest_by_day(instance: dg.DagsterInstance, model_key: dg.AssetKey, window: DayWindow) -> dict[str, dict]:
    """The plain metadata of each day's latest materialization of the model asset."""
    days = [f"{d}" for d in window.days]
    found: dict[str, dict] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=model_key, asset_partitions=days),
            limit=max(len(days), 100),
            cursor=cursor,
            ascending=False,
        )
        for record in page.records:
            event = record.asset_materialization
            if event is not None and event.partition is not None and event.partition not in found:
                found[event.partition] = plain_values(event.metadata)
        if not page.has_more or len(found) == len(days):
            return found
        cursor = page.cursor


@dataclass(frozen=True)
class WrittenDays:
    """Where a scores asset writes: ``ml.<table>``, one row per day in ``day_column`` and more."""

    table: str
    day_column: str


def record_days(
    context: dg.AssetExecutionContext,
    con,
    written: WrittenDays,
    serving: Serving,
    metadata: dict[str, Any],
    counts: dict[str, str] | None = None,
) -> None:
    """What scored the days ``serving`` covers and the rows each got (``counts``: more per-day
    aggregates, name -> SQL), on each day's materialization of the scores asset. The step's own
    result carries nothing: a range's figures would be copied onto every day."""
    aggregates = {"rows": "count(*)", **(counts or {})}
    select = ", ".join(f"{sql} as {name}" for name, sql in aggregates.items())
    per_day = con.execute(
        f"select {written.day_column}::date as day, {select} from ml.{written.table} "
        f"where {written.day_column} between ? and ? group by all",
        [serving.window.first, serving.window.last],
    ).df()
    found = {f"{row.day.date()}": row for row in per_day.itertuples()}
    for day in serving.window.days:
        row = found.get(f"{day}")
        figures = {name: int(getattr(row, name)) if row is not None else 0 for name in aggregates}
        context.add_asset_metadata({**metadata, **figures}, partition_key=f"{day}")
