"""The report packs as daily partitioned assets: ``reports/ar_pack_xlsx`` and
``reports/cash_report_html``, written to ``<lake>/reports/<name>/<day>.<ext>``.

They read the serving copy, never the warehouse: a report is built while the next day's run writes.
Each carries a check that reads the file it wrote back (calamine for the workbook, an HTML parser
for the report) and compares its figures with the gold tables of that day.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dagster as dg

from smepulse_assets.reports import verify
from smepulse_assets.reports.figures import Figures, serving_reader, shown_figure
from smepulse_assets.reports.html_report import cash_report
from smepulse_assets.reports.workbook import HEADLINE_LABELS, ar_pack
from smepulse_lib import storage
from smepulse_lib.conventions import daily_asset_args
from smepulse_lib.resources import PlatformPaths
from smepulse_lib.windows import DayWindow

GROUP = "reports"
FIGURES_CHECK = "figures_match_gold"


@dataclass(frozen=True)
class Report:
    name: str
    extension: str
    render: Callable[[Figures], bytes]
    verify: Callable[[bytes, Figures], list[str]]  # mismatches between the file and gold
    description: str

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey([GROUP, self.name])

    def url(self, lake_url: str, day: date) -> str:
        return storage.join(lake_url, GROUP, self.name, f"{day}.{self.extension}")


AR_PACK = Report(
    "ar_pack_xlsx",
    "xlsx",
    ar_pack,
    verify.pack_mismatches,
    "The day's receivables pack for a credit controller, an Excel workbook: headline figures and aging buckets, "
    "aging by customer, open invoices with days past due, the collection worklist (call order, predicted payment "
    "date, confidence, amount), the DSO trend, and the SME's own sales ledger where its sources are delivered.",
)
CASH_REPORT = Report(
    "cash_report_html",
    "html",
    lambda figures: cash_report(figures).encode("utf-8"),
    verify.report_mismatches,
    "The day's cash report, one self-contained HTML file (opens without a network): key figures, the cash-in "
    "forecast with its 80/95 % bands against actual, aging over time, DSO/DPO/CCC, payment success and "
    "reconciliation match rate, the day's anomalies and the data health (checks, quarantine, alerts).",
)
REPORTS = (AR_PACK, CASH_REPORT)


def build_report_assets(
    partitions_def: dg.PartitionsDefinition, serving: list[dg.AssetKey]
) -> list[dg.AssetsDefinition]:
    """``serving``: the serving copy's assets the reports read."""
    return [_report_asset(report, partitions_def, serving) for report in REPORTS]


def _report_asset(
    report: Report, partitions_def: dg.PartitionsDefinition, serving: list[dg.AssetKey]
) -> dg.AssetsDefinition:
    @dg.asset(
        key=report.key,
        deps=serving,
        **daily_asset_args(partitions_def, GROUP, report.description),
        check_specs=[
            dg.AssetCheckSpec(
                FIGURES_CHECK,
                asset=report.key,
                description="The figures in the written file, read back from it, equal the gold tables of its day.",
            )
        ],
    )
    def report_asset(context: dg.AssetExecutionContext, paths: PlatformPaths) -> dg.MaterializeResult:
        window = DayWindow.of(context.partition_time_window)
        mismatches: dict[date, list[str]] = {}
        with serving_reader(paths.serving_path, paths.lake_url) as con:
            for day in window.days:
                built = build_report(report, Figures(con, day), paths.lake_url)
                mismatches[day] = built.mismatches
                context.add_asset_metadata(built.metadata(), partition_key=f"{day}")
        failing = {day: found for day, found in mismatches.items() if found}
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(
                    check_name=FIGURES_CHECK,
                    passed=not failing,
                    description="; ".join(f"{day}: {', '.join(found[:3])}" for day, found in list(failing.items())[:5])
                    or None,
                    metadata={"days_checked": window.label(), "days_mismatching": len(failing)},
                )
            ]
        )

    return report_asset


@dataclass(frozen=True)
class BuiltReport:
    report: Report
    day: date
    url: str
    size: int
    seconds: float
    headline: dict
    mismatches: list[str]

    def metadata(self) -> dict:
        figures = "\n".join(f"| {HEADLINE_LABELS[k]} | {shown_figure(v)} |" for k, v in self.headline.items())
        return {
            "path": dg.MetadataValue.path(self.url),
            "bytes": self.size,
            "seconds": round(self.seconds, 2),
            "summary": dg.MetadataValue.md(
                f"**{self.report.name} {self.day}**\n\n| figure | value |\n|---|---|\n{figures}"
            ),
        }


def build_report(report: Report, figures: Figures, lake_url: str, out_url: str | None = None) -> BuiltReport:
    """Render the report of ``figures.day``, write it (to ``out_url``, default its place in the lake)
    and check it against gold."""
    started = time.perf_counter()
    data = report.render(figures)
    url = out_url or report.url(lake_url, figures.day)
    storage.write_bytes(url, data)
    return BuiltReport(
        report,
        figures.day,
        url,
        len(data),
        time.perf_counter() - started,
        figures.headline(),
        report.verify(storage.read_bytes(url), figures),
    )
