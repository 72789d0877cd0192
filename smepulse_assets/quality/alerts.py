"""One alerting component: failing checks, failed runs and stale assets become alerts.

A *signal* is one observation (a check evaluation, a finished run). An *alert* is one open
problem of one thing: a check of an asset, a job's runs, whatever partitions it is seen on.
Signals open, repeat, clear or resolve alerts:
- a failing signal with no open alert for its subject and check opens one and delivers it to
  every sink (the log, and a webhook when ``SMEPULSE_ALERT_WEBHOOK_URL`` is set);
- the same failure seen again (another day, another range, the next day's check) while its
  alert is open is a repeat: counted, its partition added to the alert's failing ones, not sent
  again;
- a passing signal clears the failing partitions it covers; once none is left failing the alert
  is resolved, and the recovery is recorded and sent. An unpartitioned pass (the asset judged as
  a whole, as the freshness check does) clears every partition.
Every transition is appended to the alert log in the lake (``<lake>/ops/alert_events/``); the
warehouse view ``ops.alerts`` reads it, one row per alert. Appending files, not writing the
warehouse, keeps alerting working while a run holds the DuckDB write lock.
"""

import json
import logging
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa

from smepulse_lib import storage
from smepulse_lib.windows import DayWindow

ALERT_EVENT_SCHEMA = pa.schema(
    [
        ("alert_id", pa.string()),
        ("alert_key", pa.string()),
        ("event", pa.string()),  # firing | repeat | cleared | resolved
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
        return identity(asdict(self))


def identity(fields: dict) -> str:
    """An alert's identity: what is failing (a check of an asset, a job's runs), whatever the partition."""
    return "|".join([fields["kind"], fields["subject"], fields["check_name"] or ""])


def covers(passing: str | None, failing: str | None) -> bool:
    """Whether a pass over partitions ``passing`` vouches for partitions ``failing``."""
    if passing is None:
        return True  # an unpartitioned pass judges the asset as a whole
    if failing is None:
        return False
    return DayWindow.from_label(passing).contains(DayWindow.from_label(failing))


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
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            url = storage.join(self.folder, f"events-{stamp}-{uuid.uuid4().hex[:8]}.parquet")
            storage.write_parquet(url, pa.Table.from_pylist(events, schema=ALERT_EVENT_SCHEMA))

    def events(self) -> list[dict]:
        self.ensure()
        with storage.duckdb_reader(self.folder) as con:
            frame = con.sql(
                f"select * from read_parquet('{storage.join(self.folder, '*.parquet')}') order by event_at"
            ).to_arrow_table()
        return frame.to_pylist()

    def open_alerts(self) -> dict[str, "OpenAlert"]:
        """Alerts not yet resolved, by alert key."""
        opened: dict[str, OpenAlert] = {}
        for event in self.events():
            key = identity(event)
            if event["event"] == "firing":
                opened[key] = OpenAlert(event, {event["partition"]}, occurrences=1, latest=event)
            elif key in opened and event["event"] == "repeat":
                opened[key].repeat(event)
            elif key in opened and event["event"] == "cleared":
                opened[key].clear(event["partition"])
            elif event["event"] == "resolved":
                opened.pop(key, None)
        return opened


@dataclass
class OpenAlert:
    """An open alert: its opening event, the partitions still failing (None: the whole asset) and
    its latest sighting (the opening or the last repeat: what it says now, e.g. today's MAE)."""

    opening: dict
    failing: set[str | None]
    occurrences: int
    latest: dict

    def repeat(self, event: dict) -> None:
        """The same failure seen again, on the event's partition."""
        self.failing.add(event["partition"])
        self.occurrences += 1
        self.latest = event

    def clear(self, passing: str | None) -> set[str | None]:
        """Drop the failing partitions a pass over ``passing`` covers; returns them."""
        cleared = {p for p in self.failing if covers(passing, p)}
        self.failing -= cleared
        return cleared


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

    def _transitions(self, signal: Signal, open_alerts: dict[str, "OpenAlert"], log) -> list[dict]:
        alert = open_alerts.get(signal.alert_key)
        if signal.failing:
            if alert is not None:
                repeat = _event(alert.opening["alert_id"], "repeat", signal)
                alert.repeat(repeat)
                return [repeat]
            event = self._deliver(_event(uuid.uuid4().hex, "firing", signal), log)
            open_alerts[signal.alert_key] = OpenAlert(event, {signal.partition}, occurrences=1, latest=event)
            return [event]
        if alert is None or not alert.clear(signal.partition):
            return []  # nothing open, or a pass elsewhere: it proves nothing about what fails
        if alert.failing:
            return [{**_event(alert.opening["alert_id"], "cleared", signal), "message": f"cleared: {signal.message}"}]
        open_alerts.pop(signal.alert_key)
        return [self._deliver({**alert.opening, **_resolution(signal)}, log)]

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
        "event_at": datetime.now(UTC),
    }


def _resolution(signal: Signal) -> dict:
    return {
        "event": "resolved",
        "partition": signal.partition,
        "observed": signal.observed,
        "message": f"recovered: {signal.message}",
        "run_id": signal.run_id,
        "event_at": datetime.now(UTC),
    }


ALERT_LOG_KEY = dg.AssetKey(["ops", "alert_log"])
ALERT_TABLE_COLUMNS = ("severity", "subject", "check", "failing", "occurrences", "fired_at", "last_seen_at", "message")


def alert_log_metadata(log: AlertLog) -> dict[str, Any]:
    """What the alert log asset shows: the alerts open now, as ops.alerts has them."""
    open_alerts = sorted(log.open_alerts().values(), key=lambda a: (a.opening["severity"], a.opening["subject"]))
    records = [
        dg.TableRecord(
            {
                "severity": a.opening["severity"],
                "subject": a.opening["subject"],
                "check": a.opening["check_name"] or "(run)",
                "failing": ", ".join(sorted(p or "all" for p in a.failing)),
                "occurrences": a.occurrences,
                "fired_at": a.opening["event_at"].isoformat(timespec="seconds"),
                "last_seen_at": a.latest["event_at"].isoformat(timespec="seconds"),
                "message": a.latest["message"],  # what it says now
            }
        )
        for a in open_alerts
    ]
    schema = dg.TableSchema(
        columns=[dg.TableColumn(c, "int" if c == "occurrences" else "string") for c in ALERT_TABLE_COLUMNS]
    )
    return {
        "open_alerts": len(open_alerts),
        "open_by_severity": dg.MetadataValue.json(
            {s: sum(a.opening["severity"] == s for a in open_alerts) for s in ("ERROR", "WARN")}
        ),
        "open_alert_list": dg.MetadataValue.table(records, schema=schema),
        "location": log.folder,
    }


def build_alert_log_asset(freshness: dg.FreshnessPolicy) -> dg.AssetsDefinition:
    @dg.asset(
        key=ALERT_LOG_KEY,
        group_name="ops",
        owners=["team:data-platform"],
        freshness_policy=freshness,
        kinds={"python", "parquet"},
        description=(
            "Append-only log of alert events (firing, repeat, cleared, resolved) written by "
            "quality_alert_sensor under <lake>/ops/alert_events/; ops.alerts reads it. The sensor records "
            "a materialization whenever it changes the log, listing the alerts open then (open_alert_list); "
            "materializing it by hand makes sure the log exists and lists them now."
        ),
    )
    def alert_log(alerting: Alerting) -> dg.MaterializeResult:
        log = AlertLog(alerting.lake_url)
        log.ensure()
        return dg.MaterializeResult(metadata=alert_log_metadata(log))

    return alert_log
