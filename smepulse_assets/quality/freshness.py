"""Freshness checks that run headless, judging exactly what the asset page shows.

Two questions, two checks, each stated once:
- ``freshness_sla``: was the asset updated recently? The asset's own ``FreshnessPolicy`` (fail
  and warn windows) judged as Dagster judges it for the asset page: the age of its last
  materialization. The policy's verdict in the UI and this check's never disagree; the check is
  what reaches the alert sensor (Dagster's open-source freshness state raises no event).
- ``newest_day_lag`` (daily partitioned assets): does the data reach the last complete day? A
  backfill of old days updates an asset without bringing its data up to date; this WARN check
  measures how far the newest materialized day is behind, against the same windows. A world
  replayed from history (the Kaggle years) warns here for as long as it is history, and nothing
  more.
A schedule runs both every hour; the alert sensor re-judges an open freshness alert on each tick,
so a fresh materialization resolves it within a minute, not at the next hour.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

CHECK_NAME = "freshness_sla"
LAG_CHECK_NAME = "newest_day_lag"


def _policy_windows(spec: dg.AssetSpec) -> tuple[timedelta, timedelta | None]:
    policy: Any = spec.freshness_policy  # a time-window policy (FreshnessPolicy.time_window): conventions.py
    if getattr(policy, "fail_window", None) is None:
        raise TypeError(f"{spec.key.to_user_string()}: freshness checks judge time-window policies, not {policy!r}")
    return policy.fail_window.to_timedelta(), policy.warn_window.to_timedelta() if policy.warn_window else None


def freshness_targets(assets: list[dg.AssetsDefinition]) -> dict[dg.AssetKey, tuple[dg.AssetSpec, bool]]:
    """Every asset with a freshness policy, and whether it is time-partitioned."""
    return {
        spec.key: (spec, isinstance(a.partitions_def, dg.TimeWindowPartitionsDefinition))
        for a in assets
        for spec in a.specs
        if spec.freshness_policy is not None
    }


def last_updated(instance: dg.DagsterInstance, key: dg.AssetKey) -> datetime | None:
    """When the asset was last materialized (any partition), as the policy's evaluation reads it."""
    event = instance.get_latest_materialization_event(key)
    return datetime.fromtimestamp(event.timestamp, tz=UTC) if event else None


def newest_day_end(instance: dg.DagsterInstance, key: dg.AssetKey) -> datetime | None:
    """The end of the newest materialized day (a day's partition is complete at its end)."""
    days = instance.get_materialized_partitions(key)
    if not days:
        return None
    return datetime.strptime(max(days), "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)


def judge(spec: dg.AssetSpec, updated: datetime | None, now: datetime) -> dg.AssetCheckResult:
    """The policy's verdict: fail past the fail window, warn past the warn window."""
    fail_window, warn_window = _policy_windows(spec)
    if updated is None:
        return _result(spec, CHECK_NAME, False, dg.AssetCheckSeverity.ERROR, "never materialized", None, fail_window)
    passed, severity, window = _by_age(now - updated, fail_window, warn_window)
    return _result(
        spec, CHECK_NAME, passed, severity, f"last materialized {_hours(now - updated)} ago", updated, window
    )


def judge_lag(spec: dg.AssetSpec, newest_end: datetime | None, now: datetime) -> dg.AssetCheckResult:
    """How far the newest materialized day is behind now; never more than a warning."""
    fail_window, warn_window = _policy_windows(spec)
    if newest_end is None:
        return _result(
            spec, LAG_CHECK_NAME, False, dg.AssetCheckSeverity.WARN, "no day materialized", None, fail_window
        )
    passed, _, window = _by_age(now - newest_end, fail_window, warn_window)
    newest = (newest_end - timedelta(days=1)).date()
    description = f"newest day {newest} ends {_hours(now - newest_end)} ago"
    return _result(spec, LAG_CHECK_NAME, passed, dg.AssetCheckSeverity.WARN, description, newest_end, window)


def _by_age(age: timedelta, fail_window: timedelta, warn_window: timedelta | None):
    """(passed, severity, the window judged against)."""
    if age > fail_window:
        return False, dg.AssetCheckSeverity.ERROR, fail_window
    if warn_window is not None and age > warn_window:
        return False, dg.AssetCheckSeverity.WARN, warn_window
    return True, dg.AssetCheckSeverity.ERROR, fail_window


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"


def _result(spec, check_name, passed, severity, description, as_of, window) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=spec.key,
        check_name=check_name,
        passed=passed,
        severity=severity,
        description=description,
        metadata={
            "observed": description,
            "threshold": f"no older than {_hours(window)}",
            "as_of": as_of.isoformat() if as_of else "never",
        },
    )


def evaluate(instance: dg.DagsterInstance, spec: dg.AssetSpec, check_name: str, now: datetime) -> dg.AssetCheckResult:
    if check_name == CHECK_NAME:
        return judge(spec, last_updated(instance, spec.key), now)
    return judge_lag(spec, newest_day_end(instance, spec.key), now)


def build_freshness_checks(assets: list[dg.AssetsDefinition]) -> dg.AssetChecksDefinition:
    targets = freshness_targets(assets)
    specs = [
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=key,
            description="Updated within the asset's freshness policy: the age of its last materialization against "
            "the policy's fail and warn windows, the verdict the asset page shows.",
        )
        for key in targets
    ]
    specs += [
        dg.AssetCheckSpec(
            LAG_CHECK_NAME,
            asset=key,
            description="The newest materialized day is within the freshness policy's windows of now (WARN): a "
            "backfill of old days updates an asset without bringing its data up to date.",
        )
        for key, (_, partitioned) in targets.items()
        if partitioned
    ]

    @dg.multi_asset_check(name="freshness_checks", specs=specs, can_subset=True)
    def freshness_checks(context: dg.AssetCheckExecutionContext):
        now = datetime.now(UTC)
        for check_key in context.selected_asset_check_keys:
            yield evaluate(context.instance, targets[check_key.asset_key][0], check_key.name, now)

    return freshness_checks
