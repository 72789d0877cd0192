"""The data catalog as an asset: dbt's docs site generated over the warehouse (one static HTML
file the team opens without a server), and the catalog of column types the code location reads
so each dbt asset's page in the Dagster UI lists all its columns with types and descriptions.

dbt writes the docs to their own target folder (``target/docs``): generating them compiles the
project, which must not rewrite the manifest the runs read.
"""

import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from smepulse_assets.transform.project import dbt_executable
from smepulse_lib import storage
from smepulse_lib.conventions import OWNER, REFERENCE_FRESHNESS, WAREHOUSE_POOL
from smepulse_lib.resources import PlatformPaths
from smepulse_lib.settings import DBT_PROJECT_DIR, Settings

DOCS_KEY = dg.AssetKey(["docs", "data_catalog"])
DESCRIBED_CHECK = "every_column_described"
DOCS_TARGET = DBT_PROJECT_DIR / "target" / "docs"
CATALOG = DOCS_TARGET / "catalog.json"
DOCUMENTED_SCHEMAS = ("silver", "gold")


@cache
def read_catalog(path: Path = CATALOG) -> Mapping[str, Any]:
    """The last generated catalog's nodes (unique_id -> columns with types), or none yet."""
    return json.loads(path.read_text(encoding="utf-8")).get("nodes", {}) if path.exists() else {}


def undescribed_columns(manifest: Mapping[str, Any], catalog: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per silver and gold model: the columns its table has (catalog) that its YAML does not describe."""
    missing = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "model" or node["schema"] not in DOCUMENTED_SCHEMAS:
            continue
        described = {name for name, column in node["columns"].items() if column.get("description")}
        columns = catalog.get(unique_id, {}).get("columns", {})
        absent = [name for name in columns if name not in described]
        if absent or not node.get("description"):
            missing[f"{node['schema']}.{node['name']}"] = absent or ["(the model itself)"]
    return missing


def build_data_catalog_asset(settings: Settings, documented: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    deps: list[dg.AssetKey] = sorted(documented, key=dg.AssetKey.to_user_string)

    @dg.asset(
        key=DOCS_KEY,
        deps=deps,
        group_name="docs",
        owners=[OWNER],
        freshness_policy=REFERENCE_FRESHNESS,
        pool=WAREHOUSE_POOL,  # the catalog query reads the warehouse
        check_specs=[
            dg.AssetCheckSpec(
                DESCRIBED_CHECK,
                asset=DOCS_KEY,
                description="Every silver and gold model, and every column its table has, is described in the "
                "dbt YAML (WARN: the catalog still opens, with gaps).",
            )
        ],
        description="dbt's docs site over the warehouse, one static HTML file at <lake>/docs/data_catalog.html: "
        "every model and source with its columns, types, descriptions, tests and lineage. Its catalog also gives "
        "the column types shown on each dbt asset's page (after the code location reloads).",
    )
    def data_catalog(paths: PlatformPaths) -> dg.MaterializeResult:
        _generate(settings)
        read_catalog.cache_clear()
        site = storage.join(paths.lake_url, "docs", "data_catalog.html")
        storage.write_bytes(site, (DOCS_TARGET / "static_index.html").read_bytes())
        manifest = json.loads((DOCS_TARGET / "manifest.json").read_text(encoding="utf-8"))
        catalog = read_catalog()
        missing = undescribed_columns(manifest, catalog)
        columns = sum(len(n.get("columns", {})) for n in catalog.values())
        return dg.MaterializeResult(
            metadata={"path": dg.MetadataValue.path(site), "relations": len(catalog), "columns": columns},
            check_results=[
                dg.AssetCheckResult(
                    check_name=DESCRIBED_CHECK,
                    passed=not missing,
                    severity=dg.AssetCheckSeverity.WARN,
                    description=(
                        f"{sum(len(v) for v in missing.values())} columns of {len(missing)} models undescribed"
                        if missing
                        else None
                    ),
                    metadata={"undescribed": dg.MetadataValue.json(missing)},
                )
            ],
        )

    return data_catalog


def _generate(settings: Settings) -> None:
    done = subprocess.run(
        [dbt_executable(), "docs", "generate", "--static", "--target-path", str(DOCS_TARGET),
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        env={**os.environ, **settings.dbt_env()}, capture_output=True, text=True, cwd=DBT_PROJECT_DIR,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-20:])
        raise dg.Failure(f"dbt docs generate exited with {done.returncode}", metadata={"output": tail})
