"""The cash report: one self-contained HTML file per day (Plotly's script is inside it, so it opens
without a network), with the day's key figures, the charts and the day's data health.

Each key figure is written with a ``data-figure`` attribute so the report check (and anyone's
script) reads the number the page shows without scraping the text.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from smepulse_assets.reports import charts
from smepulse_assets.reports.figures import Figures, shown_figure
from smepulse_assets.reports.workbook import HEADLINE_LABELS

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1d2733; }
h1 { margin-bottom: 0; } .asof { color: #5b6773; margin-top: 4px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.tile { border: 1px solid #d9dee3; border-radius: 8px; padding: 12px 16px; min-width: 180px; }
.tile .label { color: #5b6773; font-size: 13px; } .tile .value { font-size: 22px; font-weight: 600; }
/* two fixed columns: each chart draws as its script runs, when an auto-fit grid would still give the
   first one the whole width, and it then ran under the second */
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
@media (max-width: 1100px) { .charts { grid-template-columns: minmax(0, 1fr); } }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid #e5e8eb; padding: 4px 10px; text-align: left; }
th { background: #1f4e79; color: white; } .empty { color: #5b6773; }
"""


def cash_report(figures: Figures) -> str:
    """The report of ``figures.day`` as one HTML document."""
    headline = figures.headline()
    health = figures.data_health()
    chart_list = [
        charts.cash_forecast(figures.cash_forecast()),
        charts.ar_collections(figures.ar_collections()),
        charts.cash_position(figures.cash_position()),
        charts.aging_over_time(figures.aging_over_time()),
        charts.dso_trend(figures.dso_trend()),
        charts.working_capital(figures.working_capital()),
        charts.rates(figures.rates()),
        charts.aging_buckets(figures.aging_buckets()),
    ]
    body = [
        "<h1>SME Pulse cash report</h1>",
        f'<p class="asof">As of <span data-figure="as_of">{figures.day}</span></p>',
        _tiles(headline),
        '<div class="charts">',
        *(_chart(c) for c in chart_list),
        "</div>",
        "<h2>Anomalies of the day</h2>",
        _table(figures.anomalies(), "No anomaly found on this day."),
        "<h2>Data health</h2>",
        _table(health["checks"], "No check has run."),
        "<h3>Checks not passing</h3>",
        _table(health["failing"], "Every check passes."),
        "<h3>Rows quarantined on this day</h3>",
        _table(health["quarantine"], "No row was quarantined."),
        "<h3>Open alerts</h3>",
        _table(health["alerts"], "No open alert."),
        "<h3>Layers: last materialized</h3>",
        _table(health["layers"], "Nothing materialized yet."),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>SME Pulse cash report {figures.day}</title><style>{STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def _tiles(headline: dict) -> str:
    tiles = []
    for key, label in HEADLINE_LABELS.items():
        value = headline[key]
        shown = shown_figure(value)
        raw = "" if value is None else repr(value)
        tiles.append(
            f'<div class="tile"><div class="label">{html.escape(label)}</div>'
            f'<div class="value" data-figure="{key}" data-value="{raw}">{shown}</div></div>'
        )
    return f'<div class="tiles">{"".join(tiles)}</div>'


def _chart(figure: go.Figure) -> str:
    config = {"displaylogo": False, "responsive": True}  # responsive: redrawn to the window's width
    return f"<div>{figure.to_html(full_html=False, include_plotlyjs=False, config=config)}</div>"


def _table(frame: pd.DataFrame, when_empty: str) -> str:
    if frame.empty:
        return f'<p class="empty">{html.escape(when_empty)}</p>'
    shown = frame.astype(object).where(frame.notna(), "")
    return shown.to_html(index=False, escape=True, border=0, float_format=lambda v: f"{v:,.2f}")


class _FigureReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "data-figure" in attributes:
            if "data-value" in attributes:
                self.figures[attributes["data-figure"]] = attributes["data-value"] or ""
            else:
                self._open = attributes["data-figure"]

    def handle_data(self, data):
        if self._open:
            self.figures[self._open] = data
            self._open = None


def read_figures(document: str) -> dict[str, str]:
    """The key figures a report shows, parsed back from its HTML (``data-figure`` elements)."""
    reader = _FigureReader()
    reader.feed(document)
    return reader.figures
