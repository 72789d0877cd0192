"""Row rules of the rules file, evaluated by DuckDB over typed rows.

A rule is a SQL boolean expression; a row passes when it is true. Null counts
as broken, so a rule never lets a row through because a value was missing. A rule
may read the reference tables of ``reference_data`` (``fx_rates``).
"""

import os
from functools import lru_cache

import duckdb
import pandas as pd
import pyarrow as pa

from smepulse_assets.quality.reference_data import (
    FX_RATES_SEED,
    ReferenceInputs,
    load_reference_tables,
    reference_inputs,
)
from smepulse_assets.quality.rules import RowRule, RulesError


def _engine() -> duckdb.DuckDBPyConnection:
    """One in-memory database per process and reference data; each evaluation takes its own cursor
    (a new database per evaluation, over hundreds of files a run, was most of the rule cost). It
    holds the reference tables a rule may read (``fx_rates``), loaded again when their files or
    the calendar change."""
    inputs = reference_inputs()
    files = [str(FX_RATES_SEED), *([inputs.fx_rates_file] if inputs.fx_rates_file else [])]
    return _engine_for(inputs, tuple(_modified(f) for f in files))


def _modified(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:  # a missing file: loading it says so
        return None


@lru_cache(maxsize=2)
def _engine_for(inputs: ReferenceInputs, modified: tuple) -> duckdb.DuckDBPyConnection:  # modified: the cache key
    con = duckdb.connect()
    load_reference_tables(con, inputs)
    return con


def broken_condition(rule: RowRule) -> str:
    """SQL that is true exactly for the rows breaking ``rule``."""
    return f"not coalesce(({rule.expect}), false)"


def first_broken_rule(rows: pd.DataFrame, schema: pa.Schema, rules: tuple[RowRule, ...]) -> pd.Series:
    """Per row (same index), the first rule it breaks, or None."""
    table = pa.Table.from_pandas(rows[schema.names], schema=schema, preserve_index=False)
    table = table.append_column("_position", pa.array(range(len(rows)), pa.int64()))
    cases = " ".join(f"when {broken_condition(r)} then {i}" for i, r in enumerate(rules))
    con = _engine().cursor()
    con.register("typed_rows", table)
    try:
        # ordered by position: a rule reading a reference table is a join, which keeps no row order
        positions = con.execute(f"select case {cases} end as broken from typed_rows order by _position").df()["broken"]
    except duckdb.Error as err:
        raise RulesError(f"a row rule does not evaluate: {err}") from err
    finally:
        con.close()
    return pd.Series([None if pd.isna(p) else rules[int(p)] for p in positions], index=rows.index, dtype="object")


def validate_row_rules(rules: tuple[RowRule, ...], schema: pa.Schema) -> None:
    """Fail at load, naming the rule, when an expression does not evaluate on the typed columns."""
    empty = pa.Table.from_pylist([], schema=schema)
    con = _engine().cursor()
    con.register("typed_rows", empty)
    try:
        for rule in rules:
            try:
                con.execute(f"select count(*) from typed_rows where {broken_condition(rule)}").fetchone()
            except duckdb.Error as err:
                raise RulesError(f"row rule {rule.name!r}: expect {rule.expect!r} does not evaluate: {err}") from err
    finally:
        con.close()
