"""The asset graph: every asset documented, owned, grouped by layer, fresh-policed and partitioned."""

import dagster as dg

from smepulse_assets.conventions import WAREHOUSE_POOL

REFERENCE = {("gold", "dim_date"), ("reference", "fx_rates"), ("ops", "alerts"), ("ops", "alert_log")}


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
        assert node.group_name in {"bronze", "silver", "gold", "ops", "reference"}, key
        assert node.freshness_policy is not None, key
        if tuple(key.path) in REFERENCE:
            assert node.partitions_def is None, key
        else:
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), key
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key


def test_lineage_runs_from_bronze_to_gold(platform):
    graph = platform.defs.resolve_asset_graph()
    selection = dg.AssetSelection.assets(dg.AssetKey(["bronze", "kaggle_invoices_raw"])).downstream()
    reached = {tuple(k.path) for k in selection.resolve(graph)}
    assert {("silver", "stg_ar_invoice_history"), ("gold", "fact_ar_invoices"), ("gold", "kpi_ar_dso_analysis")} <= reached


def test_warehouse_writers_share_one_pool(platform):
    for name in ("daily_dbt_models", "reference_dbt_models"):
        assets = next(a for a in platform.defs.assets if getattr(a, "op", None) and a.op.name == name)
        assert assets.op.pool == WAREHOUSE_POOL
