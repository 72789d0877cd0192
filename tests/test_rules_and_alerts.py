"""Source YAML (malformed files fail clearly, severities move rows) and the alert state machine."""

import logging
from dataclasses import replace

import dagster as dg
import pytest

from smepulse_assets.definitions import build_defs
from smepulse_assets.ingestion.parse import parse_drop_file
from smepulse_assets.ingestion.spec import load_source_spec
from smepulse_assets.kaggle_invoices.contract import SPEC
from smepulse_assets.quality.alert_sensor import retired_check_signals
from smepulse_assets.quality.alerts import Alerting, AlertLog, Signal, alert_log_metadata, covers
from smepulse_assets.quality.rules import RowRule, RulesError
from smepulse_assets.transform.failing_rows import described_check
from smepulse_lib.names import DROP_SENSOR
from tests.conftest import make_settings
from tests.kaggle_samples import ROWS, csv_bytes

LOG = logging.getLogger("alerts-test")

SOURCE = """
name: tiny
landing: "{{day}}/*.csv"
columns:
  - {{source: id, type: integer, required: true}}
  - {{source: amount, type: amount}}
quality:
  min_pass_rate: 0.9
{body}
"""


def write_source(folder, body: str):
    path = folder / "tiny.yaml"
    path.write_text(SOURCE.format(body=body))
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  row_rules:\n    - {name: r, severity: block, expect: 'true'}", "severity 'block' is not one of"),
        ("  checks:\n    - {name: c, kind: median, severity: flag}", "kind 'median' is not one of"),
        ("  checks:\n    - {name: c, kind: mean_between, severity: flag, column: x, min: 1}", "needs ['max']"),
        ("  row_rules:\n    - {name: r, severity: flag}", "'expect' is missing"),
        (
            "  row_rules:\n    - {name: same, severity: flag, expect: 'true'}\n"
            "  checks:\n    - {name: same, kind: recency, severity: flag, column: x, max_age_days: 1}",
            "rule names must be unique, repeated: ['same']",
        ),
    ],
)
def test_malformed_quality_rules_fail_naming_the_place(tmp_path, body, message):
    path = write_source(tmp_path, body)
    with pytest.raises(RulesError) as err:
        load_source_spec(path)
    assert message in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\ncolumns:\n  - {source: a, type: money}", "type 'money' is not one of"),
        ("name: x\nkeys: [b]\ncolumns:\n  - {source: a, type: text}", "keys ['b'] are not columns"),
        ("name: x\nlanding: 'all/*.csv'\ncolumns:\n  - {source: a, type: text}", "must start with {day}/"),
        ("name: x\nformat: xlsx\ncolumns:\n  - {source: a, type: text}", "format 'xlsx' is not one of"),
        ("sources: [unclosed", "cannot read the source file"),
        ("name: x\ncolumns:\n  - {source: a, type: text, min: 1}", "a text column has no range"),
        ("name: x\ncolumns:\n  - {source: a, type: date, min: 2020-13-01}", "month must be in 1..12"),
        ("name: x\ncolumns:\n  - {source: a, type: date, min: '1 May'}", "is not a date YYYY-MM-DD"),
        ("name: x\ncolumns:\n  - {source: a, type: integer, max: 1.5}", "is not a bound for a integer"),
        ("name: x\ncolumns:\n  - {source: a, type: integer, decimals: 2}", "decimals applies to amounts"),
        ("name: x\nnumber_format: {decimal: ','}\ncolumns:\n  - {source: a, type: amount}", None),
        (
            "name: x\nnumber_format: {decimal: ',', thousands: ','}\ncolumns:\n  - {source: a, type: text}",
            "decimal must be",
        ),
        ("name: x\nnumber_format: {locale: vi}\ncolumns:\n  - {source: a, type: text}", "unknown keys ['locale']"),
    ],
)
def test_malformed_source_files_fail_naming_the_problem(tmp_path, text, message):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    if message is None:  # a valid declaration, for contrast
        assert load_source_spec(path).number_format.decimal == ","
        return
    with pytest.raises(RulesError) as err:
        load_source_spec(path)
    assert message in str(err.value)


def test_a_row_rule_that_does_not_evaluate_fails_at_load(tmp_path):
    folder = tmp_path / "sources"
    folder.mkdir()
    write_source(folder, "  row_rules:\n    - {name: typo, severity: reject, expect: 'amuont >= 0'}")
    with pytest.raises(RulesError, match="row rule 'typo'"):
        build_defs(make_settings(tmp_path, SMEPULSE_SOURCES_DIR=str(folder)))


def test_severity_decides_whether_a_row_loads():
    data = csv_bytes(ROWS[1], ROWS[2])  # ROWS[2] is customer "CCU001"
    rule = RowRule("no_ccu", "reject", "cust_number not like 'CCU%'", "CCU customers are not ours")
    spec = replace(SPEC, rules=replace(SPEC.rules, row_rules=(rule,)))
    parsed = parse_drop_file(spec, "f.csv", data)
    assert len(parsed.rows) == 1
    assert parsed.quarantined[["_source_line", "rule", "reason"]].values.tolist() == [
        [3, "rule:no_ccu", "CCU customers are not ours"]
    ]
    flagged = RowRule("no_ccu", "flag", rule.expect, rule.reason)
    spec = replace(SPEC, rules=replace(SPEC.rules, row_rules=(flagged,)))
    assert len(parse_drop_file(spec, "f.csv", data).rows) == 2  # a flag rule keeps the row


def test_the_shipped_source_loads():
    assert [r.name for r in SPEC.rules.reject_row_rules] == [
        "open_invoice_has_no_clear_date",
        "closed_invoice_has_clear_date",
        "currency_has_fx_rate",
        "due_not_before_posting",
        "posted_by_delivery",
        "amount_non_negative",
    ]
    assert [r.name for r in SPEC.rules.flag_row_rules] == [
        "cleared_not_before_posting",
        "cust_number_no_trailing_whitespace",
    ]
    assert SPEC.keys == ("doc_id",) and SPEC.header[4] == "buisness_year"


def test_covers_days_and_ranges():
    assert covers("2020-01-01...2020-01-31", "2020-01-15")
    assert covers("2020-01-01...2020-01-31", "2020-01-10...2020-01-20")
    assert not covers("2020-01-16", "2020-01-15")
    assert not covers("2020-01-10...2020-01-20", "2020-01-01...2020-01-31")
    assert covers(None, "2020-01-15") and not covers("2020-01-15", None)


def signal(failing: bool, partition: str | None = "2020-01-15", check: str = "pass_rate", message: str = "m") -> Signal:
    return Signal("check", "bronze/x", check, partition, failing, "ERROR", "0.5", ">= 95%", message, "http://ui", "run")


def test_one_alert_per_failing_check_whatever_its_partitions(tmp_path):
    alerting = Alerting(lake_url=str(tmp_path / "lake"))
    assert [e["event"] for e in alerting.process([signal(True)], LOG)] == ["firing"]
    assert [e["event"] for e in alerting.process([signal(True)], LOG)] == ["repeat"]
    other_day = alerting.process([signal(True, "2020-01-16"), signal(True, "2020-01-20...2020-01-22")], LOG)
    assert [e["event"] for e in other_day] == ["repeat", "repeat"]  # the same check failing elsewhere
    (alert,) = AlertLog(alerting.lake_url).open_alerts().values()
    assert alert.occurrences == 4 and alert.failing == {"2020-01-15", "2020-01-16", "2020-01-20...2020-01-22"}
    assert alerting.process([signal(False, "2020-01-17")], LOG) == []  # a pass elsewhere proves nothing
    cleared = alerting.process([signal(False, "2020-01-15")], LOG)  # one day recovered, others still fail
    assert [e["event"] for e in cleared] == ["cleared"]
    assert AlertLog(alerting.lake_url).open_alerts()[alert.opening["alert_key"]].failing == {
        "2020-01-16",
        "2020-01-20...2020-01-22",
    }
    resolved = alerting.process([signal(False, "2020-01-01...2020-01-31")], LOG)
    assert [e["event"] for e in resolved] == ["resolved"] and resolved[0]["alert_id"] == alert.opening["alert_id"]
    assert AlertLog(alerting.lake_url).open_alerts() == {}
    # another check of the same asset is another alert; a failure after a recovery opens a new one
    assert [e["event"] for e in alerting.process([signal(True, check="row_conservation"), signal(True)], LOG)] == [
        "firing",
        "firing",
    ]
    assert len(AlertLog(alerting.lake_url).open_alerts()) == 2


def test_an_unpartitioned_pass_resolves_and_the_log_asset_lists_what_is_open(tmp_path):
    alerting = Alerting(lake_url=str(tmp_path / "lake"))
    alerting.process(
        [signal(True, None, "newest_day_lag"), signal(True, "2020-01-15"), signal(True, "2020-01-16", message="now")],
        LOG,
    )
    metadata = alert_log_metadata(AlertLog(alerting.lake_url))
    assert metadata["open_alerts"] == 2
    listed = {
        (r.data["check"], r.data["failing"], r.data["occurrences"], r.data["message"])
        for r in metadata["open_alert_list"].value.records
    }  # an alert says what its latest sighting said
    assert listed == {("newest_day_lag", "all", 1, "m"), ("pass_rate", "2020-01-15, 2020-01-16", 2, "now")}
    assert [e["event"] for e in alerting.process([signal(False, None, "newest_day_lag")], LOG)] == ["resolved"]
    assert alert_log_metadata(AlertLog(alerting.lake_url))["open_alerts"] == 1


def test_alerts_of_the_retired_hourly_freshness_check_are_resolved(tmp_path):
    """An instance upgraded with freshness_sla alerts open: no evaluation of that check comes any
    more, so the sensor resolves them, naming what judges freshness now."""
    alerting = Alerting(lake_url=str(tmp_path / "lake"))
    alerting.process([signal(True, None, "freshness_sla"), signal(True)], LOG)
    retired = retired_check_signals(list(AlertLog(alerting.lake_url).open_alerts().values()), alerting)
    assert [(s.subject, s.check_name, s.failing) for s in retired] == [("bronze/x", "freshness_sla", False)]
    assert [e["event"] for e in alerting.process(retired, LOG)] == ["resolved"]
    assert [a.opening["check_name"] for a in AlertLog(alerting.lake_url).open_alerts().values()] == ["pass_rate"]


def test_a_sink_that_is_down_is_recorded_not_fatal(tmp_path):
    alerting = Alerting(lake_url=str(tmp_path / "lake"), webhook_url="http://127.0.0.1:9/unreachable")
    (event,) = alerting.process([signal(True)], LOG)
    assert event["delivered_to"] == "log"
    assert "127.0.0.1:9" in event["delivery_error"]
    assert len(AlertLog(alerting.lake_url).open_alerts()) == 1


@pytest.mark.slow  # materializes the new asset
def test_a_source_added_by_yaml_alone_becomes_a_checked_bronze_asset(tmp_path):
    import dagster as dg

    from smepulse_lib import storage

    folder = tmp_path / "sources"
    folder.mkdir()
    write_source(folder, "  row_rules:\n    - {name: amount_positive, severity: reject, expect: amount > 0}")
    settings = make_settings(tmp_path, SMEPULSE_SOURCES_DIR=str(folder))
    defs = build_defs(settings)
    raw = dg.AssetKey(["bronze", "tiny_raw"])
    bronze = defs.resolve_assets_def(raw)
    assert bronze.partitions_def is not None and dg.AssetKey(["bronze", "tiny_quarantine"]) in bronze.keys
    assert {c.name for c in bronze.check_specs} >= {"row_conservation", "pass_rate"}
    assert "<landing>/tiny/<YYYY-MM-DD>/*.csv" in defs.resolve_sensor_def(DROP_SENSOR).description

    storage.write_bytes(f"{settings.landing_url}/tiny/2020-01-02/a.csv", b"id,amount\n1,10.5\n2,-3\n3,oops\n")
    result = dg.materialize([bronze], partition_key="2020-01-02", raise_on_error=False)
    metadata = result.asset_materializations_for_node("tiny_bronze")[0].metadata
    assert (metadata["rows_read"].value, metadata["rows_loaded"].value, metadata["rows_quarantined"].value) == (3, 1, 2)
    assert not result.success  # 1 of 3 rows loaded: the pass-rate check (reject) fails the step
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {"pass_rate"}


def test_a_dbt_tests_check_result_says_its_rule_and_rows_when_it_does_not_pass():
    """dagster-dbt reports only a failing row count; the check result (asset page, alert) also names
    the rule, its arguments as written and the sampled rows. A pass is left as it is."""
    manifest = {
        "nodes": {
            "test.p.rel": {
                "name": "relationships_fact_customer_key",
                "column_name": "customer_key",
                "test_metadata": {
                    "name": "relationships",
                    "kwargs": {"to": "ref('dim_customer')", "field": "customer_key", "column_name": "customer_key",
                               "model": "{{ get_where_subquery(ref('fact')) }}"},
                },
            },
            "test.p.values": {
                "name": "accepted_values_status",
                "column_name": "status",
                "test_metadata": {"name": "accepted_values", "kwargs": {"values": ["open", "paid"]}},
            },
        }
    }  # fmt: skip

    def result(unique_id: str, passed: bool, severity=dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
        metadata = {"unique_id": unique_id, "dagster_dbt/failed_row_count": 0 if passed else 2}
        return dg.AssetCheckResult(passed=passed, check_name="c", asset_key=dg.AssetKey("a"), metadata=metadata,
                                   severity=severity)  # fmt: skip

    samples = {"relationships_fact_customer_key": [{"customer_key": "k9"}]}
    broken = described_check(result("test.p.rel", False), manifest, samples)
    assert broken.description == (
        "relationships(customer_key; to=dim_customer; field=customer_key): 2 failing rows, "
        "e.g. [{'customer_key': 'k9'}]"
    )
    warned = described_check(result("test.p.values", False, dg.AssetCheckSeverity.WARN), manifest, samples)
    assert (warned.description, warned.severity) == ("accepted_values(status; values=open, paid): 2 failing rows",
                                                     dg.AssetCheckSeverity.WARN)  # fmt: skip
    assert described_check(result("test.p.rel", True), manifest, samples).description is None
