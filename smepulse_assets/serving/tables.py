"""What the serving copy publishes, and how each table is cut.

Every gold relation, the alert list and the quarantine are published. A table whose rows belong
to one day, and whose model rebuilds only the days of a run (``delete_partition_window``), is
published by day: a run rewrites the files of its own days only, so a new day costs a day's rows
whatever the history. Every other table is published whole at each publish.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

# relation -> the column saying which day a row belongs to (its model's delete_partition_window column)
DAY_COLUMNS = {
    "gold.kpi_ar_aging": "as_of_date",
    "gold.kpi_ap_aging": "as_of_date",
    "gold.kpi_ar_dso_analysis": "as_of_date",
    "gold.kpi_daily_revenue": "revenue_date",
    "gold.kpi_payment_success_rate": "as_of_date",
    "gold.kpi_reconciliation_daily": "statement_date",
    "gold.kpi_working_capital": "as_of_date",
    "gold.kpi_predicted_cash_in": "score_date",
    "gold.ar_collection_worklist": "score_date",
    "gold.score_ar_priority": "score_date",
    "gold.score_payment_pred": "score_date",
    "gold.score_churn_risk": "score_date",
    "gold.score_cashflow_fcst": "forecast_date",
    "gold.score_anomalies": "found_on",
    "ops.ops_quarantine": "partition_date",
}
# Beyond gold: what a data-health page needs from the warehouse.
OPS_RELATIONS = ("ops.alerts", "ops.ops_quarantine")
# The hive partition column of a table published by day; not a column of the table itself.
DAY_PARTITION = "serving_day"


@dataclass(frozen=True)
class ServedTable:
    relation: str  # schema.name in the warehouse and in the serving copy
    day_column: str | None  # None: published whole

    @property
    def folder(self) -> str:
        return self.relation

    @property
    def by_day(self) -> bool:
        return self.day_column is not None

    def day_of_row(self) -> str:
        return f"cast({self.day_column} as date)"


def served_tables(con: duckdb.DuckDBPyConnection) -> list[ServedTable]:
    """The relations the warehouse holds now: a gold model added later is published without a change here."""
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = current_database() and (table_schema = 'gold' or table_schema || '.' || table_name "
        "in (select unnest(?))) order by 1",
        [list(OPS_RELATIONS)],
    ).fetchall()
    return [ServedTable(relation, DAY_COLUMNS.get(relation)) for (relation,) in rows]
