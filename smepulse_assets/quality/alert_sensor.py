"""The sensor that feeds the alerting component: every finished run, exactly once.

Each tick reads the runs that finished (succeeded or failed) since the cursor,
turns their check evaluations and their outcome into signals, and hands them
to ``Alerting``. The cursor (last update time and the run ids seen at it)
means a run is looked at once, so a failure is not re-sent on every tick.
Stale assets arrive as changes of their freshness state: Dagster's freshness
daemon judges every asset's policy, and each change since the last tick (the failing
states are kept in the cursor) opens, repeats or resolves the asset's freshness alert, so a fresh
materialization resolves it within a tick or two.
When the log changed, the tick records a materialization of ``ops/alert_log``
listing the open alerts: the UI shows what ``ops.alerts`` holds.
"""

import json
from datetime import UTC, datetime

import dagster as dg
from dagster._core.events import DagsterEventType

from smepulse_assets.quality.alerts import ALERT_LOG_KEY, Alerting, AlertLog, OpenAlert, Signal, alert_log_metadata
from smepulse_assets.quality.freshness import LAG_CHECK_NAME, POLICY_CONDITION, STATE_SEVERITY, policy_evidence
from smepulse_lib.metadata import plain_values
from smepulse_lib.names import ALERT_SENSOR, current_job_name
from smepulse_lib.windows import DayWindow

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
RUN_BATCH = 50


def signals_of_run(instance: dg.DagsterInstance, run: dg.DagsterRun, alerting: Alerting) -> list[Signal]:
    entries = instance.all_logs(
        run.run_id, of_type={DagsterEventType.ASSET_CHECK_EVALUATION, DagsterEventType.RUN_FAILURE}
    )
    window = DayWindow.of_run(run)
    partition = window.label() if window else None
    signals = []
    events = [entry.get_dagster_event() for entry in entries]
    for event in events:
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            signals.append(_check_signal(event.asset_check_evaluation_data, run.run_id, partition, alerting))
    failure = next((e for e in events if e.event_type == DagsterEventType.RUN_FAILURE), None)
    signals.append(
        Signal(
            kind="run",
            subject=current_job_name(run.job_name),
            check_name=None,
            partition=partition,
            failing=run.status == dg.DagsterRunStatus.FAILURE,
            severity="ERROR",
            observed=run.status.value,
            threshold="SUCCESS",
            message=(failure.message if failure else None) or f"run {run.status.value.lower()}",
            ui_url=alerting.run_url(run.run_id),
            run_id=run.run_id,
        )
    )
    return signals


def _check_signal(evaluation, run_id: str | None, partition: str | None, alerting: Alerting) -> Signal:
    """A check evaluation as a signal: of a run, or recorded by this sensor (no run)."""
    metadata = plain_values(evaluation.metadata)
    observed = metadata.get("observed", metadata.get("dagster_dbt/failed_row_count"))
    threshold = metadata.get("threshold", "0 failing rows" if "dagster_dbt/failed_row_count" in metadata else None)
    return Signal(
        kind="check",
        subject=evaluation.asset_key.to_user_string(),
        check_name=evaluation.check_name,
        # how far the asset's data reaches is the whole asset's, not the run's days: its pass
        # clears the alert whatever days the failing run had
        partition=None
        if evaluation.check_name == LAG_CHECK_NAME
        else evaluation.partition or metadata.get("partitions") or partition,
        failing=not evaluation.passed,
        severity=evaluation.severity.value,
        observed=None if observed is None else str(observed),
        threshold=None if threshold is None else str(threshold),
        message=evaluation.description or ("passed" if evaluation.passed else "check failed"),
        ui_url=alerting.asset_url(evaluation.asset_key),
        run_id=run_id,
    )


def finished_runs(instance: dg.DagsterInstance, cursor: str | None) -> tuple[list[dg.DagsterRun], str]:
    """Runs finished since the cursor, oldest first, and the cursor after them."""
    state = json.loads(cursor) if cursor else {"after": 0.0, "seen": []}
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=FINISHED, updated_after=datetime.fromtimestamp(state["after"], tz=UTC)),
        order_by="update_timestamp",
        ascending=True,
        limit=RUN_BATCH,
    )
    # updated_after is exclusive at best and equal timestamps happen: remember ids at the edge
    fresh = [r for r in records if r.dagster_run.run_id not in set(state["seen"])]
    if fresh:
        newest = max(r.update_timestamp.timestamp() for r in fresh)
        at_edge = [r.dagster_run.run_id for r in records if r.update_timestamp.timestamp() == newest]
        state = {**state, "after": newest, "seen": at_edge}
    return [r.dagster_run for r in fresh], json.dumps(state)


# What the hourly freshness checks were called before the daemon's states replaced them.
RETIRED_FRESHNESS_CHECK = "freshness_sla"
# The freshness states the alert sensor remembers between ticks.
FAILING_STATES = ("FAIL", "WARN")


def freshness_signals(
    instance: dg.DagsterInstance,
    specs: dict[dg.AssetKey, dg.AssetSpec],
    failing: dict[str, str] | None,
    alerting: Alerting,
) -> tuple[list[Signal], dict[str, str]]:
    """Each change of an asset's freshness state since the last tick as a signal, and the failing
    states now. ``failing``: the assets whose policy failed or warned at the last tick (the others
    passed, or were never materialized); None on the first tick, when every state is news.

    Only failing states are kept: Dagster stores the cursor with every tick (one every 30 s, kept
    for days), and a state per asset would be ~100 of them in each."""
    now = datetime.now(UTC)
    # (a cursor from before kept every state: the passing and unknown ones are dropped from it)
    signals: list[Signal] = []
    states = {name: state for name, state in (failing or {}).items() if state in FAILING_STATES}
    for key, record in instance.get_freshness_state_records(list(specs)).items():
        name, state = key.to_user_string(), record.freshness_state.value
        before = None if failing is None else failing.get(name, "PASS")
        if state == before or state not in STATE_SEVERITY:  # UNKNOWN (never materialized) changes nothing
            continue
        if state == "PASS":
            states.pop(name, None)
        else:
            states[name] = state
        observed, threshold = policy_evidence(instance, specs[key], now)
        signals.append(
            Signal(
                kind="freshness",
                subject=name,
                check_name=POLICY_CONDITION,
                partition=None,
                failing=state != "PASS",
                severity=STATE_SEVERITY[state] or "INFO",
                observed=observed,
                threshold=threshold,
                message=f"freshness policy {state.lower()}: {observed} ({threshold})",
                ui_url=alerting.asset_url(key),
                run_id=None,
            )
        )
    return signals, states


def retired_check_signals(open_alerts: list[OpenAlert], alerting: Alerting) -> list[Signal]:
    """Resolutions for alerts of the retired hourly freshness check, which no evaluation will clear
    (read once, on the sensor's first tick with freshness states: not the whole log every tick)."""
    return [
        Signal(
            kind=event["kind"],
            subject=event["subject"],
            check_name=event["check_name"],
            partition=None,
            failing=False,
            severity=event["severity"],
            observed=None,
            threshold=None,
            message="freshness is judged by the asset's freshness policy now (alerts: freshness_policy)",
            ui_url=alerting.asset_url(dg.AssetKey.from_user_string(event["subject"])),
            run_id=None,
        )
        for event in (alert.opening for alert in open_alerts)
        if event["check_name"] == RETIRED_FRESHNESS_CHECK
    ]


def build_alert_sensor(freshness_specs: dict[dg.AssetKey, dg.AssetSpec] | None = None) -> dg.SensorDefinition:
    specs = freshness_specs or {}

    @dg.sensor(
        name=ALERT_SENSOR,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Turns failing checks (ERROR and WARN), failed runs and stale assets into alerts: "
            "one open alert per failing check or job, whatever its partitions, in ops.alerts and listed on "
            "ops/alert_log; delivered to the log and the configured webhook once, repeats counted, "
            "recoveries recorded and sent."
        ),
    )
    def quality_alert_sensor(context: dg.SensorEvaluationContext, alerting: Alerting):
        runs, cursor = finished_runs(context.instance, context.cursor)
        signals = [s for run in runs for s in signals_of_run(context.instance, run, alerting)]
        state = json.loads(cursor)
        log = AlertLog(alerting.lake_url)
        if "freshness" not in state:  # the first tick since freshness states replaced freshness_sla
            signals += retired_check_signals(list(log.open_alerts().values()), alerting)
        freshness, state["freshness"] = freshness_signals(context.instance, specs, state.get("freshness"), alerting)
        signals += freshness
        events = alerting.process(signals, context.log)
        opened = sum(e["event"] == "firing" for e in events)
        resolved = sum(e["event"] == "resolved" for e in events)
        asset_events = (
            [dg.AssetMaterialization(asset_key=ALERT_LOG_KEY, metadata=alert_log_metadata(log))] if events else []
        )
        return dg.SensorResult(
            cursor=json.dumps(state),
            asset_events=asset_events,
            skip_reason=f"{len(runs)} run(s) read, {len(freshness)} freshness change(s): "
            f"{opened} alert(s) opened, {resolved} resolved",
        )

    return quality_alert_sensor
