"""Gradient-boosted trees over the silver features: categories encoded, missing values kept.

Unknown categories at scoring time and missing features (a customer without history)
are what the boosters' native missing-value handling is for, so nothing is imputed.
"""

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
]


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


def boosted_quantile_regressor(
    categorical: list[str], quantile: float, max_iter: int, learning_rate: float
) -> Pipeline:
    return _encoded(
        categorical,
        HistGradientBoostingRegressor(
            loss="quantile", quantile=quantile, max_iter=max_iter, learning_rate=learning_rate
        ),
    )
