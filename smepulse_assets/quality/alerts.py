"""One alerting component: failing checks, failed runs and stale assets become alerts.

A *signal* is one observation (a check evaluation, a finished run). Signals
open, repeat or resolve *alerts*:
- a failing signal with no open alert for the same subject, check and
  partition opens one and delivers it to every sink (the log, and a webhook
  when ``SMEPULSE_ALERT_WEBHOOK_URL`` is set);
- the same failure seen again while its alert is open is recorded as a repeat
  and not sent again;
- a passing signal covering the alert's partitions resolves it; the recovery
  is recorded and sent.
Every transition is appended to the alert log in the lake
(``<lake>/ops/alert_events/``); the warehouse view ``ops.alerts`` reads it, one
row per alert. Appending files, not writing the warehouse, keeps alerting
working while a run holds the DuckDB write lock.
"""

import json
import logging
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import dagster as dg
import pyarrow as pa

from .. import storage

ALERT_EVENT_SCHEMA = pa.schema(
    [
        ("alert_id", pa.string()),
        ("alert_key", pa.string()),
        ("event", pa.string()),  # firing | repeat | resolved
        ("kind", pa.string()),  # check | run
        ("subject", pa.string()),  # asset key (checks) or job name (runs)
        ("check_name", pa.string()),
        ("partition", pa.string()),  # a day, a range "first...last", or null
        ("severity", pa.string()),  # ERROR | WARN
        ("observed", pa.string()),
        ("threshold", pa.string()),
        ("message", pa.string()),
        ("ui_url", pa.string()),
        ("run_id", pa.string()),
        ("delivered_to", pa.string()),
        ("delivery_error", pa.string()),
        ("event_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class Signal:
    """One observation that may open, repeat or resolve an alert."""

    kind: str
    subject: str
    check_name: str | None
    partition: str | None
    failing: bool
    severity: str
    observed: str | None
    threshold: str | None
    message: str
    ui_url: str
    run_id: str | None

    @property
    def alert_key(self) -> str:
        return "|".join([self.kind, self.subject, self.check_name or "", self.partition or ""])


def covers(passing: str | None, failing: str | None) -> bool:
    """Whether a pass over partitions ``passing`` vouches for partitions ``failing``."""
    if passing is None:
        return True  # an unpartitioned pass judges the asset as a whole
    if failing is None:
        return False
    p_first, _, p_last = passing.partition("...")
    f_first, _, f_last = failing.partition("...")
    return p_first <= f_first and (f_last or f_first) <= (p_last or p_first)


class AlertLog:
    """The append-only alert log in the lake."""

    def __init__(self, lake_url: str):
        self.folder = storage.join(lake_url, "ops", "alert_events")

    def ensure(self) -> None:
        """An empty typed file, so readers (the ops.alerts view) work before the first alert."""
        schema_file = storage.join(self.folder, "_schema.parquet")
        fs, path = storage.filesystem(schema_file)
        if not fs.exists(path):
            storage.write_parquet(schema_file, pa.Table.from_pylist([], schema=ALERT_EVENT_SCHEMA))

    def append(self, events: list[dict]) -> None:
        if events:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            url = storage.join(self.folder, f"events-{stamp}-{uuid.uuid4().hex[:8]}.parquet")
            storage.write_parquet(url, pa.Table.from_pylist(events, schema=ALERT_EVENT_SCHEMA))

    def events(self) -> list[dict]:
        self.ensure()
        with storage.duckdb_reader(self.folder) as con:
            frame = con.sql(
                f"select * from read_parquet('{storage.join(self.folder, '*.parquet')}') order by event_at"
            ).to_arrow_table()
        return frame.to_pylist()

    def open_alerts(self) -> dict[str, dict]:
        """Firing alerts not yet resolved, by alert id (the opening event)."""
        opened: dict[str, dict] = {}
        for event in self.events():
            if event["event"] == "firing":
                opened[event["alert_id"]] = event
            elif event["event"] == "resolved":
                opened.pop(event["alert_id"], None)
        return opened


class WebhookSink:
    """POSTs each alert as JSON; a sink that is down does not stop the others."""

    def __init__(self, url: str, timeout_seconds: float = 10.0):
        self.url = url
        self.timeout_seconds = timeout_seconds

    def send(self, payload: dict) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(payload, default=str).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            response.read()


class Alerting(dg.ConfigurableResource):
    """Where alerts go and how they link back to the UI."""

    lake_url: str
    webhook_url: str | None = None
    ui_url: str = "http://localhost:3000"

    def asset_url(self, asset_key: dg.AssetKey) -> str:
        return f"{self.ui_url.rstrip('/')}/assets/{'/'.join(asset_key.path)}?view=checks"

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"

    def process(self, signals: Iterable[Signal], log: logging.Logger | dg.DagsterLogManager) -> list[dict]:
        """Turn signals into alert events: written to the log, delivered when new or resolved."""
        alert_log = AlertLog(self.lake_url)
        open_alerts = alert_log.open_alerts()
        events = []
        for signal in signals:
            events += self._transitions(signal, open_alerts, log)
        alert_log.append(events)
        return events

    def _transitions(self, signal: Signal, open_alerts: dict[str, dict], log) -> list[dict]:
        related = [a for a in open_alerts.values() if _same_target(a, signal)]
        if signal.failing:
            same = [a for a in related if a["alert_key"] == signal.alert_key]
            if same:
                return [_event(same[0]["alert_id"], "repeat", signal)]
            event = self._deliver(_event(uuid.uuid4().hex, "firing", signal), log)
            open_alerts[event["alert_id"]] = event
            return [event]
        resolved = []
        for alert in related:
            if covers(signal.partition, alert["partition"]):
                resolved.append(self._deliver({**alert, **_resolution(signal)}, log))
                open_alerts.pop(alert["alert_id"])
        return resolved

    def _deliver(self, event: dict, log) -> dict:
        text = (
            f"[{event['severity']}] {event['event'].upper()} {event['subject']}"
            f"{' / ' + event['check_name'] if event['check_name'] else ''}"
            f"{' partition ' + event['partition'] if event['partition'] else ''}: {event['message']}"
            f" (observed {event['observed']}, threshold {event['threshold']}) {event['ui_url']}"
        )
        (log.error if event["event"] == "firing" and event["severity"] == "ERROR" else log.warning)(text)
        delivered, error = ["log"], None
        if self.webhook_url:
            try:
                WebhookSink(self.webhook_url).send({**event, "text": text})
                delivered.append("webhook")
            except OSError as err:  # URLError, timeouts, refused connections
                error = f"webhook {self.webhook_url}: {err}"
                log.error(f"Alert delivery failed: {error}")
        return {**event, "delivered_to": ",".join(delivered), "delivery_error": error}


def _same_target(alert: dict, signal: Signal) -> bool:
    return (alert["kind"], alert["subject"], alert["check_name"]) == (signal.kind, signal.subject, signal.check_name)


def _event(alert_id: str, kind: str, signal: Signal) -> dict:
    fields = asdict(signal)
    fields.pop("failing")
    return {
        **fields,
        "alert_id": alert_id,
        "alert_key": signal.alert_key,
        "event": kind,
        "delivered_to": None,
        "delivery_error": None,
        "event_at": datetime.now(timezone.utc),
    }


def _resolution(signal: Signal) -> dict:
    return {
        "event": "resolved",
        "observed": signal.observed,
        "message": f"recovered: {signal.message}",
        "run_id": signal.run_id,
        "event_at": datetime.now(timezone.utc),
    }


ALERT_LOG_KEY = dg.AssetKey(["ops", "alert_log"])


def build_alert_log_asset(freshness: dg.FreshnessPolicy) -> dg.AssetsDefinition:
    @dg.asset(
        key=ALERT_LOG_KEY,
        group_name="ops",
        owners=["team:data-platform"],
        freshness_policy=freshness,
        kinds={"python", "parquet"},
        description=(
            "Append-only log of alert events (firing, repeat, resolved) written by "
            f"quality_alert_sensor under <lake>/ops/alert_events/. Materializing makes sure "
            "the log exists and reports the alerts open now; ops.alerts reads it."
        ),
    )
    def alert_log(alerting: Alerting) -> dg.MaterializeResult:
        log = AlertLog(alerting.lake_url)
        log.ensure()
        open_alerts = log.open_alerts()
        by_severity = {s: sum(a["severity"] == s for a in open_alerts.values()) for s in ("ERROR", "WARN")}
        return dg.MaterializeResult(
            metadata={
                "open_alerts": len(open_alerts),
                "open_by_severity": dg.MetadataValue.json(by_severity),
                "location": log.folder,
            }
        )

    return alert_log
