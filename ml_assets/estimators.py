"""Gradient-boosted trees over the silver features: categories encoded, missing values kept.

Unknown categories at scoring time and missing features (a customer without history)
are what the boosters' native missing-value handling is for, so nothing is imputed.
"""

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OrdinalEncoder

# What MLflow's skops format must be told to load back: the boosters' tree predictors and
# helpers, and our own model class. Only models this platform trained are loaded.
TRUSTED_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "ml_assets.payment_date.PaymentDateModel",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]
CALIBRATION_FOLDS = 5


def _encoded(categorical: list[str], booster) -> Pipeline:
    """Categorical columns first (ordinal codes, unknown and missing as -1), then the rest as they are."""
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1),
                categorical,
            )
        ],
        remainder="passthrough",
    )
    booster.set_params(categorical_features=list(range(len(categorical))), random_state=0)
    return make_pipeline(encode, booster)


def boosted_classifier(categorical: list[str], max_iter: int, learning_rate: float) -> Pipeline:
    return _encoded(categorical, HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate))


def calibrated_classifier(categorical: list[str], max_iter: int, learning_rate: float, label: np.ndarray):
    """The booster, its probabilities calibrated: fitted on every training row, with a sigmoid
    (Platt) map fitted on its out-of-fold predictions over ``CALIBRATION_FOLDS`` folds. A booster's
    raw probabilities are sharp on rows like its training rows (a customer with two late invoices
    out of two), and the worklist ranks by probability x amount, so a probability must mean what
    it says. Sigmoid, not isotonic: the labels are a few hundred rows with tens of positives, too
    few for a step function. With a class rarer than two rows, the booster's own probabilities."""
    booster = boosted_classifier(categorical, max_iter, learning_rate)
    folds = min(CALIBRATION_FOLDS, int(np.bincount(label, minlength=2).min()))
    if folds < 2:
        return booster
    return CalibratedClassifierCV(booster, method="sigmoid", cv=folds, ensemble=False)


def calibration_of(model) -> str:
    """How a classifier's probabilities were calibrated, for its MLflow parameters."""
    if isinstance(model, CalibratedClassifierCV):
        return f"sigmoid on {model.cv}-fold out-of-fold predictions"
    return "none: a class rarer than two training rows"


def boosted_quantile_regressor(
    categorical: list[str], quantile: float, max_iter: int, learning_rate: float
) -> Pipeline:
    return _encoded(
        categorical,
        HistGradientBoostingRegressor(
            loss="quantile", quantile=quantile, max_iter=max_iter, learning_rate=learning_rate
        ),
    )
