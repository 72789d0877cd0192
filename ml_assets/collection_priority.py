"""Collection priority: which open invoices will be paid more than 30 days late.

Rows are ``silver.ml_training_ar_scoring``: an open invoice on a day, at most 30 days
past due, with its features as of posting, its state that day and its customer's
record to date. The classifier gives P(paid > 30 days late); invoices already more
than 30 days past due are late by definition (probability 1, no model). Gold ranks
probability x open amount into the worklist (score_ar_priority, ar_collection_worklist).
Training takes one row per invoice and week of its open life (age divisible by 7),
so a long-open invoice does not outweigh the rest. Baselines: the customer's
historical share of invoices paid more than 30 days late, shrunk toward the overall rate
when its record is short, and the overall rate.
"""

import numpy as np
import pandas as pd

from ml_assets.classifiers import ClassifierSpec, sql_number

MODEL_NAME = "smepulse_ar_priority"
KNOWN_LATE_VERSION = "rule:past_due_over_30"
ID_COLUMNS = ["as_of_date", "doc_id", "invoice_id", "customer_number", "open_amount", "days_past_due"]

# Open invoices beyond 30 days past due: already late, no model needed. A double, not a bare 1.0
# (a DECIMAL(2,1)): the day that first writes the scores table may hold only these rows.
KNOWN_LATE_SQL = f"""
    select r.as_of_date, r.doc_id, r.invoice_id, r.customer_number, r.amount_reporting as open_amount, r.days_past_due,
           1.0::double as probability_over_30_late, '{KNOWN_LATE_VERSION}' as model_version
    from silver.ftr_invoice_risk as r
    where r.status = 'open' and r.days_past_due > 30 and r.as_of_date between ? and ?
"""


SERVING_BASELINE = "customer_history"  # scores until a model beats it

# The scoring rows of silver.ml_training_ar_scoring (open, at most 30 days past due) with the id
# columns and the customer's history alone, from the two tables they come from: the view's label
# and customer-to-date joins were two thirds of the baseline's scoring (docs/benchmarks.md).
BASELINE_ROWS_SQL = """
    select r.as_of_date, r.doc_id, f.invoice_id, f.customer_number, r.amount_reporting as open_amount, r.days_past_due,
           f.prior_share_over_30_late, f.prior_paid_invoices
    from silver.ftr_invoice_risk as r
    join silver.ftr_invoice_at_posting as f on f.doc_id = r.doc_id
    where r.status = 'open' and r.days_past_due <= 30 and r.as_of_date between ? and ?
"""


# How many invoices' worth of the overall rate a customer's own record is blended with (a beta
# prior): with two invoices, both late, the raw share says "certainly late again" (1.00), which
# ranked a not-yet-due invoice fourth on the worklist. The training picks the strength that
# predicts its own rows best (Brier score), from these.
PRIOR_STRENGTHS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def shrunk_share(share: np.ndarray, paid: np.ndarray, prior: float, strength: float) -> np.ndarray:
    """The customer's share of invoices paid > 30 days late, shrunk toward the overall rate:
    (late + strength x prior) / (paid + strength); the prior alone without paid invoices."""
    late = np.nan_to_num(share) * paid
    return np.where(paid > 0, (late + strength * prior) / (paid + strength), prior)


def _fit_baselines(labelled: pd.DataFrame) -> dict:
    label = labelled["paid_over_30_late"].astype(int).to_numpy(float)
    prior = float(label.mean()) if len(label) else 0.0
    share = labelled["prior_share_over_30_late"].to_numpy(float)
    paid = labelled["prior_paid_invoices"].fillna(0).to_numpy(float)

    def brier(strength: float) -> float:
        return float(np.mean((shrunk_share(share, paid, prior, strength) - label) ** 2)) if len(label) else 0.0

    return {"prior": prior, "strength": min(PRIOR_STRENGTHS, key=brier)}


def _baselines(fitted: dict) -> dict[str, str]:
    prior = sql_number(fitted["prior"])
    strength = sql_number(fitted.get("strength", 0.0))  # 0: a baseline fitted before shrinkage, the raw share
    shrunk = (
        f"(prior_share_over_30_late * prior_paid_invoices + {strength} * {prior}) / (prior_paid_invoices + {strength})"
    )
    return {"customer_history": f"coalesce({shrunk}, {prior})", "overall_rate": prior}


SPEC = ClassifierSpec(
    model_name=MODEL_NAME,
    name="ar_priority",
    source="ml_training_ar_scoring",
    training_sql="select * from silver.ml_training_ar_scoring where invoice_age_days % 7 = 0",
    scoring_sql="select * from silver.ml_training_ar_scoring where as_of_date between ? and ?",
    label="paid_over_30_late",
    # an invoice's weekly rows share its label: random calibration folds leaked it (estimators.py)
    calibration_groups="doc_id",
    categorical=["business_code", "currency", "payment_terms"],
    numeric=[
        "days_past_due",
        "invoice_age_days",
        "terms_days",
        "log_amount",
        "due_day_of_week",
        "prior_invoices",
        "prior_paid_invoices",
        "prior_median_days_late",
        "prior_mean_days_late",
        "prior_sd_days_late",
        "prior_share_over_30_late",
        "open_invoices_at_posting",
        "open_amount_at_posting",
        "prior_recent_days_late",
        "amount_vs_usual",
        "overdue_invoices_at_posting",
        "overdue_amount_at_posting",
        "overdue_mean_days_past_due",
        "customer_completion_rate_to_date",
        "customer_avg_days_late_to_date",
        "customer_open_amount_to_date",
        "is_disputed",
        "is_paperless",
    ],
    id_columns=ID_COLUMNS,
    probability_column="probability_over_30_late",
    fit_baselines=_fit_baselines,
    baselines=_baselines,
    serving_baseline=SERVING_BASELINE,
    description="Collection priority: P(an open invoice is paid more than 30 days late).",
    rule_sql=KNOWN_LATE_SQL,
    baseline_rows_sql=BASELINE_ROWS_SQL,
)
