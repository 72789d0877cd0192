"""The dashboard's pages: each renders the figures of one as-of day with the report's charts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from smepulse_assets.reports import charts
from smepulse_assets.reports.figures import Figures, shown_figure
from smepulse_assets.reports.workbook import HEADLINE_LABELS, SHARE_WORDS, table_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _metric(label: str, value: float | int | None) -> None:
    st.metric(label, shown_figure(value))


def _table(frame: pd.DataFrame, when_empty: str) -> None:
    if frame.empty:
        st.caption(when_empty)
    else:
        st.dataframe(frame, hide_index=True, use_container_width=True, column_config=_formats(frame))


def _formats(frame: pd.DataFrame) -> dict:
    """Days as days, amounts with thousands separators, shares as percentages (the pack's formats)."""
    formats = {}
    for name, kind in frame.dtypes.items():
        if pd.api.types.is_datetime64_any_dtype(kind) and "_at" not in str(name):
            formats[name] = st.column_config.DateColumn(format="YYYY-MM-DD")
        elif pd.api.types.is_float_dtype(kind):
            share = any(word in str(name) for word in SHARE_WORDS)
            formats[name] = st.column_config.NumberColumn(format="percent" if share else "localized")
    return formats


def overview(figures: Figures) -> None:
    st.title(f"Overview, {figures.day}")
    headline = figures.headline()
    keys = list(HEADLINE_LABELS)
    for row in (keys[:4], keys[4:]):
        for column, key in zip(st.columns(4), row, strict=False):
            with column:
                _metric(HEADLINE_LABELS[key], headline[key])
    left, right = st.columns(2)
    left.plotly_chart(charts.aging_buckets(figures.aging_buckets()), use_container_width=True)
    right.plotly_chart(charts.cash_forecast(figures.cash_forecast()), use_container_width=True)


def receivables(figures: Figures) -> None:
    st.title(f"Receivables, {figures.day}")
    st.plotly_chart(charts.aging_buckets(figures.aging_buckets()), use_container_width=True)
    st.subheader("By ledger")
    _table(figures.ledgers(), "No open receivables on this day.")
    credit = figures.credit_utilisation()
    if not credit.empty:  # only accounts of the customer master have credit lines
        breaches = int(credit["is_breach"].sum())
        st.subheader("Credit limits")
        if breaches:
            st.warning(f"{breaches} account(s) owe more than their credit line.")
        _table(credit, "")
    customers = figures.aging_by_customer()
    st.subheader("Aging by customer")
    _table(customers, "No open receivables on this day.")
    if customers.empty:
        return
    labels = {f"{r.customer_number}  {r.customer_name}": r.customer_number for r in customers.itertuples()}
    chosen = labels[st.selectbox("Customer", list(labels))]
    left, right = st.columns(2)
    with left:
        st.subheader("Open invoices")
        _table(figures.customer_open_items(chosen), "No open invoice.")
    with right:
        st.subheader("Payment history")
        _table(figures.customer_payments(chosen), "No invoice paid yet.")


def collections(figures: Figures) -> None:
    st.title(f"Collections, {figures.day}")
    worklist = figures.worklist()
    if worklist.empty:
        st.caption("No worklist for this day: the ML run has not scored it.")
        return
    search, minimum, likely = st.columns(3)
    text = search.text_input("Customer contains")
    least = minimum.number_input("Open amount at least", min_value=0.0, value=0.0, step=1000.0)
    p_late = likely.slider("P(paid > 30 days late) at least", 0.0, 1.0, 0.0, 0.05)
    shown = worklist[
        (worklist["open_amount"] >= least)
        & (worklist["probability_over_30_late"].fillna(0) >= p_late)
        & (
            worklist["customer_name"].fillna("").str.contains(text, case=False, regex=False)
            | worklist["customer_number"].str.contains(text, case=False, regex=False)
        )
    ]
    st.caption(f"{len(shown):,} of {len(worklist):,} invoices, {shown['open_amount'].sum():,.2f} open")
    _table(shown, "No invoice matches the filters.")
    csv, xlsx = st.columns(2)
    name = f"worklist-{figures.day}"
    csv.download_button("Download CSV", shown.to_csv(index=False), f"{name}.csv", "text/csv")
    xlsx.download_button("Download Excel", table_workbook(shown, "Collection worklist"), f"{name}.xlsx", XLSX)


def cash(figures: Figures) -> None:
    st.title(f"Cash, {figures.day}")
    position = figures.cash_position()
    below = position[position["below_floor"].astype(bool)]
    if len(below):  # the business alert first: it is what the page is opened for
        first = below.iloc[0]
        st.warning(
            f"The balance may go below the floor ({first['floor']:,.0f} VND) in week {int(first['week'])}, "
            f"ending {first['week_end']:%Y-%m-%d}: 80 % low end {first['balance_low_80']:,.0f} VND."
        )
    st.plotly_chart(charts.cash_forecast(figures.cash_forecast()), use_container_width=True)
    collections = figures.ar_collections()
    st.plotly_chart(charts.ar_collections(collections), use_container_width=True)
    if collections.empty:
        st.caption("No collections forecast this day: it needs a week of payment-date scores before it.")
    st.plotly_chart(charts.cash_by_week(figures.predicted_cash_in_by_week()), use_container_width=True)
    st.subheader("Cash position: the bank balance 26 weeks ahead (VND)")
    if position.empty:
        st.caption("No cash position this day: it needs four weeks of bank statement and a cash-in forecast.")
    st.plotly_chart(charts.cash_position(position), use_container_width=True)


def working_capital(figures: Figures) -> None:
    st.title(f"Working capital, {figures.day}")
    frame = figures.working_capital()
    st.plotly_chart(charts.working_capital(frame), use_container_width=True)
    st.subheader("Revenue and margin (VND)")
    _table(frame.sort_values("as_of_date", ascending=False), "No working-capital figures for these days.")
    st.subheader("Sales ledger (the SME's own receivables, VND)")
    _table(figures.sales_ledger(), "No sales ledger: the SME's sales sources are not delivered.")


def reconciliation(figures: Figures) -> None:
    st.title(f"Reconciliation, {figures.day}")
    st.plotly_chart(charts.rates(figures.rates()), use_container_width=True)
    st.subheader("Lines not matched, last 30 days")
    _table(figures.reconciliation(), "Every payment and bank line matched.")


def anomalies(figures: Figures) -> None:
    st.title(f"Anomalies, {figures.day}")
    _table(figures.anomalies(), "No anomaly found on this day.")


def data_health(figures: Figures) -> None:
    st.title("Data health (latest results)")
    health = figures.data_health()
    counts = dict(zip(health["checks"]["outcome"], health["checks"]["checks"], strict=True))
    # "planned": the check's step did not get to evaluate it (its run failed or was stopped first)
    for column, (outcome, label) in zip(
        st.columns(4),
        (("passed", "passed"), ("warned", "warned"), ("failed", "failed"), ("planned", "not evaluated")),
        strict=True,
    ):
        with column:
            _metric(f"Checks {label}", int(counts.get(outcome, 0)))
    for title, key, when_empty in (
        ("Checks not passing", "failing", "Every check passes."),
        (f"Rows quarantined on {figures.day}", "quarantine", "No row was quarantined."),
        ("Open alerts", "alerts", "No open alert."),
        ("Layers: last materialized", "layers", "Nothing materialized yet."),
    ):
        st.subheader(title)
        _table(health[key], when_empty)


# (title, url path, render): the sidebar's order
PAGES = (
    ("Overview", "overview", overview),
    ("Receivables", "receivables", receivables),
    ("Collections", "collections", collections),
    ("Cash", "cash", cash),
    ("Working capital", "working-capital", working_capital),
    ("Reconciliation", "reconciliation", reconciliation),
    ("Anomalies", "anomalies", anomalies),
    ("Data health", "data-health", data_health),
)
