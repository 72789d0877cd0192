"""Monitoring the payment-date model against what actually happened.

Each day, every invoice whose payment has arrived is compared with the prediction made
the first day it was scored (the forecast the business would have acted on): by week
of payment, the count, MAE, the share within ±3 days and the interval's coverage.
Feature drift compares the invoices posted over the last four weeks with the rows the
serving champion was trained on (its training window is read from its MLflow run),
as the population stability index per feature. Checks fail and alert when recent
accuracy or drift pass the configured bounds.
"""

from datetime import timedelta

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from ml_assets import outputs
from ml_assets.payment_date import MODEL_NAME, WITHIN_DAYS
from ml_assets.tracking import CHAMPION, MlflowRun
from ml_assets.training import ml_asset_args
from smepulse_lib.windows import DayWindow

# The first prediction of each invoice paid in the trailing weeks (known by the day) against its
# payment, by week of payment: the weeks reported are bounded, and each invoice's first prediction
# is kept apart (one row per invoice), so the cost of a day does not grow with history. Summed in
# DuckDB, not pandas: at 5 million invoices the weeks' payments are millions of rows.
# A prediction missing a date counts as neither within nor covered.
WEEKLY_ACCURACY_SQL = f"""
    with paid as (
        select doc_id, payment_date from silver.stg_ar_invoices
        where not is_open and state_valid_from <= ? and payment_date > ?
    ),
    outcomes as (
        select i.payment_date, p.interval_lower_date, p.interval_upper_date,
               abs(date_diff('day', p.predicted_payment_date, i.payment_date)) as abs_error
        from gold.first_payment_predictions as p
        join paid as i on i.doc_id = p.doc_id
    )
    select
        date_trunc('week', payment_date) as payment_week,
        count(*) as invoices,
        avg(abs_error) as mae_days,
        avg(case when abs_error <= {WITHIN_DAYS} then 1.0 else 0.0 end) as within_3_days,
        avg(case when payment_date between interval_lower_date and interval_upper_date then 1.0 else 0.0 end)
            as interval_coverage
    from outcomes
    group by payment_week
    order by payment_week
"""


# Features whose distribution should hold still; cumulative counts (prior invoices) grow
# with history by nature and would always "drift".
DRIFT_FEATURES = [
    "log_amount",
    "terms_days",
    "prior_median_days_late",
    "prior_mean_days_late",
    "prior_sd_days_late",
    "prior_share_over_30_late",
    "open_amount_at_posting",
]


class MonitoringConfig(dg.Config):
    recent_weeks: int = 4  # the accuracy check judges these
    reported_weeks: int = 26  # the weekly table covers these
    max_mae_days: float = 8.0
    min_within_3_days: float = 0.35
    min_interval_coverage: float = 0.6
    max_psi: float = 0.25


def psi(reference: pd.Series, current: pd.Series, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` deciles (missing values a bin of their own)."""
    ref, cur = reference.astype(float), current.astype(float)
    edges = (
        np.unique(np.nanquantile(ref.dropna(), np.linspace(0, 1, bins + 1))) if ref.notna().any() else np.array([0.0])
    )
    edges[0], edges[-1] = -np.inf, np.inf

    def shares(values: pd.Series) -> np.ndarray:
        counts = np.append(np.histogram(values.dropna(), bins=edges)[0], values.isna().sum()).astype(float)
        return np.maximum(counts / max(len(values), 1), 1e-4)

    expected, actual = shares(ref), shares(cur)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def champion_training_window() -> tuple[str, str] | None:
    """The serving champion's version and the last label day of its training rows."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except Exception:
        return None
    if version.run_id is None:  # registered without a run: no training window to compare with
        return None
    return version.version, client.get_run(version.run_id).data.tags["window.train_labels_through"]


def build_monitoring_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    key = dg.AssetKey(["ml", "payment_model_monitoring"])

    @dg.asset(
        key=key,
        deps=[
            dg.AssetKey(["gold", "first_payment_predictions"]),
            dg.AssetKey(["silver", "stg_ar_invoices"]),
            dg.AssetKey(["silver", "ftr_invoice_at_posting"]),
            dg.AssetKey(["ml", "payment_date_model"]),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                "recent_accuracy_within_bounds",
                asset=key,
                description="Over the last recent_weeks of payments (invoice-weighted): MAE at most max_mae_days, "
                "the share within ±3 days at least min_within_3_days, the 80 % interval's coverage at least "
                "min_interval_coverage (MonitoringConfig).",
            ),
            dg.AssetCheckSpec(
                "feature_drift_within_bounds",
                asset=key,
                description="Each monitored feature's population stability index over the last 28 days of invoices, "
                "against the serving champion's training rows, is at most max_psi (a warning).",
            ),
        ],
        kinds={"duckdb", "mlflow"},
        **ml_asset_args(
            partitions_def,
            "Payment-date predictions against actual payments as they arrive (MAE, share "
            "within ±3 days, interval coverage by week) and feature drift against the champion's training "
            "rows; table ml.payment_model_monitoring.",
        ),
    )
    def payment_model_monitoring(
        context: dg.AssetExecutionContext, config: MonitoringConfig, warehouse: DuckDBResource, mlflow: MlflowRun
    ):
        window = DayWindow.of(context.partition_time_window)
        first, day = window.first, window.last
        with warehouse.get_connection() as con:
            weekly = outputs.read(con, WEEKLY_ACCURACY_SQL, [day, day - timedelta(weeks=config.reported_weeks)])
            weekly = weekly.assign(monitor_date=pd.Timestamp(day))
            champion = champion_training_window()
            drift = {}
            if champion is not None:
                columns = ", ".join(DRIFT_FEATURES)  # only what is compared: the rows are ~30 columns wide
                # a sample chosen by each row's hash, not at random: a rerun reports the same drift
                reference = outputs.read(
                    con,
                    f"select {columns} from silver.ml_training_payment_pred as t where label_known_on <= ? "
                    "order by hash(t) limit 100000",
                    [champion[1]],
                )
                current = outputs.read(
                    con,
                    f"select {columns} from silver.ftr_invoice_at_posting where known_on between ? and ?",
                    [day - timedelta(days=27), day],
                )
                drift = {f: round(psi(reference[f], current[f]), 4) for f in DRIFT_FEATURES} if len(current) else {}
            outputs.replace_days(con, "payment_model_monitoring", weekly, "monitor_date", first, day)
        recent = weekly[
            pd.to_datetime(weekly["payment_week"]) > pd.Timestamp(day - timedelta(weeks=config.recent_weeks))
        ]
        yield dg.MaterializeResult(
            metadata={
                "weeks": len(weekly),
                "recent_invoices": int(recent["invoices"].sum()),
                "champion_version": champion[0] if champion else "none",
                "psi": dg.MetadataValue.json(drift),
            }
        )
        yield _accuracy_check(recent, config)
        worst = max(drift, key=lambda feature: drift[feature]) if drift else None
        yield dg.AssetCheckResult(
            check_name="feature_drift_within_bounds",
            passed=worst is None or drift[worst] <= config.max_psi,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"largest PSI {drift[worst]:.3f} ({worst})" if worst else "no champion or no recent invoices",
            metadata={
                "observed": drift.get(worst, 0.0) if worst else 0.0,
                "threshold": config.max_psi,
                "feature": worst or "",
            },
        )

    return [payment_model_monitoring]


def _accuracy_check(recent: pd.DataFrame, config: MonitoringConfig) -> dg.AssetCheckResult:
    n = int(recent["invoices"].sum())
    if n == 0:
        return dg.AssetCheckResult(
            check_name="recent_accuracy_within_bounds",
            passed=True,
            description="no paid invoice with a prediction yet",
            metadata={"invoices": 0},
        )
    weights = recent["invoices"] / n
    observed = {m: float((recent[m] * weights).sum()) for m in ("mae_days", "within_3_days", "interval_coverage")}
    breaches = [
        text
        for text, bad in [
            (f"MAE {observed['mae_days']:.1f} d > {config.max_mae_days}", observed["mae_days"] > config.max_mae_days),
            (
                f"within ±3 d {observed['within_3_days']:.0%} < {config.min_within_3_days:.0%}",
                observed["within_3_days"] < config.min_within_3_days,
            ),
            (
                f"coverage {observed['interval_coverage']:.0%} < {config.min_interval_coverage:.0%}",
                observed["interval_coverage"] < config.min_interval_coverage,
            ),
        ]
        if bad
    ]
    return dg.AssetCheckResult(
        check_name="recent_accuracy_within_bounds",
        passed=not breaches,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(breaches) or f"last {config.recent_weeks} weeks within bounds",
        metadata={
            "invoices": n,
            **{k: round(v, 4) for k, v in observed.items()},
            "observed": round(observed["mae_days"], 3),
            "threshold": config.max_mae_days,
        },
    )
