"""The SQL rules, through dbt's unit tests (`unit_tests:` beside the models): aging buckets, DSO,
days late, payment-to-bank match status, SCD2 change detection.

dbt reads the column types of a unit test's inputs from the warehouse, so the models are first
built empty (`dbt run --empty`) over an empty day of every bronze source; the tests then run on
their own fixture rows. No data is loaded and no Dagster run is made: seconds, in the fast tier.
"""

import os
import subprocess
from datetime import UTC, date, datetime

from smepulse_assets.ingestion.bronze import write_window
from smepulse_assets.ingestion.spec import load_source_specs
from smepulse_assets.transform.project import ML_SERVING_SELECT, SALES_DB_SELECT, dbt_executable
from smepulse_lib.settings import DBT_PROJECT_DIR
from tests.conftest import make_settings


def test_the_sql_rules_pass_their_dbt_unit_tests(tmp_path):
    settings = make_settings(tmp_path)
    for spec in load_source_specs(settings.sources_dir):  # an empty day: every source has its schema
        list(write_window(spec, settings.landing_url, settings.lake_url, [date(2020, 1, 1)], datetime.now(UTC)))
    env = {**os.environ, **settings.dbt_env()}
    dbt = [dbt_executable(), "--quiet", "--no-partial-parse"]
    where = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
             "--target-path", str(tmp_path / "target")]  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*dbt, *args, *where], env=env, cwd=DBT_PROJECT_DIR, capture_output=True, text=True)

    # not the ML serving models, the alerts view nor the sales database's: they read what the ML,
    # alert and extraction assets write
    for step in (["seed"], ["run", "--empty", "--exclude", ML_SERVING_SELECT, SALES_DB_SELECT, "alerts"]):
        built = run(*step)
        assert built.returncode == 0, built.stdout + built.stderr
    tested = run("test", "--select", "test_type:unit")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    listed = run("ls", "--resource-type", "unit_test", "--output", "name")
    assert len(listed.stdout.split()) >= 6, listed.stdout  # every rule above is tested
