"""The rows behind a failed or warning dbt test, for its check's description and the run's
failure message.

A failed test's name says which rule broke, not where: its check result (what the asset page and
the alert it raises show) says the rule and a few failing rows (key, value, and the bronze file and
line they came from, when the model carries them), and so does the message of a run stopped by
one, so the cause can be found without opening the warehouse.
"""

import re
from collections.abc import Mapping
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from smepulse_lib.metadata import plain_values

SAMPLE_ROWS = 3
# columns shown first when a model has them: where the row came from
LINEAGE_COLUMNS = ("_source_file", "_source_line")
# run-result statuses of a test that found rows: a warning's rows are as worth naming as a failure's
FOUND_ROWS = ("fail", "warn")


def failing_row_samples(
    warehouse: DuckDBResource, manifest: Mapping[str, Any], run_results: Mapping[str, Any]
) -> dict[str, list[dict]]:
    """Per failed or warning test (by name), up to SAMPLE_ROWS of its failing rows."""
    failed = [r for r in run_results["results"] if r["unique_id"].startswith("test.") and r["status"] in FOUND_ROWS]
    if not failed:
        return {}
    samples = {}
    with warehouse.get_connection() as con:
        for result in failed:
            node = manifest["nodes"].get(result["unique_id"], {})
            try:
                samples[node.get("name", result["unique_id"])] = _sample(con, manifest, node, result)
            except duckdb.Error as err:  # a sample is a courtesy: the failure stands without it
                samples[node.get("name", result["unique_id"])] = [{"sample_unavailable": f"{err}".splitlines()[0]}]
    return samples


def _sample(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any], node: Mapping, result: Mapping) -> list[dict]:
    """A not_null test selects only the null column: its rows are read from the model instead, with
    the model's first columns and lineage. Other tests' own queries name their failing values."""
    test, column = node.get("test_metadata", {}).get("name"), node.get("column_name")
    model = manifest["nodes"].get(node.get("attached_node") or "", {})
    if test == "not_null" and column and model.get("alias"):
        relation = f'"{model["schema"]}"."{model["alias"]}"'
        names = [row[0] for row in con.execute(f"select column_name from (describe {relation})").fetchall()]
        shown = list(dict.fromkeys([*names[:3], column, *(c for c in LINEAGE_COLUMNS if c in names)]))
        sql = f"select {', '.join(shown)} from {relation} where {column} is null limit {SAMPLE_ROWS}"
    else:
        sql = f"select * from ({result['compiled_code']}) as failures limit {SAMPLE_ROWS}"
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _plain(value):
    return value if value is None or isinstance(value, (int, float, str, bool)) else f"{value}"


def test_rule(node: Mapping) -> str:
    """What a generic test asserts, in one line: ``expect_true(indicator_age_days; expression=...)``."""
    metadata = node.get("test_metadata") or {}
    arguments = "; ".join(
        f"{name}={_argument(value)}"
        for name, value in metadata.get("kwargs", {}).items()
        if name not in ("model", "column_name")
    )
    inside = "; ".join(part for part in (node.get("column_name") or "", arguments) if part)
    return f"{metadata.get('name') or node.get('name', 'test')}({inside})"


def _argument(value: Any) -> str:
    """A test argument as written: a list joined, ``ref('x')`` as x."""
    text = ", ".join(map(str, value)) if isinstance(value, list) else f"{value}"
    return re.sub(r"\{\{\s*ref\('([^']+)'\)\s*\}\}|ref\('([^']+)'\)", lambda m: m.group(1) or m.group(2), text)


def described_check(
    result: dg.AssetCheckResult, manifest: Mapping[str, Any], samples: Mapping[str, list[dict]]
) -> dg.AssetCheckResult:
    """A dbt test's check result with what it asserts, how many rows broke it and a few of them,
    when it did not pass: dagster-dbt gives only the count."""
    metadata = plain_values(result.metadata)
    node = manifest["nodes"].get(f"{metadata.get('unique_id')}", {})
    if result.passed or not node:
        return result
    count = metadata.get("dagster_dbt/failed_row_count")
    found = "failed" if count is None else f"{count} failing row{'' if count == 1 else 's'}"
    rows = samples.get(node.get("name", ""))
    text = f"{test_rule(node)}: {found}" + (f", e.g. {rows}" if rows else "")
    return result._replace(description=f"{text}; {result.description}" if result.description else text)


def describe_samples(samples: dict[str, list[dict]]) -> str:
    """One line per failed test: its name and its sample rows."""
    return "; ".join(f"{name}: {rows}" for name, rows in samples.items())
