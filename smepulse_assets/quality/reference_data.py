"""Reference data that bronze checks rows against: the calendar and the FX rates dbt uses.

Later layers depend on it: the date dimension covers the calendar from ``Settings.calendar_start``
(it follows the data) to the dbt var ``calendar_end_exclusive``, and amounts convert to the
reporting currency through the FX rates in force (the dbt model ``fx_rates``: the shipped seed,
the deployment's own file over it, the reporting currency into itself). A row outside either is
refused in bronze, naming its file, line and value, rather than failing a whole day's dbt build
on a downstream test.
"""

import os
import re
from dataclasses import dataclass
from datetime import date
from functools import cache

import duckdb
import yaml

from smepulse_lib.settings import DBT_PROJECT_DIR

FX_RATES_SEED = DBT_PROJECT_DIR / "seeds" / "fx_rates_shipped.csv"
DEFAULT_CALENDAR_START = re.compile(r"'(\d{4}-\d{2}-\d{2})'")  # env_var('SMEPULSE_CALENDAR_START', '2015-01-01')
FX_COLUMNS = "{'rate_date': 'date', 'currency': 'varchar', 'reporting_currency': 'varchar', 'rate': 'double'}"


class ReferenceDataError(ValueError):
    """A deployment's reference file (its FX rates) that cannot be used, and why."""


@cache
def _dbt_vars() -> dict:
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def reporting_currency() -> str:
    return str(_dbt_vars()["reporting_currency"])


@dataclass(frozen=True)
class ReferenceInputs:
    calendar_start: date
    fx_rates_file: str | None


def reference_inputs() -> ReferenceInputs:
    """The calendar's start and the deployment's FX file as a dbt started from this process sees
    them: the definitions put ``Settings.dbt_env()`` into the environment, which dbt inherits;
    without it (a plain `dbt build`, a process that loaded no definitions), dbt_project.yml's default."""
    default = DEFAULT_CALENDAR_START.search(str(_dbt_vars()["calendar_start"]))
    assert default is not None, "dbt_project.yml's calendar_start names its default date"
    start = os.environ.get("SMEPULSE_CALENDAR_START") or default.group(1)
    return ReferenceInputs(date.fromisoformat(start), os.environ.get("SMEPULSE_FX_RATES_FILE") or None)


def supported_calendar() -> tuple[date, date]:
    """First day and end (exclusive) of the calendar the date dimension covers."""
    return reference_inputs().calendar_start, date.fromisoformat(str(_dbt_vars()["calendar_end_exclusive"]))


def calendar_label() -> str:
    first, end = supported_calendar()
    return (
        f"{first}..{date.fromordinal(end.toordinal() - 1)} (from two years before the first partition day, "
        "to the dbt var calendar_end_exclusive)"
    )


def load_reference_tables(con: duckdb.DuckDBPyConnection, inputs: ReferenceInputs) -> None:
    """Tables a row rule may read: ``fx_rates`` (rate_date, currency, rate) into the reporting
    currency, by the rule of the dbt model ``fx_rates``; dbt takes the newest on or before a day."""
    seed = f"read_csv($1, header = true, columns = {FX_COLUMNS})"
    params = [str(FX_RATES_SEED), reporting_currency()]
    supplied = f"(select * from {seed} where false)"
    if inputs.fx_rates_file:
        supplied, params = f"read_csv($3, header = true, columns = {FX_COLUMNS})", [*params, inputs.fx_rates_file]
    try:
        con.execute(
            f"""
            create or replace table fx_rates as
            with candidates as (
                select *, 1 as priority from {supplied}
                union all select *, 2 from {seed}
                union all select cast('{inputs.calendar_start}' as date), $2, $2, 1.0, 3
            )
            select rate_date, currency, rate from candidates where reporting_currency = $2
            qualify rank() over (partition by rate_date, currency, reporting_currency order by priority) = 1
            """,
            params,
        )
    except duckdb.Error as error:
        raise ReferenceDataError(
            f"the FX rates file {inputs.fx_rates_file} (SMEPULSE_FX_RATES_FILE) cannot be read as "
            f"rate_date,currency,reporting_currency,rate: {error}"
        ) from error
    bad = con.execute(
        "select count(*) from fx_rates where rate_date is null or currency is null or not rate > 0"
    ).fetchone()
    if bad and bad[0]:
        raise ReferenceDataError(
            f"the FX rates ({inputs.fx_rates_file or FX_RATES_SEED}) hold {bad[0]} rows without a date, "
            "a currency or a positive rate"
        )
