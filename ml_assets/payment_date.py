"""Payment-date prediction: when will an open invoice be paid, and how sure are we.

The model predicts days late (payment minus due date) from the invoice as posted and
its customer's record as known that day (``silver.ftr_invoice_at_posting``); days to
pay is the invoice's terms plus that. Three gradient-boosted quantile models give the
median and an 80 % interval of how far the invoice will be from its customer's median
delay (the overall median for a customer without one): the boosters learn corrections
to the baseline, so on little data the model stays near it. The interval's widening
(split conformal) and the confidence are measured out of sample: a probe fitted without
the newest training rows is calibrated on them; the model served is then fitted on every
training row, the newest labels included (early labels over-represent fast payers), and
takes the probe's widening and confidence. Invoices still open and past due when a training's
labels end are right-censored rows: paid later than they have been open, which is what a slow
payer's history looks like before its first payment. Leaving them out taught the model from fast
payers only; they enter, for each quantile, at that quantile of the days to pay given that
bound (see ``payment_estimators.PaymentDateModel.fit``). The confidence is the share of invoices paid
within ±3 days of the prediction among those with a similar interval width, a probability,
not a score; the coverage reported on the holdout is measured on invoices neither saw.
Two baselines any model must beat: "pays on the due date" and "the customer's historical
median delay".
"""

import dataclasses
from datetime import date, timedelta
from statistics import NormalDist
from typing import TYPE_CHECKING

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from ml_assets import outputs
from ml_assets.serving import Serving, WrittenDays, record_days, serving_plan
from ml_assets.tracking import MlflowRun
from ml_assets.training import (
    SERVING_CHECK,
    SERVING_CHECK_DESCRIPTION,
    Candidate,
    TimeSplit,
    TrainingConfig,
    gate_and_report,
    ml_asset_args,
    trained_or_kept,
    training_split,
)

if TYPE_CHECKING:  # scikit-learn loads when a step fits or scores, not with the code location
    from ml_assets.payment_estimators import CustomerMedianBaseline, PaymentDateModel

MODEL_NAME = "smepulse_payment_date"
CATEGORICAL = ["business_code", "currency", "payment_terms"]
NUMERIC = [
    "log_amount",
    "terms_days",
    "posting_day_of_week",
    "due_day_of_week",
    "posting_month",
    "prior_invoices",
    "prior_paid_invoices",
    "prior_median_days_late",
    "prior_mean_days_late",
    "prior_sd_days_late",
    "prior_share_over_30_late",
    "days_since_last_payment",
    "open_invoices_at_posting",
    "open_amount_at_posting",
    "prior_recent_days_late",
    "amount_vs_usual",
    "overdue_invoices_at_posting",
    "overdue_amount_at_posting",
    "overdue_mean_days_past_due",
    "is_disputed",  # the ledger's extras, where it carries them (null elsewhere)
    "is_paperless",
]
FEATURES = CATEGORICAL + NUMERIC
INTERVAL = (0.1, 0.9)  # an 80 % interval
QUANTILES = (INTERVAL[0], 0.5, INTERVAL[1])
WITHIN_DAYS = 3
# The spread of a normal distribution from its 10th to 90th percentile, in standard deviations
INTERVAL_SDS = NormalDist().inv_cdf(INTERVAL[1]) - NormalDist().inv_cdf(INTERVAL[0])


def fit_serving_baseline(split: TimeSplit) -> "CustomerMedianBaseline | None":
    """The serving baseline fitted on a training's rows and calibrated on its holdout; None
    without labelled rows (the first weeks of a history: no delay to learn an interval from)."""
    if split.train.empty and split.holdout.empty:
        return None
    if split.train.empty:  # every paid invoice is recent: fit and calibrate on them alike
        split = dataclasses.replace(split, train=split.holdout)
    from ml_assets.payment_estimators import CustomerMedianBaseline

    baseline = CustomerMedianBaseline().fit(split.train, split.train["days_to_pay"])
    held_out = split.holdout if len(split.holdout) else split.train
    return baseline.calibrate(held_out, held_out["days_to_pay"])


def conformal_margin(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile of the calibration rows' scores (how far each actual fell
    outside its interval, negative inside): the ceil((n + 1) * level)-th smallest, which covers
    ``level`` of a new row from the same distribution; the largest score when n is too small, no
    margin without a score."""
    if not len(scores):
        return 0.0
    ordered = np.sort(scores)
    rank = min(int(np.ceil((len(ordered) + 1) * level)), len(ordered))
    return float(ordered[rank - 1])


def calibration_split(train: pd.DataFrame, days: int, min_probe_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training rows split in time once more: the older ones to fit a probe on, the labels of
    the last ``days`` to calibrate it on. Calibrating on the holdout instead would make its coverage
    a tautology. The calibration spans as many days as the holdout, so the probe is judged over the
    horizon the model is: on a young ledger the labels arriving weeks after a fit include slower
    payers than the next few days' do (three 90-day worlds, four cut-offs each: holdout coverage
    66.7 % on average calibrated on the newest 20 % of rows, about 5 days of labels; 76.1 % on 30
    days; the 520-day world's 79-82 % either way).
    With fewer than ``min_probe_rows`` older rows the probe takes the older half."""
    ordered = train.sort_values("label_known_on", kind="stable")
    known = pd.to_datetime(ordered["label_known_on"])
    fit_rows = int((known <= known.max() - pd.Timedelta(days=days)).sum())
    if fit_rows < min_probe_rows:
        fit_rows = len(ordered) // 2
    return ordered.iloc[:fit_rows], ordered.iloc[fit_rows:]


def open_past_due(invoices: pd.DataFrame, day: date) -> pd.DataFrame:
    """The invoices of ``invoices`` (training rows, and rows of invoices not paid by the split day)
    that were posted by ``day``, past due on it and not known paid by then, each with
    ``open_days``, the days it had been open: a lower bound of its days to pay. Open invoices
    not yet due say little beyond what the model predicts anyway; taken in too, they pulled it
    toward its own guesses (holdout MAE 6.35 against 6.04 on the 90-day demo world, measured with
    a single stand-in label per invoice)."""
    cut = pd.Timestamp(day)
    posted = pd.to_datetime(invoices["known_on"]) <= cut
    past_due = pd.to_datetime(invoices["due_date"]) < cut
    known_paid = pd.to_datetime(invoices["label_known_on"]) <= cut  # NaT (never paid) is False
    rows = invoices[(posted & past_due & ~known_paid).to_numpy()]
    return rows.assign(open_days=(cut - pd.to_datetime(rows["invoice_date"])).dt.days.astype(float))


def fit_calibrated(
    train: pd.DataFrame, config: "PaymentModelConfig", unpaid: pd.DataFrame | None = None
) -> "tuple[PaymentDateModel, dict[str, object]]":
    """The model fitted on every training row and the invoices ``unpaid`` by the split day (with
    their ``open_days``; ``read_unpaid``), with the widening and confidence a probe fitted on the
    older rows (and the invoices unpaid when those end) showed on the newest, and what that
    calibration saw (for the model's metadata)."""
    from ml_assets.payment_estimators import PaymentDateModel

    censored = unpaid is not None and config.unpaid_rounds > 0
    fit_rows, calibration_rows = calibration_split(train, config.holdout_days, config.min_probe_rows)

    def fitted(paid: pd.DataFrame, open_rows: pd.DataFrame | None) -> PaymentDateModel:
        model = PaymentDateModel(config.max_iter, config.learning_rate)
        return model.fit(paid, paid["days_to_pay"], open_rows, config.unpaid_rounds)  # fit skips 0 rounds

    model = fitted(train, unpaid)
    figures: dict[str, object] = {
        "probe_fit_rows": len(fit_rows),
        "calibration_rows": len(calibration_rows),
        "unpaid_rows": len(unpaid) if censored and unpaid is not None else 0,
    }
    if len(calibration_rows) and len(fit_rows):  # else no widening: the holdout's coverage says what that costs
        labels = calibration_rows["days_to_pay"]
        probe_day = pd.Timestamp(fit_rows["label_known_on"].max()).date()
        probe = fitted(fit_rows, open_past_due(pd.concat([train, unpaid]), probe_day) if censored else None)
        probe.calibrate(calibration_rows, labels)
        model.interval_margin_ = probe.interval_margin_
        model.confidence_widths_, model.confidence_shares_ = probe.confidence_widths_, probe.confidence_shares_
        figures |= {
            "calibration_labels_from": str(pd.Timestamp(calibration_rows["label_known_on"].min()).date()),
            "interval_margin_days": round(float(probe.interval_margin_), 2),
            "calibration_interval_coverage": round(
                interval_coverage(probe, calibration_rows, labels.to_numpy(float)), 4
            ),
        }
    return model, figures


def baselines(X: pd.DataFrame) -> dict[str, np.ndarray]:
    terms = X["terms_days"].to_numpy(float)
    return {
        "due_date": terms,
        "customer_median_delay": terms + X["prior_median_days_late"].fillna(0).to_numpy(float),
    }


def error_metrics(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    error = predicted - actual
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "within_3_days": float(np.mean(np.abs(error) <= WITHIN_DAYS)),
    }


def interval_coverage(model: "PaymentDateModel", X: pd.DataFrame, actual: np.ndarray) -> float:
    low, high = model.predict_interval(X)
    return float(np.mean((actual >= low) & (actual <= high)))


def predictions_frame(model: "PaymentDateModel", features: pd.DataFrame) -> pd.DataFrame:
    """Predicted days, dates, interval and confidence for each row of ``features``."""
    low, high = model.predict_interval(features)
    median = np.clip(model.predict(features), low, high)  # separate quantile models can cross
    posted = pd.to_datetime(features["invoice_date"])

    def date_after(days: np.ndarray) -> pd.Series:
        return (posted + pd.to_timedelta(np.round(days), unit="D")).dt.date

    return pd.DataFrame(
        {
            "predicted_days_to_pay": np.round(median, 1),
            "predicted_payment_date": date_after(median),
            "interval_lower_days": np.round(low, 1),
            "interval_upper_days": np.round(high, 1),
            "interval_lower_date": date_after(low),
            "interval_upper_date": date_after(high),
            "interval_level": INTERVAL[1] - INTERVAL[0],
            "confidence": np.round(model.confidence(features), 4),
        },
        index=features.index,
    )


# -- Dagster assets -------------------------------------------------------------------------


class PaymentModelConfig(TrainingConfig):
    max_iter: int = 200
    learning_rate: float = 0.05
    min_training_rows: int = 300
    # The interval and confidence are calibrated on the newest holdout_days of training labels; a
    # probe fitted on fewer older rows than this takes the older half instead.
    min_probe_rows: int = 100
    # Refits with the invoices open past due when the labels end (censored rows); 0 leaves them out.
    # Each round moves the unpaid invoices' stand-in labels out further; past 3 they overshoot
    # (90-day world with disputes, holdout MAE by rounds 0-3, 5, 8: 8.41, 6.51, 6.31, 6.18, 6.26, 7.00).
    unpaid_rounds: int = 3


TRAINING_SQL = "select * from silver.ml_training_payment_pred"
# Invoices of the training window open past due on its split day (no clearing delivered by then),
# the newest first: the censored rows of a training (open_past_due). Labels are null.
UNPAID_SQL = """
    select f.*, null::date as label_known_on, null::integer as days_to_pay
    from silver.ftr_invoice_at_posting as f
    where f.known_on > ? and f.known_on <= ? and f.due_date < ?
        and f.doc_id not in (
            select doc_id from silver.stg_ar_invoice_history
            where not is_open and is_retracted is not true and valid_from <= ?
        )
    order by f.known_on desc, f.doc_id
    limit ?
"""
# The model sees an invoice as posted, so its prediction is the same on every day the invoice
# stays open: each open invoice is predicted once, in chunks, and the day rows are a join.
OPEN_INVOICES_SQL = """
    select f.* from silver.ftr_invoice_at_posting as f
    where f.doc_id in (select doc_id from silver.ftr_invoice_risk where status = 'open' and as_of_date between ? and ?)
    order by f.doc_id
"""
SCORES_BY_DAY_SQL = """
    select r.as_of_date as score_date, p.doc_id, p.invoice_id, p.customer_number, p.invoice_date, p.due_date,
           r.amount_reporting as open_amount, p.* exclude (doc_id, invoice_id, customer_number, invoice_date, due_date)
    from silver.ftr_invoice_risk as r
    join predicted_invoices as p on p.doc_id = r.doc_id
    where r.status = 'open' and r.as_of_date between ? and ?
"""

SCORES_WRITTEN = WrittenDays("payment_date_scores", "score_date")
# ml.payment_date_scores as SCORES_BY_DAY_SQL writes it, for a window with nothing to score
SCORES_COLUMNS = """score_date date, doc_id bigint, invoice_id double, customer_number varchar, invoice_date timestamp,
    due_date timestamp, open_amount double, predicted_days_to_pay double, predicted_payment_date date,
    interval_lower_days double, interval_upper_days double, interval_lower_date date, interval_upper_date date,
    interval_level double, confidence double, model_name varchar, model_version varchar, predicted_at timestamp"""


def read_unpaid(con, split: TimeSplit, config: PaymentModelConfig) -> pd.DataFrame:
    """UNPAID_SQL for a training's window (as many rows at most as it reads paid ones), with the
    days each had been open on the split day."""
    first = split.cutoff - timedelta(days=config.training_window_days)
    day = split.split_day
    rows = outputs.read(con, UNPAID_SQL, [first, day, day, day, config.max_training_rows])
    return open_past_due(rows, day)


def evaluate(model: "PaymentDateModel", holdout: pd.DataFrame) -> dict[str, float]:
    actual = holdout["days_to_pay"].to_numpy(float)
    return {
        **error_metrics(model.predict(holdout), actual),
        "interval_coverage": interval_coverage(model, holdout, actual),
    }


def build_payment_date_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    model_key = dg.AssetKey(["ml", "payment_date_model"])

    @dg.asset(
        key=model_key,
        deps=[dg.AssetKey(["silver", "ml_training_payment_pred"])],
        check_specs=[dg.AssetCheckSpec(SERVING_CHECK, asset=model_key, description=SERVING_CHECK_DESCRIPTION)],
        kinds={"scikit-learn", "mlflow"},
        **ml_asset_args(
            partitions_def,
            "Payment-date model (days to pay, 80 % interval) trained as of the day; "
            "registered in MLflow, champion only if it beats the champion and both baselines.",
        ),
    )
    def payment_date_model(
        context: dg.AssetExecutionContext, config: PaymentModelConfig, warehouse: DuckDBResource, mlflow: MlflowRun
    ):
        def fit(cutoff: date, split: TimeSplit):
            with warehouse.get_connection() as con:
                unpaid = read_unpaid(con, split, config)
            model, calibration = fit_calibrated(split.train, config, unpaid)
            actual = split.holdout["days_to_pay"].to_numpy(float)
            candidate = Candidate(
                model_name=MODEL_NAME,
                model=model,
                features=split.train[FEATURES],
                metrics=evaluate(model, split.holdout),
                primary="mae",
                lower_is_better=True,
                baselines={name: error_metrics(pred, actual) for name, pred in baselines(split.holdout).items()},
                champion=lambda champion: evaluate(champion, split.holdout),
                row_losses=lambda m: np.abs(m.predict(split.holdout) - actual),  # the MAE per row
                baseline_row_losses={name: np.abs(pred - actual) for name, pred in baselines(split.holdout).items()},
                minimum=config.minimum(),
                reports=calibration,
                params={
                    "max_iter": config.max_iter,
                    "learning_rate": config.learning_rate,
                    "holdout_days": config.holdout_days,
                    "min_probe_rows": config.min_probe_rows,
                    "unpaid_rounds": config.unpaid_rounds,
                    "quantiles": str(QUANTILES),
                    "features": ",".join(FEATURES),
                },
            )
            # the serving baseline of this training, for the scores asset while no model has beaten it
            baseline = fit_serving_baseline(split)
            assert baseline is not None, "a training has labelled rows (too_little_data returned earlier)"
            yield from gate_and_report(context, candidate, split, cutoff, baseline.params())

        yield from trained_or_kept(context, config, fit, [MODEL_NAME], warehouse, TRAINING_SQL)

    @dg.asset(
        key=["ml", "payment_date_scores"],
        deps=[
            model_key,
            dg.AssetKey(["silver", "ftr_invoice_risk"]),
            dg.AssetKey(["silver", "ftr_invoice_at_posting"]),
        ],
        kinds={"scikit-learn", "duckdb"},
        **ml_asset_args(
            partitions_def,
            "Predicted payment date, 80 % interval and confidence of every invoice open at "
            "the end of each day, from the champion serving that day; table ml.payment_date_scores.",
        ),
    )
    def payment_date_scores(context: dg.AssetExecutionContext, warehouse: DuckDBResource, mlflow: MlflowRun):
        written = 0
        with warehouse.get_connection() as con:
            for serving in serving_plan(context, model_key):
                rows, metadata = _score_days(context, con, serving)
                written += rows
                record_days(context, con, SCORES_WRITTEN, serving, metadata)
        context.log.info(f"{written} rows of ml.payment_date_scores written for {context.partition_key_range}.")
        return dg.MaterializeResult()

    return [payment_date_model, payment_date_scores]


def _score_days(context, con, serving: Serving) -> tuple[int, dict]:
    """Score the open invoices of the days ``serving`` covers with the model that served them;
    the rows written and what scored them."""
    first, last = serving.window.first, serving.window.last
    served = _serving_model(context, serving, con)
    if served is None:  # no paid invoice known yet: nothing to predict from, so no guess is written
        outputs.clear_days(con, "payment_date_scores", SCORES_COLUMNS, "score_date", first, last)
        reason = f"No paid invoice known by {last}: no payment date is predicted until one is."
        context.log.info(reason)
        return 0, {"model_version": "none", "unscored_reason": reason}
    model, version, scored_with = served
    stamp = {
        "model_name": MODEL_NAME,
        "model_version": version,
        "predicted_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
    }

    def predict(features: pd.DataFrame) -> pd.DataFrame:
        ids = features[["doc_id", "invoice_id", "customer_number", "invoice_date", "due_date"]]
        return pd.concat([ids, predictions_frame(model, features)], axis=1).assign(**stamp)

    if outputs.stage_in_chunks(con, OPEN_INVOICES_SQL, [first, last], predict, "predicted_invoices"):
        written = outputs.replace_days_with(
            con, "payment_date_scores", SCORES_BY_DAY_SQL, [first, last], "score_date", first, last
        )
    else:
        written = outputs.clear_days(con, "payment_date_scores", SCORES_COLUMNS, "score_date", first, last)
    return written, {"model_version": version, "scored_with": scored_with}


def _serving_model(context, serving: Serving, con) -> "tuple[PaymentDateModel, str, str] | None":
    """The champion that served the days (serving.py); while no model had beaten the baselines,
    the customer-median baseline (``baseline:customer_median_delay``) the training in force
    fitted, else fitted here on the labels known by the last day; so open invoices have a
    predicted payment date from the first paid invoice on. None before that. Also says what scored
    (logged as information: the baseline serves a young ledger by design)."""
    from ml_assets.payment_estimators import CustomerMedianBaseline

    loaded = serving.load(MODEL_NAME)
    if loaded is not None:
        model, version = loaded
        return model, version, serving.scored_with()
    version = "baseline:customer_median_delay"
    context.log.info(f"No champion for {MODEL_NAME} on {serving.window.label()}: scoring with {version}.")
    if serving.baseline is not None:
        return CustomerMedianBaseline.from_params(serving.baseline), version, serving.baseline_source()
    last = serving.window.last
    split = training_split(con, TRAINING_SQL, last, PaymentModelConfig(), CustomerMedianBaseline.COLUMNS)
    baseline = fit_serving_baseline(split)
    return (baseline, version, f"baseline fitted on the labels known by {last}") if baseline else None


def __getattr__(name: str):
    """The model classes by their old address: champions logged when they were defined here name
    ``ml_assets.payment_date.PaymentDateModel``, and loading one looks it up on this module."""
    if name in {"PaymentDateModel", "CustomerMedianBaseline"}:
        from ml_assets import payment_estimators

        return getattr(payment_estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
