"""Reference seeds are refreshed by dropping a newer file.

The macro indicators, FX rates, holidays and maps are dbt seeds. Replacing one of the CSV
files in ``dbt_project/seeds/`` is the whole refresh: this sensor notices the changed
content (a hash per file in its cursor) and requests the reference job, which reloads
the seeds and rebuilds what depends only on them. The daily models pick the new values up on
their next run (or a backfill of the days that should see them). The deployment's own FX file
(SMEPULSE_FX_RATES_FILE) is watched the same way, and so is the calendar's first day, which moves
when data older than the partitions is landed (the date dimension must then cover it).
"""

import hashlib
import json
from pathlib import Path

import dagster as dg

from smepulse_assets.quality.reference_data import ReferenceInputs
from smepulse_lib.names import CHANGED_SEEDS_TAG, SEED_SENSOR
from smepulse_lib.settings import DBT_PROJECT_DIR, Settings

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
# Cursor entries beside the seed files, and the reference asset each one rebuilds
FX_FILE_ENTRY, CALENDAR_ENTRY = "SMEPULSE_FX_RATES_FILE", "calendar_start"
ENTRY_ASSETS = {
    FX_FILE_ENTRY: dg.AssetKey(["reference", "fx_rates"]),
    CALENDAR_ENTRY: dg.AssetKey(["gold", "dim_date"]),
}


def seed_fingerprints(seeds_dir: Path, inputs: ReferenceInputs) -> dict[str, str]:
    """A hash per seed file, of the deployment's FX file, and the calendar's start."""
    prints = {p.name: _digest(p) for p in sorted(seeds_dir.glob("*.csv"))}
    if inputs.fx_rates_file:
        prints[FX_FILE_ENTRY] = _digest(Path(inputs.fx_rates_file))
    prints[CALENDAR_ENTRY] = f"{inputs.calendar_start}"
    return prints


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:  # a configured FX file not there (yet): the reference run will say so
        return "unreadable"


def seed_key(name: str) -> dg.AssetKey:
    """A seed file's asset (dbt seeds load into the reference schema), or the asset an entry rebuilds."""
    return ENTRY_ASSETS.get(name) or dg.AssetKey(["reference", Path(name).stem])


def _written_at(seeds_dir: Path, inputs: ReferenceInputs, name: str) -> float:
    """When a watched input last changed; the calendar's start counts as never (0)."""
    if name == CALENDAR_ENTRY:
        return 0.0
    path = Path(inputs.fx_rates_file or "") if name == FX_FILE_ENTRY else seeds_dir / name
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")  # missing: not loaded since


def loaded_seeds(
    instance: dg.DagsterInstance, seeds_dir: Path, inputs: ReferenceInputs, now: dict[str, str]
) -> dict[str, str]:
    """The seeds a sensor starting without a cursor counts as seen: those loaded after the file was
    last written (by `smepulse demo`'s reference run, or a run from the UI). Without this, the
    sensor's first tick re-ran the reference job although no seed had changed."""
    seen = {}
    for name, digest in now.items():
        loaded = instance.get_latest_materialization_event(seed_key(name))
        if loaded is not None and loaded.timestamp >= _written_at(seeds_dir, inputs, name):
            seen[name] = digest
    return seen


def build_seed_sensor(job, settings: Settings, seeds_dir: Path = SEEDS_DIR) -> dg.SensorDefinition:
    """The deployment's calendar and FX file come from the settings the definitions were built
    with (the partitions too: a moved data start reloads both)."""
    inputs = ReferenceInputs(settings.calendar_start, settings.fx_rates_file)

    @dg.sensor(
        name=SEED_SENSOR,
        job=job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Reloads the reference seeds when a file in {seeds_dir.name}/ changes (e.g. a newer "
        "macro_indicators.csv).",
    )
    def reference_seed_sensor(context: dg.SensorEvaluationContext):
        now = seed_fingerprints(seeds_dir, inputs)
        seen = json.loads(context.cursor) if context.cursor else loaded_seeds(context.instance, seeds_dir, inputs, now)
        changed = sorted(name for name, digest in now.items() if seen.get(name) != digest)
        if not changed:
            return dg.SensorResult(skip_reason="no seed file changed", cursor=json.dumps(now))
        run_key = hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest()[:16]
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key, tags={CHANGED_SEEDS_TAG: ",".join(changed)})],
            cursor=json.dumps(now),
        )

    return reference_seed_sensor
