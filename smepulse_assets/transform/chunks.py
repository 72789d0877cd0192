"""Long ranges of the ML serving models built in chunks of whole days, and the chunks' results
merged back into one build's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from smepulse_lib.windows import DayWindow

# A long range of the ML serving models is built in chunks of consecutive days holding at most
# this many scored invoices: ranking all 520 days of every open invoice's scores in one
# statement (the score_ar_priority view as the worklist reads it, ~200M rows at 5 million
# invoices) ran out of the warehouse's memory cap; 165M rows did not. Each chunk costs a dbt
# start, so chunks stay large. Those models replace their rows day by day (two are
# views): chunks build exactly what one build would.
ML_SERVING_CHUNK_ROWS = 30_000_000
ML_SERVING_VOLUME = ("ml.ar_priority_scores", "score_date")  # rows per day: every open invoice


def serving_chunks(warehouse: DuckDBResource, window: DayWindow) -> list[DayWindow]:
    """The window cut into runs of days of at most ML_SERVING_CHUNK_ROWS scored invoices."""
    table, column = ML_SERVING_VOLUME
    # the ML tables keep their day as a timestamp (written from pandas): the key is its date
    sql = f"select cast({column} as date)::varchar, count(*) from {table} where {column} between ? and ? group by 1"
    with warehouse.get_connection() as con:
        try:
            counts = dict(con.execute(sql, [window.first, window.last]).fetchall())
        except duckdb.CatalogException:  # nothing scored yet: one build
            return [window]
    return split_window(window, counts, ML_SERVING_CHUNK_ROWS)


def split_window(window: DayWindow, rows_by_day: Mapping[str, int], max_rows: int) -> list[DayWindow]:
    """Consecutive sub-windows covering the window, each of whole days holding at most max_rows
    rows (a day holding more is a chunk of its own)."""
    chunks, start, rows = [], window.first, 0
    for day in window.days:
        day_rows = rows_by_day.get(f"{day}", 0)
        if rows and rows + day_rows > max_rows:
            chunks.append(DayWindow(start, day - timedelta(days=1)))
            start, rows = day, 0
        rows += day_rows
    return [*chunks, DayWindow(start, window.last)]


# The order in which one node's results over chunks are reported: its worst.
_STATUS_RANK = {"error": 3, "fail": 3, "runtime error": 3, "warn": 2, "skipped": 1}


def worst_results(chunk_results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run results of chunked builds as one: each node's worst result over the chunks."""
    worst: dict[str, Mapping[str, Any]] = {}
    for results in chunk_results:
        for result in results["results"]:
            kept = worst.get(result["unique_id"])
            if kept is None or _STATUS_RANK.get(result["status"], 0) >= _STATUS_RANK.get(kept["status"], 0):
                worst[result["unique_id"]] = result
    return {"results": list(worst.values())}


def one_event_per_output(chunk_events: Iterable[list[Any]]) -> list[Any]:
    """The events of chunked builds as one build's: an output's last materialization (every
    chunk builds every model) and a check's first failure, else its last result."""
    merged: dict[Any, Any] = {}
    for events in chunk_events:
        for event in events:
            if isinstance(event, dg.Output):
                key: Any = ("output", event.output_name)
            elif isinstance(event, dg.AssetCheckResult):
                key = ("check", event.asset_key, event.check_name)
                if key in merged and not merged[key].passed:
                    continue
            else:
                key = id(event)
            merged[key] = event
    return list(merged.values())
