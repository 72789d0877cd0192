"""Freshness checks that run headless: is each asset's newest data within its SLA?

The SLA is the asset's own ``FreshnessPolicy`` (warn and fail windows), so the
policy the UI shows and the check that alerts never disagree. For a daily
partitioned asset the data is as fresh as the end of its newest materialized
partition (a backfill of old days does not make it fresh); for an
unpartitioned one, its last materialization. A schedule runs the checks every
hour; a failure reaches the alert sensor like any failing check.
"""

from datetime import datetime, timedelta, timezone

import dagster as dg

CHECK_NAME = "freshness_sla"


def _policy_windows(spec: dg.AssetSpec) -> tuple[timedelta, timedelta | None]:
    policy = spec.freshness_policy
    return policy.fail_window.to_timedelta(), policy.warn_window.to_timedelta() if policy.warn_window else None


def freshness_targets(assets: list[dg.AssetsDefinition]) -> dict[dg.AssetKey, tuple[dg.AssetSpec, bool]]:
    """Every asset with a freshness policy, and whether it is time-partitioned."""
    return {
        spec.key: (spec, isinstance(a.partitions_def, dg.TimeWindowPartitionsDefinition))
        for a in assets
        for spec in a.specs
        if spec.freshness_policy is not None
    }


def data_time(instance: dg.DagsterInstance, key: dg.AssetKey, partitioned: bool) -> datetime | None:
    """How recent the asset's data is, in UTC, or None when it was never materialized."""
    if partitioned:
        days = instance.get_materialized_partitions(key)
        if not days:
            return None
        newest = datetime.strptime(max(days), "%Y-%m-%d").replace(tzinfo=timezone.utc)
        return newest + timedelta(days=1)  # a day's partition is complete at its end
    event = instance.get_latest_materialization_event(key)
    return datetime.fromtimestamp(event.timestamp, tz=timezone.utc) if event else None


def judge(spec: dg.AssetSpec, as_of: datetime | None, now: datetime) -> dg.AssetCheckResult:
    fail_window, warn_window = _policy_windows(spec)
    if as_of is None:
        return _result(spec, False, dg.AssetCheckSeverity.ERROR, "never materialized", None, fail_window)
    age = now - as_of
    if age > fail_window:
        return _result(spec, False, dg.AssetCheckSeverity.ERROR, f"data is {_hours(age)} old", as_of, fail_window)
    if warn_window is not None and age > warn_window:
        return _result(spec, False, dg.AssetCheckSeverity.WARN, f"data is {_hours(age)} old", as_of, warn_window)
    return _result(spec, True, dg.AssetCheckSeverity.ERROR, f"data is {_hours(age)} old", as_of, fail_window)


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"


def _result(spec, passed, severity, description, as_of, window) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=spec.key,
        check_name=CHECK_NAME,
        passed=passed,
        severity=severity,
        description=description,
        metadata={
            "observed": description,
            "threshold": f"data no older than {_hours(window)}",
            "data_as_of": as_of.isoformat() if as_of else "never",
        },
    )


def build_freshness_checks(assets: list[dg.AssetsDefinition]) -> dg.AssetChecksDefinition:
    targets = freshness_targets(assets)

    @dg.multi_asset_check(
        name="freshness_checks",
        specs=[
            dg.AssetCheckSpec(
                CHECK_NAME, asset=key, description="Newest data within the asset's freshness policy (fail and warn windows)."
            )
            for key in targets
        ],
        can_subset=True,
    )
    def freshness_checks(context: dg.AssetCheckExecutionContext):
        now = datetime.now(timezone.utc)
        for check_key in context.selected_asset_check_keys:
            spec, partitioned = targets[check_key.asset_key]
            yield judge(spec, data_time(context.instance, check_key.asset_key, partitioned), now)

    return freshness_checks
