"""The asset graph as a reviewed file: keys, groups, partitioning, upstream keys and checks.

Any change to the graph (a new model, a renamed check, an asset moved to another group) changes
tests/snapshots/asset_graph.json, so it shows in review. After an intended change:

    SMEPULSE_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_asset_graph.py
"""

import json
import os
from pathlib import Path

from smepulse_assets.definitions import build_defs
from tests.conftest import make_settings

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "asset_graph.json"


def graph_snapshot(defs) -> dict:
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitioned": node.partitions_def is not None,
            "materializable": node.is_materializable,
            "upstream": sorted(parent.to_user_string() for parent in node.parent_keys),
            "checks": sorted(checks.get(key.to_user_string(), [])),
        }
    jobs = {job.name: sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys)
            for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}  # fmt: skip
    return {"assets": assets, "jobs": jobs}


def test_the_asset_graph_matches_its_snapshot(tmp_path):
    current = graph_snapshot(build_defs(make_settings(tmp_path)))
    if os.environ.get("SMEPULSE_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    recorded = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    changed = sorted(k for k in current["assets"].keys() | recorded["assets"].keys()
                     if current["assets"].get(k) != recorded["assets"].get(k))  # fmt: skip
    assert changed == [], f"the asset graph changed at {changed}: review, then update the snapshot (docstring)"
    assert current["jobs"] == recorded["jobs"]
