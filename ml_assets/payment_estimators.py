"""The payment-date model classes (see ``payment_date`` for what they predict and how they are
trained, gated and served). Apart from the assets' module so that loading the code location does
not load scikit-learn and SciPy (~1 s of every daemon-launched run's start); champions logged when
the classes lived in ``payment_date`` load through its module ``__getattr__``."""

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin

from ml_assets.estimators import boosted_quantile_regressor, input_columns
from ml_assets.payment_date import (
    CATEGORICAL,
    FEATURES,
    INTERVAL,
    INTERVAL_SDS,
    QUANTILES,
    WITHIN_DAYS,
    baselines,
    conformal_margin,
)


class PaymentDateModel(BaseEstimator, RegressorMixin):
    """Median and interval of days to pay; ``predict`` returns the median."""

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.05):
        self.max_iter, self.learning_rate = max_iter, learning_rate

    def fit(self, X: pd.DataFrame, days_to_pay: pd.Series, unpaid: pd.DataFrame | None = None, rounds: int = 3):
        """Fit on the paid invoices ``X``; with ``unpaid`` (rows of invoices still open after
        ``open_days`` days, see ``open_past_due``), refit ``rounds`` times on both, each unpaid
        invoice taken, for each quantile, at that quantile of its days to pay given that it was
        still open (Buckley-James for censored regression, per quantile)."""
        paid = days_to_pay.to_numpy(float)
        censored = unpaid is not None and len(unpaid) > 0 and rounds > 0
        # the fits before the last only make stand-in labels: half the trees at twice the rate
        self._fit_boosters(X, dict.fromkeys(QUANTILES, paid), quick=censored)
        if censored:
            rows = pd.concat([X, unpaid], ignore_index=True)
            for round_ in range(1, rounds + 1):
                labels = {q: np.concatenate([paid, days]) for q, days in self.days_given_open(unpaid).items()}
                self._fit_boosters(rows, labels, quick=round_ < rounds)
        return self.fit_defaults()

    def _fit_boosters(self, X: pd.DataFrame, days_to_pay: dict[float, np.ndarray], quick: bool = False) -> None:
        """One booster per quantile, each on its own labels (they differ only for unpaid rows)."""
        terms = X["terms_days"].to_numpy(float)
        self.overall_days_late_ = float(np.median(days_to_pay[0.5] - terms))
        anchor = terms + self._anchor(X)
        trees, rate = self.max_iter, self.learning_rate
        if quick:
            trees, rate = max(trees // 2, 1), 2 * rate
        self.models_ = {
            q: boosted_quantile_regressor(CATEGORICAL, q, trees, rate).fit(X[FEATURES], days_to_pay[q] - anchor)
            for q in QUANTILES
        }

    def days_given_open(self, unpaid: pd.DataFrame) -> dict[float, np.ndarray]:
        """Each of QUANTILES of the days to pay of invoices known to be unpaid after ``open_days``:
        the model's distribution (normal, its median and the spread of its interval) cut below at
        the bound. Always past the bound, and near the model's own where the bound says little.
        The boosters predict once for all three."""
        median = self._days(unpaid, 0.5)
        spread = np.maximum((self._days(unpaid, INTERVAL[1]) - self._days(unpaid, INTERVAL[0])) / INTERVAL_SDS, 1.0)
        bound = unpaid["open_days"].to_numpy(float)
        tail = norm.sf(np.clip((bound - median) / spread, -30, 30))  # P(paid after the bound)
        return {q: np.maximum(median + spread * norm.isf(tail * (1 - q)), bound + 1) for q in QUANTILES}

    def _anchor(self, X: pd.DataFrame) -> np.ndarray:
        """The days late the boosters correct: the customer's median, else the training's overall
        median. A model fitted before the anchor predicted days late outright (0)."""
        overall = getattr(self, "overall_days_late_", None)
        if overall is None:
            return np.zeros(len(X))
        return X["prior_median_days_late"].fillna(overall).to_numpy(float)

    def fit_defaults(self):
        """No widening and an uninformed confidence until ``calibrate`` sees held-out invoices."""
        self.interval_margin_ = 0.0
        self.confidence_widths_ = np.array([0.0])
        self.confidence_shares_ = np.array([0.5])
        return self

    def _days(self, X: pd.DataFrame, quantile: float) -> np.ndarray:
        booster = self.models_[quantile]
        correction = booster.predict(X[input_columns(booster, FEATURES)])
        return X["terms_days"].to_numpy(float) + self._anchor(X) + correction

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._days(X, 0.5)

    def predict_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The boosters' 80 % interval moved out by the conformal margin; a negative margin
        narrows it, but never past the median."""
        low, high = self._days(X, INTERVAL[0]), self._days(X, INTERVAL[1])
        low, high = np.minimum(low, high) - self.interval_margin_, np.maximum(low, high) + self.interval_margin_
        median = self._days(X, 0.5)
        return np.minimum(low, median), np.maximum(high, median)

    def calibrate(self, X: pd.DataFrame, days_to_pay: pd.Series, bins: int = 5):
        """On held-out invoices: move the interval's ends out or in until it covers its nominal
        share (conformalized quantile regression), then map interval width to the observed share
        paid within ±3 days (the confidence). The margin may be negative: on long histories the
        boosters' own interval over-covers (86 % of the 520-day world's calibration rows), and
        a margin floored at 0 could only widen it."""
        actual = days_to_pay.to_numpy(float)
        self.interval_margin_ = 0.0
        low, high = self.predict_interval(X)
        self.interval_margin_ = conformal_margin(np.maximum(low - actual, actual - high), INTERVAL[1] - INTERVAL[0])
        low, high = self.predict_interval(X)
        hit = np.abs(self.predict(X) - days_to_pay.to_numpy(float)) <= WITHIN_DAYS
        frame = pd.DataFrame({"width": high - low, "hit": hit})
        frame["bin"] = pd.qcut(frame["width"], q=min(bins, frame["width"].nunique()), duplicates="drop")
        grouped = frame.groupby("bin", observed=True).agg(width=("width", "median"), share=("hit", "mean"))
        self.confidence_widths_ = grouped["width"].to_numpy(float)
        self.confidence_shares_ = grouped["share"].to_numpy(float)
        return self

    def confidence(self, X: pd.DataFrame) -> np.ndarray:
        low, high = self.predict_interval(X)
        order = np.argsort(self.confidence_widths_)
        shares = np.interp(high - low, self.confidence_widths_[order], self.confidence_shares_[order])
        return np.clip(shares, 0.0, 1.0)


class CustomerMedianBaseline(PaymentDateModel):
    """The "customer's historical median delay" baseline in the model's interface, so it can serve
    while no model has beaten it: median = terms + the customer's median days late; the interval
    is that plus the 10th / 90th percentile of its errors on labelled invoices; confidence is
    calibrated like the model's."""

    # all it reads of a training row, when it is fitted outside a training
    COLUMNS = "label_known_on, days_to_pay, terms_days, prior_median_days_late"

    def fit(self, X: pd.DataFrame, days_to_pay: pd.Series, unpaid: pd.DataFrame | None = None, rounds: int = 0):
        """The offsets of the paid invoices' errors; a customer's median reads no unpaid rows."""
        self.fit_defaults()
        errors = days_to_pay.to_numpy(float) - self._median_days(X)
        self.offsets_ = {q: float(np.quantile(errors, q)) if len(errors) else 0.0 for q in INTERVAL}
        self.offsets_[0.5] = 0.0
        return self

    @staticmethod
    def _median_days(X: pd.DataFrame) -> np.ndarray:
        return baselines(X)["customer_median_delay"]

    def _days(self, X: pd.DataFrame, quantile: float) -> np.ndarray:
        return self._median_days(X) + self.offsets_[quantile]

    def params(self) -> dict:
        """What it learned, as JSON: the model asset's metadata keeps it for the scores asset."""
        return {
            "offsets": [[q, v] for q, v in self.offsets_.items()],
            "interval_margin": self.interval_margin_,
            "confidence_widths": self.confidence_widths_.tolist(),
            "confidence_shares": self.confidence_shares_.tolist(),
        }

    @classmethod
    def from_params(cls, params: dict) -> "CustomerMedianBaseline":
        baseline = cls()
        baseline.offsets_ = {float(q): float(v) for q, v in params["offsets"]}
        baseline.interval_margin_ = float(params["interval_margin"])
        baseline.confidence_widths_ = np.array(params["confidence_widths"], dtype=float)
        baseline.confidence_shares_ = np.array(params["confidence_shares"], dtype=float)
        return baseline
