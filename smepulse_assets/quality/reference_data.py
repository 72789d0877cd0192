"""Reference data that bronze checks rows against, read from the dbt project.

Later layers depend on it: the date dimension covers the calendar of the dbt vars
``calendar_start`` / ``calendar_end_exclusive``, and amounts convert to the reporting
currency through the ``fx_rates`` seed. A row outside either is refused in bronze, naming
its file, line and value, rather than failing a whole day's dbt build on a downstream test.
"""

from datetime import date
from functools import cache

import duckdb
import yaml

from smepulse_lib.settings import DBT_PROJECT_DIR

FX_RATES_SEED = DBT_PROJECT_DIR / "seeds" / "fx_rates.csv"


@cache
def _dbt_vars() -> dict:
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def supported_calendar() -> tuple[date, date]:
    """First day and end (exclusive) of the calendar the date dimension covers."""
    return (
        date.fromisoformat(str(_dbt_vars()["calendar_start"])),
        date.fromisoformat(str(_dbt_vars()["calendar_end_exclusive"])),
    )


def calendar_label() -> str:
    first, end = supported_calendar()
    return f"{first}..{date.fromordinal(end.toordinal() - 1)} (dbt vars calendar_start, calendar_end_exclusive)"


def load_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Tables a row rule may read: ``fx_rates`` (rate_date, currency, rate), the seed's monthly rates into
    the reporting currency (dbt var reporting_currency); dbt takes the newest on or before a day."""
    con.execute(
        "create or replace table fx_rates as select rate_date, currency, rate from read_csv(?, header = true, "
        "columns = {'rate_date': 'date', 'currency': 'varchar', 'reporting_currency': 'varchar', 'rate': 'double'}) "
        "where reporting_currency = ?",
        [str(FX_RATES_SEED), str(_dbt_vars()["reporting_currency"])],
    )
