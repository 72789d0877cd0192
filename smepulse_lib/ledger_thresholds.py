"""A business's own thresholds per ledger, over those derived from the ledger's data.

``SMEPULSE_LEDGER_THRESHOLDS_FILE`` is a YAML file keyed by company code::

    ACME:
      small_below: 500        # invoice sizes, in the ledger's currency: small below, large from
      medium_below: 5000
      mid_from: 20000         # customer value, invoiced to date in the reporting currency
      key_from: 200000

A pair may be given alone (sizes, or value); a ledger or pair not given keeps the thresholds the
platform derives from the ledger's own amounts (ftr_ledger_size_thresholds,
ftr_ledger_value_thresholds). dbt reads the validated file as JSON (var ``ledger_thresholds``).
"""

import json
import math
from pathlib import Path

import yaml

PAIRS = (("small_below", "medium_below"), ("mid_from", "key_from"))


def load_ledger_thresholds(path: str) -> str:
    """The file as the JSON dbt reads; ValueError naming the file, ledger and value when wrong."""
    try:
        body = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path} (SMEPULSE_LEDGER_THRESHOLDS_FILE) cannot be read: {err}") from err
    if not isinstance(body, dict):
        raise ValueError(f"{path}: expected a mapping of company code to thresholds")
    return json.dumps({str(code): _ledger(path, str(code), given) for code, given in body.items()}, sort_keys=True)


def _ledger(path: str, code: str, given) -> dict[str, float]:
    where = f"{path}: ledger {code!r}"
    names = [name for pair in PAIRS for name in pair]
    if not isinstance(given, dict) or not given or set(given) - set(names):
        raise ValueError(f"{where}: give one or both pairs of {names}, not {given!r}")
    out = {}
    for low, high in PAIRS:
        if (low in given) != (high in given):
            raise ValueError(f"{where}: {low} and {high} go together")
        if low in given:
            values = [given[low], given[high]]
            if not all(_positive(v) for v in values) or values[0] > values[1]:
                raise ValueError(
                    f"{where}: {low} {values[0]!r} and {high} {values[1]!r} must be numbers, 0 < {low} <= {high}"
                )
            out[low], out[high] = float(values[0]), float(values[1])
    return out


def _positive(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
