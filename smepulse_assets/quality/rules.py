"""The rules file: what each source must satisfy, and whether breaking it rejects or flags.

``rules.yaml`` beside this module is the default; ``SMEPULSE_RULES_PATH`` points
at another (see ``Settings``). A malformed file fails at load with the file and the place in it,
so a typo never silently switches a rule off.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

SEVERITIES = {"reject": dg.AssetCheckSeverity.ERROR, "flag": dg.AssetCheckSeverity.WARN}

# Parameters each dataset-check kind needs (beyond name, kind, severity).
CHECK_PARAMETERS = {
    "not_null": {"columns"},
    "mean_between": {"column", "min", "max"},
    "kl_divergence": {"column", "max_divergence", "reference_days"},
    "null_rate": {"column", "max_rate", "trailing_days"},
    "recency": {"column", "max_age_days"},
}


class RulesError(ValueError):
    """The rules file cannot be used; the message says where and why."""


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

    @property
    def rejects(self) -> bool:
        return self.severity == "reject"


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


def load_rules(path: str | Path) -> dict[str, SourceRules]:
    """Rules of every source in the file, by source name."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise RulesError(f"{path}: cannot read the rules file: {err}") from err
    sources = _mapping(document, f"{path}", "a mapping with a 'sources' key").get("sources")
    return {
        name: _source(name, _mapping(body, f"{path}: sources.{name}", "a mapping"), f"{path}: sources.{name}")
        for name, body in _mapping(sources, f"{path}: sources", "a mapping of source names").items()
    }


def _mapping(value: Any, where: str, expected: str) -> dict:
    if not isinstance(value, dict):
        raise RulesError(f"{where}: expected {expected}, found {type(value).__name__}")
    return value


def _required(body: dict, key: str, where: str) -> Any:
    if key not in body:
        raise RulesError(f"{where}: '{key}' is missing")
    return body[key]


def _severity(body: dict, where: str) -> str:
    severity = _required(body, "severity", where)
    if severity not in SEVERITIES:
        raise RulesError(f"{where}: severity {severity!r} is not one of {sorted(SEVERITIES)}")
    return severity


def _source(name: str, body: dict, where: str) -> SourceRules:
    rate = float(_required(body, "min_pass_rate", where))
    if not 0 <= rate <= 1:
        raise RulesError(f"{where}: min_pass_rate {rate} is not between 0 and 1")
    row_rules = tuple(_row_rule(r, f"{where}.row_rules[{i}]") for i, r in enumerate(body.get("row_rules") or []))
    checks = tuple(_check_rule(c, f"{where}.checks[{i}]") for i, c in enumerate(body.get("checks") or []))
    names = [r.name for r in row_rules] + [c.name for c in checks]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise RulesError(f"{where}: rule names must be unique, repeated: {duplicated}")
    min_rows = int(body.get("pass_rate_min_rows", 1))
    return SourceRules(name, dg.AssetKey(_required(body, "asset", where)), rate, min_rows, row_rules, checks)


def _row_rule(body: Any, where: str) -> RowRule:
    body = _mapping(body, where, "a mapping")
    return RowRule(
        name=str(_required(body, "name", where)),
        severity=_severity(body, where),
        expect=str(_required(body, "expect", where)),
        reason=str(body.get("reason") or f"breaks {body['expect']}"),
    )


def _check_rule(body: Any, where: str) -> CheckRule:
    body = _mapping(body, where, "a mapping")
    kind = _required(body, "kind", where)
    if kind not in CHECK_PARAMETERS:
        raise RulesError(f"{where}: kind {kind!r} is not one of {sorted(CHECK_PARAMETERS)}")
    params = {k: v for k, v in body.items() if k not in {"name", "kind", "severity"}}
    missing = sorted(CHECK_PARAMETERS[kind] - params.keys())
    if missing:
        raise RulesError(f"{where}: a {kind} check needs {missing}")
    return CheckRule(str(_required(body, "name", where)), kind, _severity(body, where), params)
