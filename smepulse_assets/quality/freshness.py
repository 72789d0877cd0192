"""Freshness: one verdict from the asset's policy, and one check of how far its data reaches.

- **Is the asset updated recently?** The asset's own ``FreshnessPolicy`` (fail and warn
  windows against the age of its last materialization). Dagster's freshness daemon judges it
  every 30 s; the asset page shows that state, and the alert sensor turns each change of it
  into an alert or a recovery (``freshness_signals``). No check repeats that verdict: a check
  would enter every "Materialize all" and backfill from the UI (Dagster includes every check of
  the selected assets), and the hourly job that ran one per asset (with the lag checks, ~176 per
  run) stored ~3 MB a run on the UI's SQLite instance: ~70 MB a day, eight times what a day's
  own runs store (docs/benchmarks.md).
- **Does the data reach the last complete day?** ``newest_day_lag`` (WARN, daily partitioned
  assets): a backfill of old days updates an asset without bringing its data up to date. It
  judges the newest materialized day against the same windows once a day, at 06:00 UTC after the
  night's runs (``newest_day_lag_job``: a day is its unit, and a run of its ~80 checks stores
  ~1.4 MB), not inside the runs that write the days. A world replayed from history (the Kaggle years)
  warns here for as long as it is history. Being a check of its asset, Dagster includes it when
  the UI materializes the asset; it then judges the data the run leaves, truthfully.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

LAG_CHECK_NAME = "newest_day_lag"
# The condition a freshness alert names: the asset's policy, as Dagster's freshness daemon judges it.
POLICY_CONDITION = "freshness_policy"
# The daemon's states that say something, as alert severities: FAIL and WARN open (or repeat) an
# alert, PASS resolves it. UNKNOWN (never materialized) and NOT_APPLICABLE raise nothing.
STATE_SEVERITY = {"FAIL": "ERROR", "WARN": "WARN", "PASS": None}


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


def policy_evidence(instance: dg.DagsterInstance, spec: dg.AssetSpec, now: datetime) -> tuple[str, str]:
    """What the policy's verdict rests on: the last materialization's age, and the windows."""
    fail_window, warn_window = _policy_windows(spec)
    event = instance.get_latest_materialization_event(spec.key)
    updated = datetime.fromtimestamp(event.timestamp, tz=UTC) if event else None
    observed = f"last materialized {_hours(now - updated)} ago" if updated else "never materialized"
    windows = f"warn after {_hours(warn_window)}, " if warn_window else ""
    return observed, f"{windows}fail after {_hours(fail_window)}"


def newest_day_end(instance: dg.DagsterInstance, key: dg.AssetKey) -> datetime | None:
    """The end of the newest materialized day (a day's partition is complete at its end)."""
    days = instance.get_materialized_partitions(key)
    if not days:
        return None
    return datetime.strptime(max(days), "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)


def judge_lag(spec: dg.AssetSpec, newest_end: datetime | None, now: datetime) -> dg.AssetCheckResult:
    """How far the newest materialized day is behind now, against the policy's windows (the warn
    window, else the fail window); never more than a warning."""
    fail_window, warn_window = _policy_windows(spec)
    window = warn_window or fail_window
    if newest_end is None:
        passed, description = False, "no day materialized"
    else:
        passed = now - newest_end <= window
        description = f"newest day {(newest_end - timedelta(days=1)).date()} ends {_hours(now - newest_end)} ago"
    return dg.AssetCheckResult(
        asset_key=spec.key,
        check_name=LAG_CHECK_NAME,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "observed": description,
            "threshold": f"no older than {_hours(window)}",
            "as_of": newest_end.isoformat() if newest_end else "never",
        },
    )


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"


def build_lag_checks(assets: list[dg.AssetsDefinition]) -> dg.AssetChecksDefinition:
    """``newest_day_lag`` on every daily partitioned asset with a freshness policy."""
    targets = freshness_targets(assets)
    specs = [
        dg.AssetCheckSpec(
            LAG_CHECK_NAME,
            asset=key,
            description="The newest materialized day is within the freshness policy's windows of now (WARN): a "
            "backfill of old days updates an asset without bringing its data up to date. Whether the asset "
            "was updated recently at all is its freshness policy's verdict, on the asset page.",
        )
        for key, (_, partitioned) in targets.items()
        if partitioned
    ]

    @dg.multi_asset_check(name="newest_day_lag_checks", specs=specs, can_subset=True)
    def newest_day_lag_checks(context: dg.AssetCheckExecutionContext):
        now = datetime.now(UTC)
        for check_key in context.selected_asset_check_keys:
            spec = targets[check_key.asset_key][0]
            yield judge_lag(spec, newest_day_end(context.instance, spec.key), now)

    return newest_day_lag_checks
