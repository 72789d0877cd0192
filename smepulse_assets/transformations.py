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


import importlib.metadata
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_duckdb import DuckDBResource
from packaging import version

from .conventions import DAILY_FRESHNESS, OWNER, REFERENCE_FRESHNESS, WAREHOUSE_POOL
from .dbt_metadata import PER_DAY_METADATA_DAYS, column_schemas, output_metadata, rows_by_day, window_totals
from .programs import beside_interpreter, program
from .quality.layer_summary import LayerSummary, dbt_layer_summaries
from .settings import DBT_PROJECT_DIR, Settings

# Unpartitioned nodes: the calendar, the seeds, the dimensions built only from seeds, and
# the alerts view over the alert log.
REFERENCE_MODELS = ("dim_date", "dim_channel", "dim_payment_method", "dim_carrier", "dim_countries", "dim_geo", "alerts")
REFERENCE_SELECT = " ".join(["resource_type:seed", *REFERENCE_MODELS])
# Gold models that serve the ML assets' outputs (models/gold/ml_scores): they run after the
# models are trained and scored, so they are their own definition, downstream of ml_assets.
ML_SERVING_SELECT = "tag:ml_serving"
LAYER_GROUPS = {"silver", "gold", "ops"}
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
REFERENCE_STEP, DAILY_STEP, ML_SERVING_STEP = "reference_dbt_models", "daily_dbt_models", "ml_serving_dbt_models"
DBT_STEPS = (REFERENCE_STEP, DAILY_STEP, ML_SERVING_STEP)
# dagster-dbt gives every invocation its own folder under target/ (<step>-<run>-<id>: its
# compiled SQL, manifest and run_results, ~6 MB). Two or three a day would fill a disk over
# months; the newest are kept for looking into recent runs.
KEPT_INVOCATION_FOLDERS = 50
# A long range of the ML serving models is built in chunks of consecutive days holding at most
# this many scored invoices: ranking all 520 days of every open invoice's scores in one
# statement (the score_ar_priority view as the worklist reads it, ~200M rows at 5 million
# invoices) ran out of the warehouse's memory cap; 165M rows did not. Each chunk costs a dbt
# start (~5 s), so chunks stay large. Those models replace their rows day by day (two are
# views): chunks build exactly what one build would.
ML_SERVING_CHUNK_ROWS = 30_000_000
ML_SERVING_VOLUME = ("ml.ar_priority_scores", "score_date")  # rows per day: every open invoice


# The dbt installed beside this interpreter (by this project's install, in its venv).
DBT_BESIDE_INTERPRETER = beside_interpreter("dbt")


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, so a venv works without being activated."""
    return program("dbt", "dbt-core")


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def ensure_manifest(project: DbtProject, settings: Settings) -> Path:
    """Parse the project when its manifest is missing or older than a model, seed or macro."""
    manifest = project.manifest_path
    sources = [p for folder in ("models", "seeds", "macros", "tests") for p in (DBT_PROJECT_DIR / folder).rglob("*")]
    sources += [DBT_PROJECT_DIR / "dbt_project.yml"]
    if manifest.exists() and manifest.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return manifest
    env = {**os.environ, **settings.dbt_env()}
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
    )
    return manifest


class SmePulseTranslator(DagsterDbtTranslator):
    """Asset keys are [schema, name]; groups are layers; every asset has an owner and a freshness policy."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id) or {}
        if node.get("resource_type") == "source":
            return spec
        reference = node.get("resource_type") == "seed" or node.get("name") in REFERENCE_MODELS
        return spec.replace_attributes(
            owners=spec.owners or [OWNER],
            freshness_policy=REFERENCE_FRESHNESS if reference else DAILY_FRESHNESS,
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        schema = dbt_resource_props.get("schema")
        return schema if schema in LAYER_GROUPS else "reference"


def partition_window(context: dg.AssetExecutionContext) -> dict[str, str]:
    window = context.partition_time_window
    return {
        "min_date": f"{window.start.date()}",
        "max_date": f"{(window.end - timedelta(days=1)).date()}",  # the window's end is exclusive
    }


def window_days(window: dict[str, str]) -> list[str]:
    """The days of a window, first to last."""
    first, last = date.fromisoformat(window["min_date"]), date.fromisoformat(window["max_date"])
    return [f"{first + timedelta(days=n)}" for n in range((last - first).days + 1)]


def window_env(window: dict[str, str] | None) -> dict[str, str]:
    """The window as the variables macros/partition_window.sql reads; empty means all history."""
    return {
        "SMEPULSE_WINDOW_START": window["min_date"] if window else "",
        "SMEPULSE_WINDOW_END": window["max_date"] if window else "",
    }


@contextmanager
def window_in_env(window: dict[str, str] | None) -> Iterator[None]:
    """The window in this process's environment while dagster-dbt starts dbt (it hands dbt a copy
    of it), then the previous values back: nothing else started from this process, such as a
    plain `dbt build`, inherits a window."""
    values = window_env(window)
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_dbt_assets(
    settings: Settings, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    project = dbt_project()
    manifest = ensure_manifest(project, settings)
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
        args = ["build", "--indirect-selection", "cautious"]
        yield from build_with_summary(context, dbt, args, warehouse, settings.dbt_env(), [None])

    def daily(name: str, select: str, exclude: str | None, chunked: bool = False) -> dg.AssetsDefinition:
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
            window = partition_window(context)
            windows = serving_chunks(warehouse, window) if chunked else [window]
            yield from build_with_summary(context, dbt, ["build"], warehouse, settings.dbt_env(), windows)

        return models

    daily_models = daily(DAILY_STEP, "fqn:*", f"{REFERENCE_SELECT} {ML_SERVING_SELECT}")
    ml_serving_models = daily(ML_SERVING_STEP, ML_SERVING_SELECT, None, chunked=True)
    return [reference_dbt_models, daily_models, ml_serving_models]


def serving_chunks(warehouse: DuckDBResource, window: dict[str, str]) -> list[dict[str, str]]:
    """The window cut into runs of days of at most ML_SERVING_CHUNK_ROWS scored invoices."""
    table, column = ML_SERVING_VOLUME
    # the ML tables keep their day as a timestamp (written from pandas): the key is its date
    sql = f"select cast({column} as date)::varchar, count(*) from {table} where {column} between ? and ? group by 1"
    with warehouse.get_connection() as con:
        try:
            counts = dict(con.execute(sql, [window["min_date"], window["max_date"]]).fetchall())
        except duckdb.CatalogException:  # nothing scored yet: one build
            return [window]
    return split_window(window, counts, ML_SERVING_CHUNK_ROWS)


def split_window(window: dict[str, str], rows_by_day: Mapping[str, int], max_rows: int) -> list[dict[str, str]]:
    """Consecutive sub-windows covering the window, each of whole days holding at most max_rows
    rows (a day holding more is a chunk of its own)."""
    first, last = date.fromisoformat(window["min_date"]), date.fromisoformat(window["max_date"])
    chunks, start, rows = [], first, 0
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        day_rows = rows_by_day.get(f"{day}", 0)
        if rows and rows + day_rows > max_rows:
            chunks.append({"min_date": f"{start}", "max_date": f"{day - timedelta(days=1)}"})
            start, rows = day, 0
        rows += day_rows
    return [*chunks, {"min_date": f"{start}", "max_date": f"{last}"}]


def build_with_summary(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    args: list[str],
    warehouse: DuckDBResource,
    dbt_env: dict[str, str],
    windows: list[dict[str, str] | None],
):
    """Run dbt once per window (one, unless a long range is built in chunks), then yield its
    events with the layer summaries attached.

    Events are held until dbt finishes because the summary needs every node's result; a failed
    build still yields what succeeded before it raises, and stops the chunks after it.
    """
    os.environ.update(dbt_env)  # profiles.yml reads the warehouse path and memory cap from the env
    chunks = []
    for window in windows:
        invocation, events = run_dbt(context, dbt, args, window)
        chunks.append((invocation, events))
        if not invocation.is_successful():
            break
    manifest = chunks[0][0].manifest
    run_results = worst_results([_run_results(invocation) for invocation, _ in chunks])
    span = windows[0] and {"min_date": windows[0]["min_date"], "max_date": windows[-1]["max_date"]}
    rows = rows_by_day(warehouse, manifest, run_results, span)
    layers = dbt_layer_summaries(run_results, manifest, window_totals(rows, span))
    for summary in layers.values():
        context.log.info(summary.render())
    days = window_days(span) if span else None
    if days and len(days) > PER_DAY_METADATA_DAYS:
        context.log.info("Rows written in the window: " + ", ".join(f"{n} {r}" for n, r in sorted(window_totals(rows, span).items())))
    complete = all(invocation.is_successful() for invocation, _ in chunks)
    outputs = one_event_per_output(events for _, events in chunks)
    schemas = column_schemas(warehouse, manifest, [e.metadata["unique_id"].value for e in outputs if isinstance(e, dg.Output)])
    for event in outputs:
        # An output of a range stands for every day of it: when a chunk failed, the days after it
        # were not built, so no model of the range is reported materialized (a retry rebuilds it).
        if not isinstance(event, dg.Output):
            yield event
        elif complete or len(windows) == 1:
            node = manifest["nodes"][event.metadata["unique_id"].value]
            event = output_metadata(context, event, rows.get(node["name"]), schemas.get(node["unique_id"]), days)
            yield _with_layer_summary(context, event, layers, days)
    if not complete:
        failed = [name for s in layers.values() for name in s.tables_failed + s.failed_checks]
        window = windows[len(chunks) - 1]
        raise dg.Failure(
            description=f"dbt {args[0]}{_span(window)} {how_it_ended(chunks[-1][0])}; failed nodes: {failed}",
            metadata={"failed_nodes": dg.MetadataValue.json(failed)},
        )


def how_it_ended(invocation) -> str:
    """dbt's exit, named: a process killed by a signal (the kernel's out-of-memory killer sends
    SIGKILL) writes no run results, so its unfinished nodes are in no failed list."""
    code = invocation.process.wait()
    if code < 0:
        return f"was killed by {signal.Signals(-code).name} before it finished"
    return f"exited with code {code}"


def _span(window: dict[str, str] | None) -> str:
    return f" {window['min_date']}..{window['max_date']}" if window else ""


def run_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, args: list[str], window: dict[str, str] | None):
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


# The order in which one node's results over chunks are reported: its worst.
_STATUS_RANK = {"error": 3, "fail": 3, "runtime error": 3, "warn": 2, "skipped": 1}


def worst_results(chunk_results: list[Mapping[str, Any]]) -> dict[str, Any]:
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


def keep_parse_state(invocation_target: Path) -> None:
    """Make this invocation's parse state the one the next invocation starts from.

    dagster-dbt gives each invocation its own target folder and seeds it with the project's
    target/partial_parse.msgpack; dbt discards that state when the profile it was parsed under
    differs (another warehouse path). Copying the fresh state back means only the first
    invocation after such a change parses the whole project (5.6 s against 2.7 s partial).
    The copy is atomic, so concurrent runs never read half a file."""
    fresh = invocation_target / PARTIAL_PARSE_FILE
    if not fresh.exists():
        return
    kept = DBT_PROJECT_DIR / "target" / PARTIAL_PARSE_FILE
    staging = kept.with_name(f"{PARTIAL_PARSE_FILE}.{os.getpid()}")
    shutil.copyfile(fresh, staging)
    os.replace(staging, kept)


def prune_invocation_folders(target: Path, keep: int = KEPT_INVOCATION_FOLDERS) -> list[Path]:
    """Remove all but the ``keep`` newest invocation folders of the dbt steps; returns the removed."""
    folders = [p for p in target.iterdir() if p.is_dir() and p.name.startswith(tuple(f"{s}-" for s in DBT_STEPS))]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)  # another run may be removing it too
    return folders[keep:]


def _with_layer_summary(context: dg.AssetExecutionContext, event: dg.Output, layers: dict[str, LayerSummary], days: list[str] | None):
    """A one-day (or unpartitioned) build's layer summary is that day's; a range's is in the run
    log, not on any day."""
    if days and len(days) > 1:
        return event
    summary = layers.get(context.assets_def.keys_by_output_name[event.output_name].path[0])
    return event.with_metadata({**event.metadata, **summary.as_metadata()}) if summary else event


class ProjectDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource, told the version of the dbt beside this interpreter and
    without an in-process dbt adapter (below).

    dagster-dbt learns the dbt version by running `dbt --version` once per resource instance,
    that is once per run: a Python start importing dbt, ~1.8 s of every run with a dbt step
    (a new day has two). The dbt installed beside this interpreter is the dbt-core package
    installed here, so its version is read from the package metadata; any other dbt executable
    is still asked."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) != DBT_BESIDE_INTERPRETER:
            return super()._cli_version
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        """No in-process dbt adapter. dagster-dbt opens one before each invocation (loading the
        profile, the project and dbt's macros: 1.2 s the first time in a process, 0.3 s after) only
        for `fetch_row_counts` and `fetch_column_metadata`; the platform counts a window's rows
        itself (`rows_written`), so the adapter was never used. Without it, the event stream treats
        the invocation as it treats dbt Fusion's, which has no adapter either."""
        return None


def dbt_resource() -> DbtCliResource:
    return ProjectDbtCli(
        project_dir=dbt_project(), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )
