"""The dbt CLI resource the platform runs dbt with: dagster-dbt's, with two private methods
overridden on the dagster-dbt versions that was tested with (smepulse_lib.private_api), the
stock resource on any other."""

from __future__ import annotations

import importlib.metadata
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version

from smepulse_assets.transform.project import DBT_BESIDE_INTERPRETER, dbt_executable
from smepulse_lib.private_api import is_tested
from smepulse_lib.settings import DBT_PROJECT_DIR


class ProjectDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource, told the version of the dbt beside this interpreter and
    without an in-process dbt adapter (below).

    dagster-dbt learns the dbt version by running `dbt --version` once per resource instance,
    that is once per run: a Python start importing dbt, in every run with a dbt step (a new day
    has two). The dbt installed beside this interpreter is the dbt-core package
    installed here, so its version is read from the package metadata; any other dbt executable
    is still asked."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) != DBT_BESIDE_INTERPRETER:
            return super()._cli_version
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        """No in-process dbt adapter. dagster-dbt opens one before each invocation (loading the
        profile, the project and dbt's macros, most costly the first time in a process) only
        for `fetch_row_counts` and `fetch_column_metadata`; the platform counts a window's rows
        itself (`rows_written`), so the adapter was never used. Without it, the event stream treats
        the invocation as it treats dbt Fusion's, which has no adapter either."""
        return


def dbt_resource() -> DbtCliResource:
    resource = ProjectDbtCli if is_tested("dagster-dbt", "the dbt CLI resource (ProjectDbtCli)") else DbtCliResource
    return resource(
        project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )
