"""The private-API gate: the versions it trusts are the versions installed, and on any other
version each use takes its library's public path."""

import re
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from ml_assets.run_hooks import end_mlflow_run_hooks
from smepulse_assets.transform.cli_resource import ProjectDbtCli, dbt_resource
from smepulse_lib import private_api

REPO_ROOT = Path(__file__).resolve().parents[1]


def _pinned(package: str) -> str:
    text = (REPO_ROOT / "constraints.txt").read_text()
    (version,) = re.findall(rf"^{re.escape(package)}==(\S+)$", text, flags=re.M | re.I)
    return version


def test_the_pinned_versions_are_the_tested_ones():
    """Fails loudly on an upgrade: re-run the tests of each private use on the new version, then
    add it to private_api.TESTED_VERSIONS (tests/test_event_log.py covers the event log,
    test_definitions the dbt CLI resource, test_ml the MLflow hooks)."""
    for package, tested in private_api.TESTED_VERSIONS.items():
        assert _pinned(package) in tested, f"{package} {_pinned(package)} is pinned but not in TESTED_VERSIONS"
        assert private_api.installed_version(package) in tested, package


def test_an_untested_version_takes_the_public_path_with_a_warning(monkeypatch, caplog):
    assert type(dbt_resource()) is ProjectDbtCli
    tested_hooks = end_mlflow_run_hooks()
    monkeypatch.setitem(private_api.TESTED_VERSIONS, "dagster-dbt", ("0.0.0",))
    monkeypatch.setitem(private_api.TESTED_VERSIONS, "dagster", ("0.0.0",))
    with caplog.at_level("WARNING", logger=private_api.logger.name):
        assert type(dbt_resource()) is DbtCliResource
        public_hooks = end_mlflow_run_hooks()
    assert {h.name for h in public_hooks} == {"end_mlflow_on_run_finished"}
    assert {h.name for h in tested_hooks} == {"end_mlflow_run_after_last_step", "end_mlflow_run_on_failure"}
    assert all(isinstance(h, dg.HookDefinition) for h in public_hooks)
    assert "the dbt CLI resource" in caplog.text and "the hooks that end the MLflow run" in caplog.text
