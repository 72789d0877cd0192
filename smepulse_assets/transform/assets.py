"""The dbt project as Dagster assets: silver, gold and ops models, their tests as asset checks.

Two groups of dbt nodes, two definitions:
- daily models (everything that follows the business day) are partitioned like
  bronze; a run over a range of days is one `dbt build` with the window passed
  in its environment (single-run backfill policy), never one process per day;
- reference nodes (the calendar, the FX seed) are not partitioned: they cover a
  fixed span and are rebuilt whole.
Both write the DuckDB warehouse, so both run in the warehouse pool. Each
materialization carries its layer's run summary (tables succeeded / failed /
skipped, rows written in the window, tests passed / warned / failed).
"""

import os
import signal
import time
from collections.abc import Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from dagster_duckdb import DuckDBResource

from smepulse_assets.quality.layer_summary import LayerSummary, dbt_layer_summaries
from smepulse_assets.transform.chunks import one_event_per_output, serving_chunks, worst_results
from smepulse_assets.transform.failing_rows import describe_samples, described_check, failing_row_samples
from smepulse_assets.transform.housekeeping import keep_parse_state, prune_invocation_folders
from smepulse_assets.transform.metadata import (
    PER_DAY_METADATA_DAYS,
    column_schemas,
    output_metadata,
    rows_by_day,
    window_totals,
)
from smepulse_assets.transform.project import (
    DAILY_STEP,
    ML_SERVING_SELECT,
    ML_SERVING_STEP,
    REFERENCE_SELECT,
    REFERENCE_STEP,
    SALES_DB_SELECT,
    SALES_DB_STEP,
    prepared_manifest,
    window_in_env,
)
from smepulse_assets.transform.translator import SmePulseTranslator
from smepulse_assets.transform.warehouse_lock import wait_for_warehouse
from smepulse_lib.background_imports import loading_in_background
from smepulse_lib.conventions import WAREHOUSE_POOL
from smepulse_lib.settings import Settings
from smepulse_lib.windows import DayWindow

# The unit tests of the SQL rules run on their fixtures in the test suite (tests/test_dbt_unit.py),
# not in every run: the data a run builds is checked by the data tests.
BUILD = ["build", "--exclude-resource-type", "unit_test"]


def build_dbt_assets(
    settings: Settings, partitions_def: dg.PartitionsDefinition, later_libraries: Sequence[str] = ()
) -> list[dg.AssetsDefinition]:
    """``later_libraries``: modules the steps after the daily build import, loaded while it waits on
    dbt (smepulse_lib/background_imports.py)."""
    manifest = prepared_manifest(settings)
    translator = SmePulseTranslator()
    # No `project=` below: dagster-dbt would put the DbtProject object into every asset's
    # definition metadata, which the UI lists as "(unserializable)"; the dbt resource names the
    # project directory, which is all a build needs.

    @dbt_assets(
        manifest=manifest,
        select=REFERENCE_SELECT,
        name=REFERENCE_STEP,
        dagster_dbt_translator=translator,
        pool=WAREHOUSE_POOL,
    )
    def reference_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBResource):
        # cautious: tests that also read daily models (fact -> dim_date) run with those models
        args = [*BUILD, "--indirect-selection", "cautious"]
        yield from build_with_summary(context, dbt, args, warehouse, settings, [None])

    def daily(
        name: str, select: str, exclude: str | None, chunked: bool = False, later_libraries: Sequence[str] = ()
    ) -> dg.AssetsDefinition:
        @dbt_assets(
            manifest=manifest,
            select=select,
            exclude=exclude,
            name=name,
            partitions_def=partitions_def,
            backfill_policy=dg.BackfillPolicy.single_run(),
            dagster_dbt_translator=translator,
            pool=WAREHOUSE_POOL,
        )
        def models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBResource):
            window = DayWindow.of(context.partition_time_window)
            windows = serving_chunks(warehouse, window) if chunked else [window]
            with loading_in_background(later_libraries):
                yield from build_with_summary(context, dbt, BUILD, warehouse, settings, windows)

        return models

    daily_models = daily(
        DAILY_STEP,
        "fqn:*",
        f"{REFERENCE_SELECT} {ML_SERVING_SELECT} {SALES_DB_SELECT}",
        later_libraries=later_libraries,
    )
    ml_serving_models = daily(ML_SERVING_STEP, ML_SERVING_SELECT, None, chunked=True)
    return [reference_dbt_models, daily_models, ml_serving_models]


def build_sales_db_dbt_assets(settings: Settings, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The sales database's silver histories and gold receivables, partitioned like the rest."""

    @dbt_assets(
        manifest=prepared_manifest(settings),
        select=SALES_DB_SELECT,
        name=SALES_DB_STEP,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=SmePulseTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def sales_db_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBResource):
        yield from build_with_summary(
            context, dbt, BUILD, warehouse, settings, [DayWindow.of(context.partition_time_window)]
        )

    return sales_db_models


def build_with_summary(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    args: list[str],
    warehouse: DuckDBResource,
    settings: Settings,
    windows: Sequence[DayWindow | None],
):
    """Run dbt once per window (one, unless a long range is built in chunks), then yield its
    events with the layer summaries attached.

    Events are held until dbt finishes because the summary needs every node's result; a failed
    build still yields what succeeded before it raises, and stops the chunks after it.
    """
    os.environ.update(settings.dbt_env())  # profiles.yml reads the warehouse path and memory cap from the env
    wait_for_warehouse(
        settings.warehouse_path,
        settings.warehouse_wait_seconds,
        context.log,
        "silver and gold were not built for this run's days (bronze, if the run loads it, is written)",
    )
    chunks = []
    for window in windows:
        invocation, events = run_dbt(context, dbt, args, window)
        chunks.append((invocation, events))
        if not invocation.is_successful():
            break
    results = [_run_results(invocation) for invocation, _ in chunks]
    if all(not r["results"] for r in results):
        # dbt ran no node (another process holds the warehouse, a compilation error): say why, and
        # do not open the warehouse for the summaries, which would fail on the same lock
        invocation = chunks[-1][0]
        raise dg.Failure(
            description=f"dbt {args[0]}{_span(windows[-1])} {how_it_ended(invocation)} before any node ran; "
            f"failed nodes: []; dbt said: {dbt_errors(invocation)}",
        )
    manifest = chunks[0][0].manifest
    run_results = worst_results(results)
    span = DayWindow(windows[0].first, windows[-1].last) if windows[0] and windows[-1] else None
    rows = rows_by_day(warehouse, manifest, run_results, span)
    layers = dbt_layer_summaries(run_results, manifest, window_totals(rows, span))
    for summary in layers.values():
        context.log.info(summary.render())
    days = [f"{day}" for day in span.days] if span else None
    if days and len(days) > PER_DAY_METADATA_DAYS:
        context.log.info(
            "Rows written in the window: " + ", ".join(f"{n} {r}" for n, r in sorted(window_totals(rows, span).items()))
        )
    complete = all(invocation.is_successful() for invocation, _ in chunks)
    outputs = one_event_per_output(events for _, events in chunks)
    schemas = column_schemas(
        warehouse, manifest, [str(e.metadata["unique_id"].value) for e in outputs if isinstance(e, dg.Output)]
    )
    samples = failing_row_samples(warehouse, manifest, run_results)  # opens the warehouse only if a test found rows
    for event in outputs:
        # An output of a range stands for every day of it: when a chunk failed, the days after it
        # were not built, so no model of the range is reported materialized (a retry rebuilds it).
        if isinstance(event, dg.AssetCheckResult):
            yield described_check(event, manifest, samples)
        elif not isinstance(event, dg.Output):
            yield event
        elif complete or len(windows) == 1:
            node = manifest["nodes"][event.metadata["unique_id"].value]
            event = output_metadata(context, event, rows.get(node["name"]), schemas.get(node["unique_id"]), days)
            yield _with_layer_summary(context, event, layers, days)
    if not complete:
        failed = [name for s in layers.values() for name in s.tables_failed + s.failed_checks]
        window = windows[len(chunks) - 1]
        failing = {name: rows for name, rows in samples.items() if name in failed}  # not the warnings'
        examples = f"; failing rows: {describe_samples(failing)}" if failing else ""
        if not failed:  # no node failed, yet dbt did
            examples = f"; dbt said: {dbt_errors(chunks[-1][0])}"
        raise dg.Failure(
            description=f"dbt {args[0]}{_span(window)} {how_it_ended(chunks[-1][0])}; failed nodes: {failed}{examples}",
            metadata={"failed_nodes": dg.MetadataValue.json(failed), "failing_rows": dg.MetadataValue.json(failing)},
        )


def dbt_errors(invocation) -> str:
    """dbt's own error lines, which say why a build ended with no node failed."""
    error = invocation.get_error()
    text = "" if error is None else f"{error}"
    _, found, lines = text.partition("Errors parsed from dbt logs:")
    return " ".join((lines if found else text).split())[:2000] or "no error line in dbt's output"


def how_it_ended(invocation) -> str:
    """dbt's exit, named: a process killed by a signal (the kernel's out-of-memory killer sends
    SIGKILL) writes no run results, so its unfinished nodes are in no failed list."""
    code = invocation.process.wait()
    if code < 0:
        return f"was killed by {signal.Signals(-code).name} before it finished"
    return f"exited with code {code}"


def _span(window: DayWindow | None) -> str:
    return f" {window.first}..{window.last}" if window else ""


def run_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, args: list[str], window: DayWindow | None):
    started = time.perf_counter()
    with window_in_env(window):
        invocation = dbt.cli(args, context=context, raise_on_error=False)
    events = list(invocation.stream())
    context.log.info(f"dbt {args[0]}{_span(window)}: {time.perf_counter() - started:.1f} s, {len(events)} events")
    keep_parse_state(invocation.target_path)
    prune_invocation_folders(invocation.target_path.parent)
    return invocation, events


def _run_results(invocation) -> dict[str, Any]:
    try:
        return invocation.get_artifact("run_results.json")
    except FileNotFoundError:  # dbt stopped before running anything (e.g. a compilation error)
        return {"results": []}


def _with_layer_summary(
    context: dg.AssetExecutionContext, event: dg.Output, layers: dict[str, LayerSummary], days: list[str] | None
):
    """A one-day (or unpartitioned) build's layer summary is that day's; a range's is in the run
    log, not on any day."""
    if days and len(days) > 1:
        return event
    summary = layers.get(context.assets_def.keys_by_output_name[event.output_name].path[0])
    return event.with_metadata({**event.metadata, **summary.as_metadata()}) if summary else event
