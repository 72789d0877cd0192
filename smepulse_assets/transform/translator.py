"""How dbt nodes become Dagster assets: keys, groups, owners, freshness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject

from smepulse_assets.transform.data_catalog import read_catalog
from smepulse_assets.transform.failing_rows import test_rule
from smepulse_assets.transform.project import REFERENCE_MODELS
from smepulse_lib.conventions import DAILY_FRESHNESS, OWNER, REFERENCE_FRESHNESS
from smepulse_lib.names import DAY_COLUMN_TAG, SERVING_DAYS_TAG


class SmePulseTranslator(DagsterDbtTranslator):
    """Asset keys are [schema, name]; every asset has an owner and a freshness policy. Groups come
    from dbt: the `+meta: {dagster: {group: ...}}` of each folder in dbt_project.yml."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id) or {}
        if node.get("resource_type") == "source":
            return spec
        reference = node.get("resource_type") == "seed" or node.get("name") in REFERENCE_MODELS
        day_column = rebuilt_by_day(node)
        columns = catalog_columns(node, read_catalog().get(unique_id))
        return spec.replace_attributes(
            owners=spec.owners or [OWNER],
            freshness_policy=REFERENCE_FRESHNESS if reference else DAILY_FRESHNESS,
            tags={**spec.tags, **serving_tags(node, day_column)},
        ).merge_attributes(metadata={"dagster/column_schema": columns} if columns else {})

    def get_asset_check_spec(
        self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetCheckSpec | None:
        """A test without a YAML description is described by its rule, so its check's About says
        what it asserts (``accepted_values(status; values=open, paid)``), not "No description"."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id)
        if spec is None or spec.description or not node or not node.get("test_metadata"):
            return spec
        return spec._replace(description=f"dbt test {test_rule(node)}")

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])


def serving_tags(node: Mapping[str, Any], day_column: str | None) -> dict[str, str]:
    """How the serving copy publishes the model: by its day column, keeping its last serving_days days."""
    meta = node.get("config", {}).get("meta") or {}
    tags = {DAY_COLUMN_TAG: day_column} if day_column else {}
    return {**tags, SERVING_DAYS_TAG: str(meta["serving_days"])} if day_column and meta.get("serving_days") else tags


def rebuilt_by_day(node: Mapping[str, Any]) -> str | None:
    """The day column of a model whose build rewrites only the days of its window (its
    ``partition_column`` meta), so readers may copy it day by day; None when a build can change
    other days too (``meta: {rebuilds: beyond_window}``) or the model has no day column."""
    meta = node.get("config", {}).get("meta") or {}
    return None if meta.get("rebuilds") == "beyond_window" else meta.get("partition_column")


def catalog_columns(node: Mapping[str, Any], catalogued: Mapping[str, Any] | None) -> dg.TableSchema | None:
    """Every column of the model's table with its type (the data catalog's) and its description
    (the YAML's). dagster-dbt lists only the columns the YAML names, without types unless declared;
    None until a catalog has been generated (then dagster-dbt's list stands)."""
    if not catalogued:
        return None
    described = node.get("columns", {})
    ordered = sorted(catalogued["columns"].values(), key=lambda c: c["index"])
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c["name"], type=c["type"], description=described.get(c["name"], {}).get("description") or None
            )
            for c in ordered
        ]
    )
