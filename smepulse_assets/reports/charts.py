"""The Plotly charts of the HTML report and the dashboard: one function per chart, drawn from the
frames of ``figures.Figures``, so both outputs show the same picture of the same numbers."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from smepulse_assets.reports.figures import BUCKETS

BUCKET_COLOURS = dict(zip(BUCKETS, ("#4c9f70", "#f2c14e", "#f78154", "#c0392b"), strict=True))
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 50, "r": 50, "t": 60, "b": 40},
    "height": 380,
    "legend": {"orientation": "h", "yanchor": "bottom", "y": -0.3},
}


def _figure(title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(title=title, **LAYOUT)
    return figure


def aging_buckets(frame: pd.DataFrame) -> go.Figure:
    figure = _figure("Open receivables by days past due")
    figure.add_bar(
        x=frame["aging_bucket"],
        y=frame["open_amount"],
        marker_color=[BUCKET_COLOURS[b] for b in frame["aging_bucket"]],
        text=[f"{n:,} invoices" for n in frame["invoice_count"]],
    )
    figure.update_yaxes(title="open amount (USD)")
    return figure


def aging_over_time(frame: pd.DataFrame) -> go.Figure:
    figure = _figure("Receivables aging over time")
    for bucket in BUCKETS:
        rows = frame[frame["aging_bucket"] == bucket]
        figure.add_scatter(
            x=rows["as_of_date"],
            y=rows["open_amount"],
            name=bucket,
            stackgroup="aging",
            line_color=BUCKET_COLOURS[bucket],
        )
    figure.update_yaxes(title="open amount (USD)")
    return figure


def dso_trend(frame: pd.DataFrame) -> go.Figure:
    figure = _figure("DSO and open receivables")
    figure.add_scatter(x=frame["as_of_date"], y=frame["open_amount"], name="open", yaxis="y2", line_color="#9aa5b1")
    figure.add_scatter(
        x=frame["as_of_date"], y=frame["overdue_amount"], name="overdue", yaxis="y2", line_color="#f78154"
    )
    figure.add_scatter(
        x=frame["as_of_date"], y=frame["dso_days"], name="DSO (days)", line={"color": "#1f4e79", "width": 3}
    )
    figure.update_layout(
        yaxis={"title": "days"}, yaxis2={"title": "USD", "overlaying": "y", "side": "right", "showgrid": False}
    )
    return figure


def working_capital(frame: pd.DataFrame) -> go.Figure:
    figure = _figure("Working capital: DSO, DPO and the cash conversion cycle")
    for column, name in (("dso_days", "DSO"), ("dpo_days", "DPO"), ("ccc_days", "CCC")):
        figure.add_scatter(x=frame["as_of_date"], y=frame[column], name=name)
    figure.update_yaxes(title="days")
    return figure


def cash_forecast(frame: pd.DataFrame) -> go.Figure:
    """The forecast with its 95 % and 80 % bands, and the cash that actually came in."""
    figure = _figure("Cash-in: forecast with 80 % and 95 % bands against actual")
    ahead = frame[frame["predicted_cash_in"].notna()]
    for low, high, name, colour in (
        ("lower_95", "upper_95", "95 % band", "rgba(31, 78, 121, 0.12)"),
        ("lower_80", "upper_80", "80 % band", "rgba(31, 78, 121, 0.25)"),
    ):
        figure.add_scatter(x=ahead["cash_date"], y=ahead[high], line_width=0, showlegend=False, hoverinfo="skip")
        figure.add_scatter(
            x=ahead["cash_date"], y=ahead[low], line_width=0, fill="tonexty", fillcolor=colour, name=name
        )
    figure.add_scatter(x=ahead["cash_date"], y=ahead["predicted_cash_in"], name="forecast", line_color="#1f4e79")
    figure.add_scatter(
        x=frame["cash_date"], y=frame["actual_cash_in"], name="actual", mode="lines+markers", line_color="#2d2d2d"
    )
    figure.update_yaxes(title="cash in per day (USD)")
    return figure


def cash_position(frame: pd.DataFrame) -> go.Figure:
    """The bank balance at each week's end with its 80 % band, the floor, and the weeks that may go below it."""
    figure = _figure("Bank balance: the next 26 weeks with its 80 % band and the floor")
    figure.add_scatter(
        x=frame["week_end"], y=frame["balance_high_80"], line_width=0, showlegend=False, hoverinfo="skip"
    )
    figure.add_scatter(
        x=frame["week_end"],
        y=frame["balance_low_80"],
        line_width=0,
        fill="tonexty",
        fillcolor="rgba(31, 78, 121, 0.25)",
        name="80 % band",
    )
    figure.add_scatter(x=frame["week_end"], y=frame["balance"], name="expected balance", line_color="#1f4e79")
    figure.add_scatter(x=frame["week_end"], y=frame["floor"], name="floor", line={"color": "#c0392b", "dash": "dash"})
    below = frame[frame["below_floor"].astype(bool)]
    figure.add_scatter(
        x=below["week_end"],
        y=below["balance_low_80"],
        name="may go below the floor",
        mode="markers",
        marker={"color": "#c0392b", "size": 9},
    )
    figure.update_yaxes(title="VND")
    return figure


def ar_collections(frame: pd.DataFrame) -> go.Figure:
    """The 13-week collections forecast: each week's cash from the invoices open today and from those to come."""
    figure = _figure("Expected collections by week, next 13 weeks")
    figure.add_bar(
        x=frame["week_end"], y=frame["from_open_invoices"], name="from open invoices", marker_color="#1f4e79"
    )
    figure.add_bar(
        x=frame["week_end"], y=frame["from_new_invoices"], name="from invoices to come", marker_color="#8fb3d9"
    )
    figure.update_layout(barmode="stack")
    # no x-axis title: the horizontal legend sits where it would be; the hover names each week's end
    figure.update_traces(hovertemplate="week ending %{x|%Y-%m-%d}: %{y:,.0f}")
    figure.update_yaxes(title="collections per week (USD)")
    return figure


def cash_by_week(frame: pd.DataFrame) -> go.Figure:
    figure = _figure("Predicted cash-in by week (open invoices)")
    figure.add_bar(x=frame["week"], y=frame["predicted_cash_in"], name="predicted", marker_color="#1f4e79")
    figure.add_scatter(x=frame["week"], y=frame["if_early"], name="if paid early", mode="markers")
    figure.add_scatter(x=frame["week"], y=frame["if_late"], name="if paid late", mode="markers")
    figure.update_yaxes(title="USD")
    return figure


def rates(frame: pd.DataFrame) -> go.Figure:
    figure = _figure("Payment success and bank reconciliation match rate")
    figure.add_scatter(x=frame["as_of_date"], y=frame["success_rate"], name="payment success rate")
    figure.add_scatter(x=frame["as_of_date"], y=frame["match_rate"], name="reconciliation match rate")
    figure.update_yaxes(title="share", tickformat=".0%")
    return figure
