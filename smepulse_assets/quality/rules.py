"""Data quality rules of a source, and whether breaking each rejects or flags.

They live in the ``quality`` section of the source's YAML (see
``smepulse_assets/sources/``). A malformed section fails at load with the file
and the place in it, so a typo never silently switches a rule off.
"""

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

SEVERITIES = {"reject": dg.AssetCheckSeverity.ERROR, "flag": dg.AssetCheckSeverity.WARN}

# Parameters each dataset-check kind needs (beyond name, kind, severity).
CHECK_PARAMETERS = {
    "not_null": {"columns"},
    "mean_between": {"column", "min", "max"},
    "mean_near_usual": {"column", "max_ratio", "reference_days"},
    "kl_divergence": {"column", "max_divergence", "reference_days"},
    "null_rate": {"column", "max_rate", "trailing_days"},
    "recency": {"column", "max_age_days"},
    "beyond_usual": {"column", "max_multiple", "reference_days"},
}


class RulesError(ValueError):
    """A source's YAML cannot be used; the message says where and why."""


@dataclass(frozen=True)
class RowRule:
    name: str
    severity: str
    expect: str  # SQL boolean over the typed columns; true = the row passes
    reason: str

    @property
    def rejects(self) -> bool:
        return self.severity == "reject"


@dataclass(frozen=True)
class CheckRule:
    name: str
    kind: str
    severity: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceRules:
    source: str
    asset: dg.AssetKey
    min_pass_rate: float
    pass_rate_min_rows: int
    row_rules: tuple[RowRule, ...]
    checks: tuple[CheckRule, ...]

    @property
    def reject_row_rules(self) -> tuple[RowRule, ...]:
        return tuple(r for r in self.row_rules if r.rejects)

    @property
    def flag_row_rules(self) -> tuple[RowRule, ...]:
        return tuple(r for r in self.row_rules if not r.rejects)


def mapping(value: Any, where: str, expected: str) -> dict:
    if not isinstance(value, dict):
        raise RulesError(f"{where}: expected {expected}, found {type(value).__name__}")
    return value


def required(body: dict, key: str, where: str) -> Any:
    if key not in body:
        raise RulesError(f"{where}: '{key}' is missing")
    return body[key]


def _severity(body: dict, where: str) -> str:
    severity = required(body, "severity", where)
    if severity not in SEVERITIES:
        raise RulesError(f"{where}: severity {severity!r} is not one of {sorted(SEVERITIES)}")
    return severity


def source_rules(name: str, asset: dg.AssetKey, body: dict, where: str) -> SourceRules:
    """The rules of one source from its ``quality`` section."""
    rate = float(required(body, "min_pass_rate", where))
    if not 0 <= rate <= 1:
        raise RulesError(f"{where}: min_pass_rate {rate} is not between 0 and 1")
    row_rules = tuple(_row_rule(r, f"{where}.row_rules[{i}]") for i, r in enumerate(body.get("row_rules") or []))
    checks = tuple(_check_rule(c, f"{where}.checks[{i}]") for i, c in enumerate(body.get("checks") or []))
    names = [r.name for r in row_rules] + [c.name for c in checks]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise RulesError(f"{where}: rule names must be unique, repeated: {duplicated}")
    min_rows = int(body.get("pass_rate_min_rows", 1))
    return SourceRules(name, asset, rate, min_rows, row_rules, checks)


def _row_rule(body: Any, where: str) -> RowRule:
    body = mapping(body, where, "a mapping")
    return RowRule(
        name=str(required(body, "name", where)),
        severity=_severity(body, where),
        expect=str(required(body, "expect", where)),
        reason=str(body.get("reason") or f"breaks {body['expect']}"),
    )


def _check_rule(body: Any, where: str) -> CheckRule:
    body = mapping(body, where, "a mapping")
    kind = required(body, "kind", where)
    if kind not in CHECK_PARAMETERS:
        raise RulesError(f"{where}: kind {kind!r} is not one of {sorted(CHECK_PARAMETERS)}")
    params = {k: v for k, v in body.items() if k not in {"name", "kind", "severity"}}
    missing = sorted(CHECK_PARAMETERS[kind] - params.keys())
    if missing:
        raise RulesError(f"{where}: a {kind} check needs {missing}")
    return CheckRule(str(required(body, "name", where)), kind, _severity(body, where), params)
