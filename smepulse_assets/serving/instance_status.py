"""What the Dagster instance knows and a data-health page needs: the latest result of every asset
check and when each asset was last materialized. The warehouse holds neither, so the serving copy
takes them from the instance at each publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from smepulse_assets.serving.tables import ServedTable

CHECK_RESULTS = ServedTable("ops.check_results", None)
ASSET_STATUS = ServedTable("ops.asset_status", None)

CHECK_COLUMNS = [
    ("asset_key", "varchar"),
    ("check_name", "varchar"),
    ("partition", "varchar"),
    ("status", "varchar"),
    ("passed", "boolean"),
    ("severity", "varchar"),
    ("description", "varchar"),
    ("evaluated_at", "timestamptz"),
    ("run_id", "varchar"),
]
STATUS_COLUMNS = [
    ("asset_key", "varchar"),
    ("group_name", "varchar"),
    ("last_materialized_at", "timestamptz"),
    ("last_partition", "varchar"),
    ("last_run_id", "varchar"),
]


@dataclass(frozen=True)
class Watched:
    """The assets (with their groups) and the checks of the code location the status is taken of."""

    groups: dict[dg.AssetKey, str]
    checks: list[dg.AssetCheckKey]

    @classmethod
    def of(cls, definitions: list) -> Watched:
        """From asset and check definitions (the code location's, given before it is assembled)."""
        groups = {
            k: g for d in definitions if isinstance(d, dg.AssetsDefinition) for k, g in d.group_names_by_key.items()
        }
        checks = {k for d in definitions for k in d.check_keys}
        return cls(groups, sorted(checks, key=lambda k: k.to_user_string()))


def _at(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


def check_results(instance: dg.DagsterInstance, watched: Watched) -> pd.DataFrame:
    """One row per check: its latest execution (any partition), or no row if it never ran."""
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(watched.checks)
    rows = []
    for key, record in sorted(latest.items(), key=lambda item: item[0].to_user_string()):
        evaluation = record.event.asset_check_evaluation if record.event else None
        rows.append(
            {
                "asset_key": key.asset_key.to_user_string(),
                "check_name": key.name,
                "partition": record.partition,
                "status": record.status.value,
                "passed": evaluation.passed if evaluation else None,
                "severity": evaluation.severity.value if evaluation else None,
                "description": evaluation.description if evaluation else None,
                "evaluated_at": _at(record.create_timestamp),
                "run_id": record.run_id,
            }
        )
    return _frame(rows, CHECK_COLUMNS)


def asset_status(instance: dg.DagsterInstance, watched: Watched) -> pd.DataFrame:
    """One row per asset: when and for which partition it was last materialized (null if never)."""
    keys = sorted(watched.groups, key=lambda k: k.to_user_string())
    events = instance.get_latest_materialization_events(keys)
    rows = []
    for key in keys:
        event = events.get(key)
        materialization = event.asset_materialization if event else None
        rows.append(
            {
                "asset_key": key.to_user_string(),
                "group_name": watched.groups[key],
                "last_materialized_at": _at(event.timestamp) if event else None,
                "last_partition": materialization.partition if materialization else None,
                "last_run_id": event.run_id if event else None,
            }
        )
    return _frame(rows, STATUS_COLUMNS)


def _frame(rows: list[dict], columns: list[tuple[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[name for name, _ in columns])
    for name, kind in columns:
        if kind == "timestamptz":
            frame[name] = pd.to_datetime(frame[name], utc=True)
        elif kind == "boolean":
            frame[name] = frame[name].astype("boolean")
        else:
            frame[name] = frame[name].astype("string")
    return frame
