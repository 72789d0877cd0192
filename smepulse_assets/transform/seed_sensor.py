"""Reference seeds are refreshed by dropping a newer file.

The macro indicators, FX rates, holidays and maps are dbt seeds. Replacing one of the CSV
files in ``dbt_project/seeds/`` is the whole refresh: this sensor notices the changed
content (a hash per file in its cursor) and requests the reference job, which reloads
the seeds and rebuilds what depends only on them. The daily models pick the new values up on
their next run (or a backfill of the days that should see them).
"""

import hashlib
import json
from pathlib import Path

import dagster as dg

from smepulse_lib.names import CHANGED_SEEDS_TAG, SEED_SENSOR
from smepulse_lib.settings import DBT_PROJECT_DIR

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


def seed_fingerprints(seeds_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(seeds_dir.glob("*.csv"))}


def seed_key(name: str) -> dg.AssetKey:
    """A seed file's asset (dbt seeds load into the reference schema)."""
    return dg.AssetKey(["reference", Path(name).stem])


def loaded_seeds(instance: dg.DagsterInstance, seeds_dir: Path, now: dict[str, str]) -> dict[str, str]:
    """The seeds a sensor starting without a cursor counts as seen: those loaded after the file was
    last written (by `smepulse demo`'s reference run, or a run from the UI). Without this, the
    sensor's first tick re-ran the reference job although no seed had changed."""
    seen = {}
    for name, digest in now.items():
        loaded = instance.get_latest_materialization_event(seed_key(name))
        if loaded is not None and loaded.timestamp >= (seeds_dir / name).stat().st_mtime:
            seen[name] = digest
    return seen


def build_seed_sensor(job, seeds_dir: Path = SEEDS_DIR) -> dg.SensorDefinition:
    @dg.sensor(
        name=SEED_SENSOR,
        job=job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Reloads the reference seeds when a file in {seeds_dir.name}/ changes (e.g. a newer "
        "macro_indicators.csv).",
    )
    def reference_seed_sensor(context: dg.SensorEvaluationContext):
        now = seed_fingerprints(seeds_dir)
        seen = json.loads(context.cursor) if context.cursor else loaded_seeds(context.instance, seeds_dir, now)
        changed = sorted(name for name, digest in now.items() if seen.get(name) != digest)
        if not changed:
            return dg.SensorResult(skip_reason="no seed file changed", cursor=json.dumps(now))
        run_key = hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest()[:16]
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key, tags={CHANGED_SEEDS_TAG: ",".join(changed)})],
            cursor=json.dumps(now),
        )

    return reference_seed_sensor
