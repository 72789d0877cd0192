"""The figures a finance team reads, as of one day, queried from the serving copy.

One module serves the Excel pack, the HTML report and the dashboard, so the three show the same
numbers; each query names the gold table it reads, and the report checks compare against those.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import duckdb
import fsspec
import pandas as pd

from smepulse_lib import storage

BUCKETS = ("0-30", "31-60", "61-90", "90+")
TREND_DAYS = 90  # how far back the trends of a report reach
HISTORY_DAYS = 60  # actual cash-in shown before the forecast starts


@contextmanager
def serving_reader(serving_path: str, lake_url: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the serving copy. It never touches the warehouse, so it neither
    waits for a run nor blocks one; on an S3 lake the views read through s3fs (AWS_* settings)."""
    con = duckdb.connect(serving_path, read_only=True)
    try:
        if not storage.is_local(lake_url):
            con.register_filesystem(fsspec.filesystem("s3"))
        yield con
    finally:
        con.close()


def published_days(con: duckdb.DuckDBPyConnection) -> list[date]:
    """The days with an AR snapshot in the serving copy, newest first."""
    rows = con.execute("select distinct as_of_date from gold.kpi_ar_dso_analysis order by 1 desc").fetchall()
    return [row[0] for row in rows]


def shown_figure(value: float | int | None) -> str:
    """A headline figure as every output shows it: counts with separators, amounts and days to the cent."""
    return "n/a" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


@dataclass(frozen=True)
class Figures:
    """Queries as of ``day``: every figure a report or a dashboard page shows."""

    con: duckdb.DuckDBPyConnection
    day: date

    def _df(self, sql: str, params: list | dict | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def _scalar(self, sql: str, params: list | None = None):
        return self.con.execute(sql, params or []).fetchall()[0][0]

    @cached_property
    def open_alerts(self) -> int:
        """Open alerts when first asked. ops.alerts reads the live alert log, which the alert sensor
        may append to while a report is written: the report and its check use this one count."""
        return int(self._scalar("select count(*) from ops.alerts where status = 'open'"))

    @property
    def trend_start(self) -> date:
        return self.day - timedelta(days=TREND_DAYS - 1)

    def headline(self) -> dict[str, float | int | None]:
        """Open AR, overdue, DSO (kpi_ar_dso_analysis), cash in over the last 7 days (fact_ar_invoices),
        predicted cash-in over the next 30 (kpi_predicted_cash_in) and open alerts (ops.alerts)."""
        kpi = self._df("select * from gold.kpi_ar_dso_analysis where as_of_date = ?", [self.day])
        row = kpi.iloc[0] if len(kpi) else None
        cash_7 = self._scalar(
            "select coalesce(sum(amount_reporting), 0) from gold.fact_ar_invoices where payment_date between ? and ?",
            [self.day - timedelta(days=6), self.day],
        )
        forecast_30 = self._scalar(
            "select sum(predicted_cash_in) from gold.kpi_predicted_cash_in where score_date = ? and days_ahead <= 30",
            [self.day],
        )
        return {
            "open_invoices": int(row["open_invoices"]) if row is not None else None,
            "open_amount": float(row["open_amount"]) if row is not None else None,
            "overdue_amount": float(row["overdue_amount"]) if row is not None else None,
            "dso_days": float(row["dso_days"]) if row is not None and pd.notna(row["dso_days"]) else None,
            "cash_in_last_7_days": float(cash_7),
            "predicted_cash_in_next_30_days": float(forecast_30) if forecast_30 is not None else None,
            "open_alerts": self.open_alerts,
        }

    def aging_buckets(self) -> pd.DataFrame:
        return self._df(
            "select aging_bucket, invoice_count, open_amount, amount_share from gold.kpi_ar_aging "
            "where as_of_date = ? order by bucket_order",
            [self.day],
        )

    def aging_by_customer(self) -> pd.DataFrame:
        """One row per customer with open items: the open amount per bucket, total and share."""
        buckets = ", ".join(
            f"coalesce(sum(open_amount) filter (where aging_bucket = '{b}'), 0) as \"{b}\"" for b in BUCKETS
        )
        return self._df(
            f"select customer_number, any_value(customer_name) as customer_name, count(*) as open_invoices, "
            f"{buckets}, sum(open_amount) as total, sum(open_amount) / sum(sum(open_amount)) over () as share "
            "from gold.fact_ar_open_items where as_of_date = ? group by customer_number "
            "order by total desc, customer_number",
            [self.day],
        )

    def ledgers(self) -> pd.DataFrame:
        """Each ledger's (company code and currency) open receivables in its own currency and in USD."""
        return self._df(
            "select business_code as ledger, currency, open_invoices, open_amount, overdue_amount, dso_days, "
            "open_amount_reporting as open_amount_usd from gold.kpi_ar_ledger_daily "
            "where as_of_date = ? and open_invoices > 0 order by open_amount_reporting desc, ledger, currency",
            [self.day],
        )

    def credit_utilisation(self) -> pd.DataFrame:
        """Accounts owing against their credit line, breaches first, then the most used."""
        return self._df(
            "select customer_number, customer_name, credit_limit_vnd, open_amount_vnd, overdue_amount_vnd, "
            "utilisation, headroom_vnd, is_breach from gold.kpi_ar_credit_utilisation where as_of_date = ? "
            "order by is_breach desc, utilisation desc nulls first, customer_number",
            [self.day],
        )

    def open_invoices(self) -> pd.DataFrame:
        return self._df(
            "select doc_id, customer_number, customer_name, invoice_date, due_date, currency, amount, open_amount, "
            "days_past_due, aging_bucket from gold.fact_ar_open_items where as_of_date = ? "
            "order by days_past_due desc, open_amount desc, doc_id",
            [self.day],
        )

    def customer_open_items(self, customer_number: str) -> pd.DataFrame:
        return self._df(
            "select doc_id, invoice_date, due_date, currency, amount, open_amount, days_past_due, aging_bucket "
            "from gold.fact_ar_open_items where as_of_date = ? and customer_number = ? order by due_date, doc_id",
            [self.day, customer_number],
        )

    def customer_payments(self, customer_number: str) -> pd.DataFrame:
        """The customer's invoices paid by the day: when, how late, how much."""
        return self._df(
            "select doc_id, invoice_date, due_date, payment_date, amount_reporting as amount, days_to_pay, days_late "
            "from gold.fact_ar_invoices where customer_number = ? and payment_date <= ? "
            "order by payment_date desc, doc_id",
            [customer_number, self.day],
        )

    def worklist(self) -> pd.DataFrame:
        """The day's worklist; with the disputed flag where the ledgers carry it (a column of blanks
        says nothing, so it is left out for ledgers without it)."""
        frame = self._df(
            "select call_order, customer_number, customer_name, doc_id, open_amount, days_past_due, is_disputed, "
            "probability_over_30_late, predicted_payment_date, interval_lower_date, interval_upper_date, "
            "prediction_confidence from gold.ar_collection_worklist where score_date = ? order by call_order",
            [self.day],
        )
        return frame.drop(columns="is_disputed") if frame["is_disputed"].isna().all() else frame

    def dso_trend(self) -> pd.DataFrame:
        return self._df(
            "select as_of_date, open_amount, overdue_amount, dso_days, invoices_posted, invoices_paid, paid_amount "
            "from gold.kpi_ar_dso_analysis where as_of_date between ? and ? order by as_of_date",
            [self.trend_start, self.day],
        )

    def aging_over_time(self) -> pd.DataFrame:
        return self._df(
            "select as_of_date, aging_bucket, open_amount from gold.kpi_ar_aging "
            "where as_of_date between ? and ? order by as_of_date, bucket_order",
            [self.trend_start, self.day],
        )

    def working_capital(self) -> pd.DataFrame:
        return self._df(
            "select w.as_of_date, w.dso_days, w.dpo_days, w.ccc_days, w.ar_outstanding_vnd, w.ap_outstanding_vnd, "
            "r.revenue_vnd, r.gross_margin_vnd, r.gross_margin_pct from gold.kpi_working_capital as w "
            "left join gold.kpi_daily_revenue as r on r.revenue_date = w.as_of_date "
            "where w.as_of_date between ? and ? order by w.as_of_date",
            [self.trend_start, self.day],
        )

    def sales_ledger(self) -> pd.DataFrame:
        """The SME's own sales on terms as receivables, per customer as of the day: invoiced and collected
        to date, and what is open by days past each order's due date; overpaid orders are credits. Its
        outstanding total is kpi_working_capital's ar_outstanding_vnd."""
        buckets = ", ".join(
            f"coalesce(sum(open_vnd) filter (where open_vnd > 0 and {_bucket_sql('days_past_due')} = '{b}'), 0) "
            f'as "{b}"'
            for b in BUCKETS
        )
        return self._df(
            f"""
            with orders as (
                select order_id, any_value(customer_code) as customer_code, min(due_date) as due_date,
                       sum(revenue_vnd) as invoiced_vnd
                from gold.fact_orders where order_date <= $day group by order_id
            ),
            paid as (
                select order_id, any_value(customer_code) as customer_code, sum(amount_vnd) as collected_vnd
                from gold.fact_payments where status = 'paid' and settled_date <= $day group by order_id
            ),
            per_order as (
                select coalesce(o.customer_code, p.customer_code) as customer_code,
                       coalesce(o.invoiced_vnd, 0) as invoiced_vnd, coalesce(p.collected_vnd, 0) as collected_vnd,
                       coalesce(o.invoiced_vnd, 0) - coalesce(p.collected_vnd, 0) as open_vnd,
                       $day - o.due_date as days_past_due
                from orders as o full join paid as p using (order_id)
            )
            select p.customer_code, any_value(c.customer_name) as customer_name,
                   sum(invoiced_vnd) as invoiced_to_date_vnd, sum(collected_vnd) as collected_to_date_vnd,
                   {buckets}, abs(coalesce(sum(open_vnd) filter (where open_vnd < 0), 0)) as credit_vnd,
                   sum(open_vnd) as outstanding_vnd
            from per_order as p
            left join gold.dim_customer as c on c.customer_code = p.customer_code and c.is_current
            group by p.customer_code
            having sum(invoiced_vnd) <> 0 or sum(collected_vnd) <> 0
            order by outstanding_vnd desc, p.customer_code
            """,
            {"day": self.day},
        )

    def cash_forecast(self) -> pd.DataFrame:
        """The AR stream's forecast made on the day (score_cashflow_fcst) beside the cash that came in
        (fact_ar_invoices' payments, as far as the data goes), from HISTORY_DAYS before the day to the
        forecast's end."""
        return self._df(
            """
            with forecast as (
                select cast(target_date as date) as cash_date, predicted_cash_in, lower_80, upper_80, lower_95, upper_95
                from gold.score_cashflow_fcst
                -- 90 days: the daily view; the 26 weeks are the cash position's
                where cast(forecast_date as date) = $day and stream = 'ar_invoices' and horizon_days <= 90
            ),
            actual as (
                select payment_date as cash_date, sum(amount_reporting) as actual_cash_in
                from gold.fact_ar_invoices where payment_date is not null group by payment_date
            ),
            days as (
                select unnest(generate_series($first, coalesce((select max(cash_date) from forecast), $day),
                    interval 1 day))::date as cash_date
            )
            select d.cash_date,
                   -- a day without payments up to the newest data is no cash, not an unknown; a report
                   -- rebuilt for a past day shows what came in after it against its forecast
                   case when d.cash_date <= greatest($day, (select max(cash_date) from actual))
                        then coalesce(a.actual_cash_in, 0) end as actual_cash_in,
                   f.predicted_cash_in, f.lower_80, f.upper_80, f.lower_95, f.upper_95
            from days as d left join actual as a using (cash_date) left join forecast as f using (cash_date)
            order by d.cash_date
            """,
            {"day": self.day, "first": self.day - timedelta(days=HISTORY_DAYS)},
        )

    def cash_position(self) -> pd.DataFrame:
        """The SME's bank balance path made on the day, week by week (kpi_cash_position)."""
        return self._df(
            "select week, week_end, balance, balance_low_80, balance_high_80, floor, below_floor "
            "from gold.kpi_cash_position where as_of_date = ? and ledger = 'sme' order by week",
            [self.day],
        )

    def ar_collections(self) -> pd.DataFrame:
        """The 13-week collections forecast made on the day (kpi_ar_collections_forecast)."""
        return self._df(
            "select week, week_start, week_end, from_open_invoices, from_new_invoices, predicted_collections "
            "from gold.kpi_ar_collections_forecast where as_of_date = ? order by week",
            [self.day],
        )

    def predicted_cash_in_by_week(self) -> pd.DataFrame:
        return self._df(
            "select date_trunc('week', cash_date)::date as week, sum(predicted_cash_in) as predicted_cash_in, "
            "sum(cash_in_if_early) as if_early, sum(cash_in_if_late) as if_late from gold.kpi_predicted_cash_in "
            "where score_date = ? group by 1 order by 1",
            [self.day],
        )

    def rates(self) -> pd.DataFrame:
        return self._df(
            "select s.as_of_date, s.success_rate, r.match_rate, r.unmatched_bank_lines, "
            "r.payments_without_bank_line from gold.kpi_payment_success_rate as s "
            "left join gold.kpi_reconciliation_daily as r on r.statement_date = s.as_of_date "
            "where s.as_of_date between ? and ? order by s.as_of_date",
            [self.trend_start, self.day],
        )

    def reconciliation(self) -> pd.DataFrame:
        return self._df(
            "select * from gold.link_payment_bank where match_status <> 'matched' "
            "and coalesce(match_date, settled_date, txn_date) between ? and ? "
            "order by coalesce(match_date, settled_date, txn_date) desc",
            [self.day - timedelta(days=29), self.day],
        )

    def anomalies(self) -> pd.DataFrame:
        return self._df(
            "select anomaly_kind, subject_id, counterparty, amount, currency, observed, reason "
            "from gold.score_anomalies where cast(found_on as date) = ? order by anomaly_kind, amount desc",
            [self.day],
        )

    def data_health(self) -> dict[str, pd.DataFrame]:
        """The checks' latest results, the day's quarantined rows by source and rule, open alerts, and
        when each layer was last materialized."""
        return {
            "checks": self._df(
                "select case when passed is null then lower(status) when passed then 'passed' "
                "when severity = 'WARN' then 'warned' else 'failed' end as outcome, count(*) as checks "
                "from ops.check_results "
                "group by 1 order by 1"
            ),
            "failing": self._df(
                "select asset_key, check_name, severity, partition, description from ops.check_results "
                "where passed = false order by severity, asset_key, check_name"
            ),
            "quarantine": self._df(
                "select source, rule, count(*) as rows from ops.ops_quarantine where partition_date = ? "
                "group by all order by rows desc",
                [self.day],
            ),
            "alerts": self._df(
                "select severity, subject, check_name, last_message as message, fired_at, last_seen_at, occurrences "
                "from ops.alerts where status = 'open' order by last_seen_at desc"
            ),
            "layers": self._df(
                "select split_part(asset_key, '/', 1) as layer, max(last_materialized_at) as last_materialized_at, "
                "max(last_partition) as newest_partition from ops.asset_status group by 1 order by 1"
            ),
        }


def _bucket_sql(days_past_due: str) -> str:
    """The aging buckets of kpi_ar_aging (aging_buckets macro): not yet due counts as 0-30."""
    return (
        f"case when {days_past_due} <= 30 then '0-30' when {days_past_due} <= 60 then '31-60' "
        f"when {days_past_due} <= 90 then '61-90' else '90+' end"
    )
