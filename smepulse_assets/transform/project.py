"""The dbt project: where it is, which dbt runs it, how its manifest is kept current, and the
window of days a build covers (passed to dbt in its environment).

The manifest is prepared through dagster-dbt's preparer interface (DbtProjectPreparer). Dagster's
own preparer parses only under `dagster dev` and with the `dbt` on PATH; the platform's parses whenever the manifest
is missing or older than a model, seed or macro (a fresh clone, an edited model), with the dbt
installed beside this interpreter, so a venv works without being activated.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import DbtProjectPreparer

from smepulse_lib.programs import beside_interpreter, program
from smepulse_lib.settings import DBT_PROJECT_DIR, Settings, environment_set
from smepulse_lib.windows import DayWindow

# Unpartitioned nodes: the calendar, the seeds, the FX rates in force, the dimensions built only from seeds, and
# the alerts view over the alert log.
REFERENCE_MODELS = (
    "dim_date",
    "fx_rates",
    "dim_channel",
    "dim_payment_method",
    "dim_carrier",
    "dim_countries",
    "dim_geo",
    "alerts",
)
REFERENCE_SELECT = " ".join(["resource_type:seed", *REFERENCE_MODELS])
# Gold models that serve the ML assets' outputs (models/gold/ml_scores): they run after the
# models are trained and scored, so they are their own definition, downstream of ml_assets.
ML_SERVING_SELECT = "tag:ml_serving"
# The sales database's silver and gold models (models/*/sales_db): their own definition, built only
# where a sales database is configured (they read its bronze extraction).
SALES_DB_SELECT = "tag:sales_db"
REFERENCE_STEP, DAILY_STEP, ML_SERVING_STEP = "reference_dbt_models", "daily_dbt_models", "ml_serving_dbt_models"
SALES_DB_STEP = "sales_db_dbt_models"
DBT_STEPS = (REFERENCE_STEP, DAILY_STEP, ML_SERVING_STEP, SALES_DB_STEP)
PROJECT_SOURCES = ("models", "seeds", "macros", "tests")

# The dbt installed beside this interpreter (by this project's install, in its venv).
DBT_BESIDE_INTERPRETER = beside_interpreter("dbt")


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, so a venv works without being activated."""
    return program("dbt", "dbt-core")


class StaleManifestPreparer(DbtProjectPreparer):
    """Parses the project when its manifest is missing or older than what it is parsed from, under
    `dagster dev` too: `smepulse ui` runs it, and parsing at every load of the code location (each
    run's process loads it) would add a dbt parse to every run the UI launches."""

    def __init__(self, settings: Settings):
        self._settings = settings

    def prepare_if_dev(self, project: DbtProject) -> None:
        if _is_stale(project):
            self.prepare(project)

    def prepare(self, project: DbtProject) -> None:
        subprocess.run(
            [
                dbt_executable(),
                "parse",
                "--quiet",
                "--project-dir",
                str(project.project_dir),
                "--profiles-dir",
                str(project.profiles_dir),
            ],
            check=True,
            env={**os.environ, **self._settings.dbt_env()},  # profiles.yml reads the warehouse path from the env
            cwd=project.project_dir,
        )


def _is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    sources = [p for folder in PROJECT_SOURCES for p in (project.project_dir / folder).rglob("*")]
    sources.append(project.project_dir / "dbt_project.yml")
    return manifest.stat().st_mtime < max(p.stat().st_mtime for p in sources)


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepared_manifest(settings: Settings) -> Path:
    """The project's manifest, parsed first when it is missing or stale."""
    project = dbt_project()
    StaleManifestPreparer(settings).prepare_if_dev(project)
    return project.manifest_path


def window_env(window: DayWindow | None) -> dict[str, str]:
    """The window as the variables macros/partition_window.sql reads; empty means all history."""
    return {
        "SMEPULSE_WINDOW_START": f"{window.first}" if window else "",
        "SMEPULSE_WINDOW_END": f"{window.last}" if window else "",
    }


@contextmanager
def window_in_env(window: DayWindow | None) -> Iterator[None]:
    """The window in this process's environment while dagster-dbt starts dbt (it hands dbt a copy
    of it), then the previous values back: nothing else started from this process, such as a
    plain `dbt build`, inherits a window."""
    with environment_set(window_env(window)):
        yield
