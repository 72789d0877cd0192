"""Reference seeds are refreshed by dropping a newer file.

The macro indicators, FX rates, holidays and maps are dbt seeds. Replacing one of the CSV
files in ``dbt_project/seeds/`` is the whole refresh: this sensor notices the changed
content (a hash per file in its cursor) and requests the reference job, which reloads
the seeds and rebuilds what depends only on them. The daily models pick the new values up on
their next run (or a backfill of the days that should see them). The deployment's own FX file
(SMEPULSE_FX_RATES_FILE) is watched the same way, and so is the calendar's first day, which moves
when data older than the partitions is landed (the date dimension must then cover it). So is the
SQL of the unpartitioned models the job builds (the calendar, the seed-only dimensions, the
``ops.alerts`` view), with the project's macros that SQL calls (keys.sql's surrogate keys): no
daily run rebuilds them, so an upgrade that changes one would otherwise leave the old table in
place until someone ran the job by hand.
"""

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from smepulse_assets.quality.reference_data import ReferenceInputs
from smepulse_assets.transform.project import REFERENCE_MODELS, dbt_project
from smepulse_lib.names import CHANGED_SEEDS_TAG, SEED_SENSOR
from smepulse_lib.settings import DBT_PROJECT_DIR, Settings

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
MODELS_DIR = DBT_PROJECT_DIR / "models"
MACROS_DIR = DBT_PROJECT_DIR / "macros"
# Cursor entries beside the seed files, and the reference asset each one rebuilds
FX_FILE_ENTRY, CALENDAR_ENTRY = "SMEPULSE_FX_RATES_FILE", "calendar_start"
ENTRY_ASSETS = {
    FX_FILE_ENTRY: dg.AssetKey(["reference", "fx_rates"]),
    CALENDAR_ENTRY: dg.AssetKey(["gold", "dim_date"]),
}


@dataclass(frozen=True)
class WatchedInputs:
    """What the reference job rebuilds from: the seed files, the SQL of the reference models with
    the macro files it calls (``macros``, by the model's file name), the deployment's FX file and
    the calendar's start."""

    reference: ReferenceInputs
    seeds_dir: Path = SEEDS_DIR
    models_dir: Path = MODELS_DIR
    macros: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)

    def files(self) -> dict[str, Path]:
        """Each watched file by its cursor entry."""
        files = {p.name: p for p in sorted(self.seeds_dir.glob("*.csv"))}
        files |= {p.name: p for p in sorted(self.models_dir.rglob("*.sql")) if p.stem in REFERENCE_MODELS}
        if self.reference.fx_rates_file:
            files[FX_FILE_ENTRY] = Path(self.reference.fx_rates_file)
        return files

    def paths(self) -> dict[str, list[Path]]:
        """Each watched file by its cursor entry, a model's with the macro files its SQL calls."""
        return {name: [path, *self.macros.get(name, ())] for name, path in self.files().items()}

    def fingerprints(self) -> dict[str, str]:
        """A hash per watched entry, and the calendar's start."""
        return {name: _digest(paths) for name, paths in self.paths().items()} | {
            CALENDAR_ENTRY: f"{self.reference.calendar_start}"
        }


def _digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    try:
        for path in paths:
            digest.update(path.read_bytes())
    except OSError:  # a configured FX file not there (yet): the reference run will say so
        return "unreadable"
    return digest.hexdigest()


def macros_called(manifest: Path, models: Iterable[str], macros_dir: Path) -> dict[str, tuple[Path, ...]]:
    """The project's macro files each of ``models`` calls, directly or through another of its
    macros, by the model's file name, from the parsed project. dbt's own macros change only with
    the pinned dbt, so they are not followed."""
    parsed = json.loads(manifest.read_text())
    macros, project = parsed["macros"], parsed["metadata"]["project_name"]
    called: dict[str, tuple[Path, ...]] = {}
    for node in parsed["nodes"].values():
        if node["resource_type"] != "model" or node["name"] not in models:
            continue
        found: set[str] = set()
        pending = list(node["depends_on"]["macros"])
        while pending:
            uid = pending.pop()
            if uid not in found and uid in macros and macros[uid]["package_name"] == project:
                found.add(uid)
                pending += macros[uid]["depends_on"]["macros"]
        # the manifest names a macro file from the project directory: macros/keys.sql
        files = {macros_dir.parent / macros[uid]["original_file_path"] for uid in found}
        called[Path(node["original_file_path"]).name] = tuple(sorted(files))
    return called


def seed_key(name: str, built: Iterable[dg.AssetKey] = ()) -> dg.AssetKey:
    """A seed file's asset (dbt seeds load into the reference schema), the asset an entry rebuilds,
    or a reference model's: the one of ``built`` (the job's assets) named after its file."""
    if name.endswith(".sql"):
        return next(key for key in built if key.path[-1] == Path(name).stem)
    return ENTRY_ASSETS.get(name) or dg.AssetKey(["reference", Path(name).stem])


def _written_at(paths: dict[str, list[Path]], name: str) -> float:
    """When a watched input last changed; the calendar's start counts as never (0)."""
    if name == CALENDAR_ENTRY:
        return 0.0
    try:
        return max(path.stat().st_mtime for path in paths[name])
    except (KeyError, OSError):
        return float("inf")  # missing: not loaded since


def loaded_seeds(
    instance: dg.DagsterInstance, watched: WatchedInputs, now: dict[str, str], built: Iterable[dg.AssetKey]
) -> dict[str, str]:
    """The inputs a sensor starting without a cursor counts as seen: those loaded after the file was
    last written (by `smepulse demo`'s reference run, or a run from the UI). Without this, the
    sensor's first tick re-ran the reference job although no seed had changed."""
    paths, seen = watched.paths(), {}
    for name, digest in now.items():
        loaded = instance.get_latest_materialization_event(seed_key(name, built))
        if loaded is not None and loaded.timestamp >= _written_at(paths, name):
            seen[name] = digest
    return seen


def build_seed_sensor(
    job,
    settings: Settings,
    built: Iterable[dg.AssetKey],
    seeds_dir: Path = SEEDS_DIR,
    models_dir: Path = MODELS_DIR,
    macros_dir: Path = MACROS_DIR,
) -> dg.SensorDefinition:
    """``built``: the assets the reference job's dbt step builds. The deployment's calendar and FX
    file come from the settings the definitions were built with (the partitions too: a moved data
    start reloads both)."""
    reference = ReferenceInputs(settings.calendar_start, settings.fx_rates_file)
    built = list(built)

    @functools.cache
    def watched() -> WatchedInputs:
        # Which macros a model calls, from the manifest the definitions were built from (it changes
        # only with the project's code, which reloads them): read at the first tick, not at every
        # load of the definitions (each run's process loads them; the manifest's JSON ~0.1 s).
        macros = macros_called(dbt_project().manifest_path, REFERENCE_MODELS, macros_dir)
        return WatchedInputs(reference, seeds_dir, models_dir, macros)

    @dg.sensor(
        name=SEED_SENSOR,
        job=job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Reloads the reference seeds when a file in {seeds_dir.name}/ changes (e.g. a newer "
        "macro_indicators.csv), and rebuilds the unpartitioned models when their SQL or the macros it calls "
        "change (an upgrade).",
    )
    def reference_seed_sensor(context: dg.SensorEvaluationContext):
        now = watched().fingerprints()
        seen = json.loads(context.cursor) if context.cursor else loaded_seeds(context.instance, watched(), now, built)
        changed = sorted(name for name, digest in now.items() if seen.get(name) != digest)
        if not changed:
            return dg.SensorResult(skip_reason="no seed file changed", cursor=json.dumps(now))
        run_key = hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest()[:16]
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key, tags={CHANGED_SEEDS_TAG: ",".join(changed)})],
            cursor=json.dumps(now),
        )

    return reference_seed_sensor
