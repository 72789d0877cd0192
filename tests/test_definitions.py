"""The asset graph: every asset documented, owned, grouped by layer, fresh-policed and partitioned."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from smepulse_assets.transform.project import REFERENCE_MODELS
from smepulse_lib.conventions import WAREHOUSE_POOL


def is_reference(key: dg.AssetKey, group: str) -> bool:
    """Seeds, the models built only from seeds, the alert log and its view, the data catalog are not partitioned."""
    return group in {"reference", "docs"} or key.path[-1] in REFERENCE_MODELS or tuple(key.path) == ("ops", "alert_log")


def test_every_asset_follows_the_conventions(platform):
    graph = platform.defs.resolve_asset_graph()
    keys = {k for k in graph.get_all_asset_keys() if not graph.get(k).is_external}
    assert {("bronze", "kaggle_invoices_raw"), ("silver", "ftr_invoice_risk"), ("gold", "kpi_ar_aging")} <= {
        tuple(k.path) for k in keys
    }
    for key in keys:
        node = graph.get(key)
        assert node.description, key
        assert node.owners, key
        assert node.group_name in {
            "bronze",
            "silver",
            "gold",
            "ops",
            "reference",
            "ml",
            "serving",
            "reports",
            "docs",
        }, key
        assert node.freshness_policy is not None, key
        if is_reference(key, node.group_name):
            assert node.partitions_def is None, key
        else:
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), key
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
    # every check says what it judges on its page (a dbt test without a YAML description: its rule)
    undescribed = [c for c in graph.asset_check_keys if not graph.get_check_spec(c).description]
    assert undescribed == []


def test_lineage_runs_from_bronze_to_gold(platform):
    graph = platform.defs.resolve_asset_graph()
    selection = dg.AssetSelection.assets(dg.AssetKey(["bronze", "kaggle_invoices_raw"])).downstream()
    reached = {tuple(k.path) for k in selection.resolve(graph)}
    assert {
        ("silver", "stg_ar_invoice_history"),
        ("gold", "fact_ar_invoices"),
        ("gold", "kpi_ar_dso_analysis"),
        ("serving", "marts"),
        ("serving", "scores"),
        ("reports", "ar_pack_xlsx"),
        ("reports", "cash_report_html"),
    } <= reached


def test_operational_sources_reach_the_star_schema_and_kpis(platform):
    graph = platform.defs.resolve_asset_graph()

    def downstream(source: str) -> set[tuple[str, ...]]:
        selection = dg.AssetSelection.assets(dg.AssetKey(["bronze", f"{source}_raw"])).downstream()
        return {tuple(k.path) for k in selection.resolve(graph)}

    assert {("gold", "fact_orders"), ("gold", "kpi_daily_revenue"), ("gold", "kpi_working_capital")} <= downstream(
        "orders"
    )
    assert {("gold", "link_payment_bank"), ("gold", "kpi_reconciliation_daily")} <= downstream("bank_transactions")
    assert {("gold", "dim_customer"), ("silver", "ftr_customer_behavior"), ("gold", "fact_payments")} <= downstream(
        "customers"
    )
    assert ("gold", "kpi_ap_aging") in downstream("supplier_bills")
    reference = {
        tuple(k.path)
        for k in dg.AssetSelection.assets(dg.AssetKey(["reference", "provinces"])).downstream().resolve(graph)
    }
    assert {("gold", "dim_geo"), ("gold", "dim_customer"), ("gold", "fact_orders")} <= reference


def test_warehouse_writers_share_one_pool(platform):
    for name in ("daily_dbt_models", "reference_dbt_models"):
        assets = next(a for a in platform.defs.assets if getattr(a, "op", None) and a.op.name == name)
        assert assets.op.pool == WAREHOUSE_POOL


def test_duckdb_memory_is_capped_for_python_steps_and_dbt(tmp_path):
    from smepulse_assets.definitions import build_defs
    from smepulse_lib.settings import Settings

    settings = Settings.from_env({"SMEPULSE_DATA_DIR": str(tmp_path), "SMEPULSE_DUCKDB_MEMORY_LIMIT": "1GB"})
    settings.ensure_local_dirs()
    with build_defs(settings).resources["warehouse"].get_connection() as con:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert limit == "953.6 MiB"  # 1GB, as DuckDB prints it
    assert settings.dbt_env()["SMEPULSE_DUCKDB_MEMORY_LIMIT"] == "1GB"  # profiles.yml reads it
    assert Settings.from_env({}).duckdb_memory_limit == "2GB"


def test_a_failing_step_leaves_the_warehouse_unlocked_for_the_next_one(tmp_path):
    import subprocess
    import sys

    import duckdb

    from smepulse_lib.resources import WarehouseResource

    path = str(tmp_path / "warehouse.duckdb")
    opened = []

    def failing_step():
        with WarehouseResource(database=path).get_connection() as con:
            opened.append(con)
            con.execute("create table t as select 1 as x")
            raise ValueError("a step's body failed")

    with pytest.raises(ValueError, match="a step's body failed"):
        failing_step()
    with pytest.raises(duckdb.ConnectionException):
        opened[0].execute("select 1")  # closed, not leaked
    # another process (dbt's, the next step's) can open the file to write: no lock is held here
    opened = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb; print(duckdb.connect({path!r}).execute('select x from t').fetchone()[0])",
        ],
        capture_output=True,
        text=True,
    )
    assert opened.returncode == 0 and opened.stdout.strip() == "1", opened.stderr


def test_only_the_newest_dbt_invocation_folders_are_kept(tmp_path):
    import os

    from smepulse_assets.transform.housekeeping import DBT_STEPS, prune_invocation_folders

    folders = []
    for i in range(8):
        folder = tmp_path / f"{DBT_STEPS[i % 3]}-run{i:04d}-abcdef0"
        folder.mkdir()
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (1_000 + i, 1_000 + i))  # oldest first
        folders.append(folder)
    for other in ("compiled", "run", "partial_parse.msgpack.d"):
        (tmp_path / other).mkdir()

    removed = prune_invocation_folders(tmp_path, keep=5)

    assert sorted(removed) == sorted(folders[:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f.name for f in folders[3:]] + ["compiled", "run", "partial_parse.msgpack.d"]
    )


def test_loading_the_definitions_does_not_import_mlflow_or_statsmodels(tmp_path):
    # the UI, the daemon and every run's process load the code location; MLflow (~0.6 s) and
    # statsmodels are imported only by the steps that use them
    code = (
        "import sys; from smepulse_assets.definitions import defs; defs.get_repository_def().get_all_jobs(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'dagster_mlflow', 'statsmodels'}))"
    )
    env = {**os.environ, "SMEPULSE_DATA_DIR": str(tmp_path)}
    loaded = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_dbt_resource_knows_its_dbt_version_without_starting_dbt(monkeypatch):
    from dagster_dbt.core import resource as dagster_dbt_resource
    from dbt.version import __version__ as installed  # what `dbt --version` reports as installed

    from smepulse_assets.transform.cli_resource import dbt_resource

    dbt = dbt_resource()

    def no_process(*args, **kwargs):
        raise AssertionError(f"started {args}")

    # dagster-dbt asks `dbt --version` through this name, once per run; ours must not
    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_process)
    assert str(dbt._cli_version) == installed and dbt.dbt_executable.startswith(str(Path(sys.executable).parent))
