"""The front door: the commands a new user types, from the venv without activating it."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from smepulse_assets.tools import cli
from smepulse_lib import programs
from smepulse_lib.settings import Settings

BIN = Path(sys.executable).parent


def test_programs_are_found_beside_the_interpreter_without_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert programs.program("dagster", "dagster") == str(BIN / "dagster")
    assert programs.program("dbt", "dbt-core") == str(BIN / "dbt")


def test_a_missing_program_is_named_not_errno_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(programs, "BIN_DIR", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("SMEPULSE_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["ui"]) == 2
    message = capsys.readouterr().err
    assert "`dagster` was not found beside" in message and "make install" in message


def test_smepulse_runs_from_the_venv_bin_with_no_venv_on_path(tmp_path):
    """As the README writes it: `.venv/bin/smepulse ...` in a shell that never activated the venv."""
    env = {"PATH": "/usr/bin:/bin", "SMEPULSE_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(BIN / "smepulse"), "generate", "--days", "3", "--customers", "5", "--invoices-per-day", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert (tmp_path / "data" / "landing" / "kaggle_invoices" / f"{yesterday}").is_dir()  # ends yesterday
    assert (
        Settings.from_env({"SMEPULSE_DATA_DIR": str(tmp_path / "data")}).partitions_start
        == f"{yesterday - timedelta(days=2)}"
    )


def test_the_partitions_start_where_the_data_starts(tmp_path):
    settings = Settings.from_env({"SMEPULSE_DATA_DIR": str(tmp_path)})
    assert settings.partitions_start == "2018-01-01"  # nothing landed yet
    assert settings.record_data_start(date(2020, 3, 1)).partitions_start == "2020-03-01"
    assert settings.record_data_start(date(2020, 5, 1)).partitions_start == "2020-03-01"  # the earliest wins
    assert Settings.from_env({"SMEPULSE_DATA_DIR": str(tmp_path)}).partitions_start == "2020-03-01"
    fixed = Settings.from_env({"SMEPULSE_DATA_DIR": str(tmp_path), "SMEPULSE_PARTITIONS_START": "2019-01-01"})
    assert fixed.record_data_start(date(2018, 6, 1)).partitions_start == "2019-01-01"  # the environment wins


def test_the_demo_world_ends_yesterday_unless_given_a_start():
    def config(*argv):
        parser = cli.argparse.ArgumentParser()
        cli._generator_args(parser, default_days=90)
        return cli._config(parser.parse_args(list(argv)))

    assert config().end == datetime.now(UTC).date() - timedelta(days=1)
    assert (config().end - config().start).days == 89
    assert (config("--start", "2020-01-01").start, config("--start", "2020-01-01").end) == (
        date(2020, 1, 1),
        date(2020, 3, 30),
    )


def test_the_demo_names_each_failed_step_or_run_by_its_cause():
    """`smepulse demo` exits 1 with these lines when an ML, report or docs run fails (real in-process
    runs of a small job: a step that exhausts its retries, a resource that will not start)."""
    from smepulse_assets.tools.demo import run_failures

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
    def wobbly() -> None:
        raise RuntimeError("Catalog Error: Table with name kpi_predicted_cash_in does not exist!")

    @dg.asset(required_resource_keys={"tracking"})
    def steady() -> int:
        return 1

    @dg.resource
    def tracking_store(_context):
        return "sqlite:///mlflow.db"

    @dg.resource
    def unreachable_tracking_store(_context):
        raise FileNotFoundError("No such file or directory: '/proc/nowhere'")

    def run(asset, tracking=tracking_store) -> dg.ExecuteInProcessResult:
        defs = dg.Definitions(assets=[asset], jobs=[dg.define_asset_job("demo_part")], resources={"tracking": tracking})
        return defs.resolve_job_def("demo_part").execute_in_process(raise_on_error=False)

    assert run_failures(run(steady)) == []
    assert run_failures(run(wobbly)) == [
        "wobbly: RuntimeError: Catalog Error: Table with name kpi_predicted_cash_in does not exist!"
    ]
    unstarted = run_failures(run(steady, unreachable_tracking_store))
    assert unstarted == ["demo_part: FileNotFoundError: No such file or directory: '/proc/nowhere'"], unstarted
