"""What the serving copy publishes, and how each table is cut.

Every gold relation, the alert list and the quarantine are published. The alert list is published
as the warehouse defines it, a view over the lake's alert log: the alert sensor appends to the log
between runs, and a copy made at the run's publish would show the alerts of before. A table whose rows belong
to one day, and whose model rebuilds only the days of a run (its asset's ``smepulse/day_column``
tag, from the model's ``partition_column`` meta), is published by day: a run rewrites the files of
its own days only, so a new day costs a day's rows whatever the history. Every other table is
published whole at each publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import duckdb

from smepulse_lib.windows import DayWindow

# Beyond gold: what a data-health page needs from the warehouse.
OPS_RELATIONS = ("ops.alerts", "ops.ops_quarantine")
# Relations the serving file defines as the warehouse does (a view over the lake, not a copy of rows).
LIVE_RELATIONS = ("ops.alerts",)
# The hive partition column of a table published by day; not a column of the table itself.
DAY_PARTITION = "serving_day"


@dataclass(frozen=True)
class ServedTable:
    relation: str  # schema.name in the warehouse and in the serving copy
    day_column: str | None  # None: published whole
    # Days a by-day table keeps in the serving copy, counted back from the newest it published; None: all.
    # The per-invoice-day score views hold every open invoice on every day (hundreds of millions of rows
    # at 5M invoices): readers need their recent days, the warehouse keeps the rest.
    retain_days: int | None = None
    # A live relation's definition, as the warehouse holds it; None: its rows are copied.
    view_sql: str | None = None

    @property
    def folder(self) -> str:
        return self.relation

    @property
    def live(self) -> bool:
        return self.view_sql is not None

    @property
    def by_day(self) -> bool:
        return self.day_column is not None

    def day_of_row(self) -> str:
        return f"cast({self.day_column} as date)"

    def kept(self, window: DayWindow) -> DayWindow:
        """The days of ``window`` this table keeps: its last ``retain_days`` at most."""
        if self.retain_days is None or (window.last - window.first).days < self.retain_days:
            return window
        return DayWindow(window.last - timedelta(days=self.retain_days - 1), window.last)


def served_tables(
    con: duckdb.DuckDBPyConnection, day_columns: Mapping[str, str], retain_days: Mapping[str, int]
) -> list[ServedTable]:
    """The relations the warehouse holds now: a gold model added later is published without a change here."""
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = current_database() and (table_schema = 'gold' or table_schema || '.' || table_name "
        "in (select unnest(?))) order by 1",
        [list(OPS_RELATIONS)],
    ).fetchall()
    views = dict(
        con.execute(
            "select schema_name || '.' || view_name, sql from duckdb_views() "
            "where database_name = current_database() and schema_name || '.' || view_name in (select unnest(?))",
            [list(LIVE_RELATIONS)],
        ).fetchall()
    )
    return [
        ServedTable(relation, day_columns.get(relation), retain_days.get(relation), views.get(relation))
        for (relation,) in rows
    ]
