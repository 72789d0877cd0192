"""The per-layer run summary: tables succeeded / failed / skipped, rows, checks passed / warned / failed.

Each layer's materializations carry it as metadata, and the run log prints it
as a table, so an operator sees at a glance what a run did to each layer.
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

MODEL_TYPES = {"model", "seed", "snapshot"}
LAYER_SUMMARY_TITLE = "LAYER SUMMARY"  # the rendered summary's first line ends with it


@dataclass
class LayerSummary:
    layer: str
    tables_succeeded: list[str] = field(default_factory=list)
    tables_failed: list[str] = field(default_factory=list)
    tables_skipped: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    rows_quarantined: int = 0
    checks_passed: int = 0
    checks_warned: int = 0
    checks_failed: int = 0
    failed_checks: list[str] = field(default_factory=list)

    @classmethod
    def of_bronze(
        cls, tables: list[str], rows_loaded: int, rows_quarantined: int, checks: Iterable[dg.AssetCheckResult]
    ) -> "LayerSummary":
        summary = cls(
            "bronze", tables_succeeded=list(tables), rows_loaded=rows_loaded, rows_quarantined=rows_quarantined
        )
        for check in checks:
            summary.count_check(check.check_name or "", check.passed, check.severity == dg.AssetCheckSeverity.WARN)
        return summary

    def count_check(self, name: str, passed: bool, warn_only: bool) -> None:
        if passed:
            self.checks_passed += 1
        elif warn_only:
            self.checks_warned += 1
        else:
            self.checks_failed += 1
            self.failed_checks.append(name)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "layer_summary": dg.MetadataValue.json(asdict(self)),
            "layer_tables_succeeded": len(self.tables_succeeded),
            "layer_tables_failed": len(self.tables_failed),
            "layer_tables_skipped": len(self.tables_skipped),
            "layer_checks_passed": self.checks_passed,
            "layer_checks_warned": self.checks_warned,
            "layer_checks_failed": self.checks_failed,
        }

    def render(self) -> str:
        total = len(self.tables_succeeded) + len(self.tables_failed) + len(self.tables_skipped)
        lines = [
            f"{self.layer.upper()} {LAYER_SUMMARY_TITLE}",
            f"Total tables: {total}",
            f"  Success: {len(self.tables_succeeded)}",
            f"  Failed: {len(self.tables_failed)} {self.tables_failed or ''}".rstrip(),
            f"  Skipped: {len(self.tables_skipped)} {self.tables_skipped or ''}".rstrip(),
            f"Rows loaded: {self.rows_loaded:,}  quarantined: {self.rows_quarantined:,}",
            f"Checks passed: {self.checks_passed}  warned: {self.checks_warned}  failed: {self.checks_failed}",
        ]
        return "\n".join(lines)


def dbt_layer_summaries(
    run_results: Mapping[str, Any], manifest: Mapping[str, Any], rows_by_model: Mapping[str, int]
) -> dict[str, LayerSummary]:
    """Summaries per layer (schema) from a dbt invocation's run_results.json."""
    nodes = manifest["nodes"]
    layers: dict[str, LayerSummary] = {}
    for result in run_results["results"]:
        node = nodes.get(result["unique_id"])
        if node is None:
            continue
        if node["resource_type"] in MODEL_TYPES:
            summary = layers.setdefault(node["schema"], LayerSummary(node["schema"]))
            _count_table(summary, node["name"], result["status"], rows_by_model.get(node["name"], 0))
        elif node["resource_type"] == "test":
            tested = _tested_node(node, nodes)
            if tested is None:  # a test on a source: bronze, reported with the source's checks
                continue
            summary = layers.setdefault(tested["schema"], LayerSummary(tested["schema"]))
            _count_test(summary, node["name"], result["status"])
    return layers


def _tested_node(test: Mapping[str, Any], nodes: Mapping[str, Any]) -> Mapping[str, Any] | None:
    attached = test.get("attached_node") or next(iter(test.get("depends_on", {}).get("nodes", [])), None)
    return nodes.get(attached) if attached else None


def _count_table(summary: LayerSummary, name: str, status: str, rows: int) -> None:
    if status == "success":
        summary.tables_succeeded.append(name)
        summary.rows_loaded += rows
    elif status == "skipped":
        summary.tables_skipped.append(name)
    else:
        summary.tables_failed.append(name)


def _count_test(summary: LayerSummary, name: str, status: str) -> None:
    if status == "skipped":
        return
    summary.count_check(name, status == "pass", status == "warn")
