"""The rules file (malformed files fail clearly, severities move rows) and the alert state machine."""

import logging

import pytest

from smepulse_assets.definitions import build_defs
from smepulse_assets.kaggle_invoices.parse import parse_drop_file
from smepulse_assets.quality.alerts import Alerting, AlertLog, Signal, covers
from smepulse_assets.quality.rules import RulesError, RowRule, load_rules
from smepulse_assets.settings import DEFAULT_RULES_PATH
from tests.conftest import make_settings
from tests.kaggle_samples import ROWS, csv_bytes

LOG = logging.getLogger("alerts-test")

SOURCE = """
sources:
  kaggle_invoices:
    asset: [bronze, kaggle_invoices_raw]
    min_pass_rate: 0.9
{body}
"""


def write_rules(tmp_path, body: str):
    path = tmp_path / "rules.yaml"
    path.write_text(SOURCE.format(body=body))
    return path


@pytest.mark.parametrize(
    "body, message",
    [
        ("    row_rules:\n      - {name: r, severity: block, expect: 'true'}", "severity 'block' is not one of"),
        ("    checks:\n      - {name: c, kind: median, severity: flag}", "kind 'median' is not one of"),
        ("    checks:\n      - {name: c, kind: mean_between, severity: flag, column: x, min: 1}", "needs ['max']"),
        ("    row_rules:\n      - {name: r, severity: flag}", "'expect' is missing"),
        (
            "    row_rules:\n      - {name: same, severity: flag, expect: 'true'}\n"
            "    checks:\n      - {name: same, kind: recency, severity: flag, column: x, max_age_days: 1}",
            "rule names must be unique, repeated: ['same']",
        ),
    ],
)
def test_malformed_rules_fail_naming_the_place(tmp_path, body, message):
    path = write_rules(tmp_path, body)
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_unreadable_rules_file_fails(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("sources: [unclosed")
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(path)


def test_a_row_rule_that_does_not_evaluate_fails_at_load(tmp_path):
    path = write_rules(tmp_path, "    row_rules:\n      - {name: typo, severity: reject, expect: 'total_amount >= 0'}")
    with pytest.raises(RulesError, match="row rule 'typo'"):
        build_defs(make_settings(tmp_path, SMEPULSE_RULES_PATH=str(path)))


def test_severity_decides_whether_a_row_loads():
    data = csv_bytes(ROWS[1], ROWS[2])  # ROWS[2] is customer "CCU001"
    rule = RowRule("no_ccu", "reject", "cust_number not like 'CCU%'", "CCU customers are not ours")
    parsed = parse_drop_file("f.csv", data, reject_rules=(rule,))
    assert len(parsed.rows) == 1
    assert parsed.quarantined[["_source_line", "rule", "reason"]].values.tolist() == [
        [3, "rule:no_ccu", "CCU customers are not ours"]
    ]
    assert len(parse_drop_file("f.csv", data).rows) == 2  # a flag rule (not passed to the parser) keeps it


def test_the_shipped_rules_file_loads():
    rules = load_rules(DEFAULT_RULES_PATH)["kaggle_invoices"]
    assert [r.name for r in rules.reject_row_rules] == ["amount_non_negative"]
    assert [r.name for r in rules.flag_row_rules] == ["cust_number_no_trailing_whitespace"]


def test_covers_days_and_ranges():
    assert covers("2020-01-01...2020-01-31", "2020-01-15")
    assert covers("2020-01-01...2020-01-31", "2020-01-10...2020-01-20")
    assert not covers("2020-01-16", "2020-01-15")
    assert not covers("2020-01-10...2020-01-20", "2020-01-01...2020-01-31")
    assert covers(None, "2020-01-15") and not covers("2020-01-15", None)


def signal(failing: bool, partition: str | None = "2020-01-15", check: str = "pass_rate") -> Signal:
    return Signal("check", "bronze/x", check, partition, failing, "ERROR", "0.5", ">= 95%", "m", "http://ui", "run")


def test_alert_opens_once_repeats_silently_and_resolves(tmp_path):
    alerting = Alerting(lake_url=str(tmp_path / "lake"))
    assert [e["event"] for e in alerting.process([signal(True)], LOG)] == ["firing"]
    assert [e["event"] for e in alerting.process([signal(True)], LOG)] == ["repeat"]
    other_day = alerting.process([signal(True, "2020-01-16")], LOG)
    assert [e["event"] for e in other_day] == ["firing"]  # another partition is another failure
    assert alerting.process([signal(False, "2020-01-17")], LOG) == []  # a pass elsewhere proves nothing
    resolved = alerting.process([signal(False, "2020-01-01...2020-01-31")], LOG)
    assert sorted(e["partition"] for e in resolved) == ["2020-01-15", "2020-01-16"]
    assert {e["event"] for e in resolved} == {"resolved"}
    assert AlertLog(alerting.lake_url).open_alerts() == {}


def test_a_sink_that_is_down_is_recorded_not_fatal(tmp_path):
    alerting = Alerting(lake_url=str(tmp_path / "lake"), webhook_url="http://127.0.0.1:9/unreachable")
    (event,) = alerting.process([signal(True)], LOG)
    assert event["delivered_to"] == "log"
    assert "127.0.0.1:9" in event["delivery_error"]
    assert len(AlertLog(alerting.lake_url).open_alerts()) == 1
