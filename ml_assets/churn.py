"""Churn risk: which active SME accounts will stop ordering.

Rows are ``silver.ml_training_churn``: every account with orders in the last 365 days,
each day, with its behaviour features as of that day and the label "no order within
``churn_horizon_days``" once known. Training takes one row per account and week
(Mondays). Baselines: the churn rate of accounts with similar recency in training
(the simple rule an analyst would use), and the overall rate.
"""

import pandas as pd

from ml_assets.classifiers import ClassifierSpec, sql_number

MODEL_NAME = "smepulse_churn"
RECENCY_BANDS = [-1, 7, 14, 30, 60, 120, 10_000]


SERVING_BASELINE = "recency_rate"  # scores until a model beats it


def _recency_band(rows: pd.DataFrame) -> pd.Series:
    return pd.cut(rows["recency_days"], RECENCY_BANDS, labels=False)  # band index; NaN outside the bands


def _fit_baselines(labelled: pd.DataFrame) -> dict:
    label = labelled["churned"].astype(float)
    rate_by_band = label.groupby(_recency_band(labelled)).mean()
    # one rate per band (None where training had no account in it), so the fit is plain JSON
    rates = [
        float(rate_by_band[band]) if band in rate_by_band.index else None for band in range(len(RECENCY_BANDS) - 1)
    ]
    return {"prior": float(label.mean()), "rate_by_band": rates}


def _baselines(fitted: dict) -> dict[str, str]:
    prior = sql_number(fitted["prior"])
    # the bands as pd.cut makes them, (low, high]; outside every band, or a band training never saw: the prior
    bands = " ".join(
        f"when recency_days > {low} and recency_days <= {high} then {sql_number(rate)}"
        for low, high, rate in zip(RECENCY_BANDS, RECENCY_BANDS[1:], fitted["rate_by_band"], strict=False)
        if rate is not None
    )
    return {"recency_rate": f"case {bands} else {prior} end" if bands else prior, "overall_rate": prior}


SPEC = ClassifierSpec(
    model_name=MODEL_NAME,
    name="churn",
    source="ml_training_churn",
    training_sql="select * from silver.ml_training_churn where extract(isodow from as_of_date) = 1",
    scoring_sql="select * from silver.ml_training_churn where as_of_date between ? and ?",
    label="churned",
    categorical=["account_segment"],
    numeric=[
        "customer_age_days",
        "recency_days",
        "frequency_ltm",
        "monetary_ltm_vnd",
        "avg_order_value_vnd",
        "payment_completion_rate",
        "payments_failed_ltm",
        "payments_pending",
        "order_days_last_30",
        "order_days_prior_30",
    ],
    id_columns=["as_of_date", "customer_code", "recency_days"],
    probability_column="churn_probability",
    fit_baselines=_fit_baselines,
    baselines=_baselines,
    serving_baseline=SERVING_BASELINE,
    description="Churn risk: P(an active account places no order within the churn horizon).",
)
