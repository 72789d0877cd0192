"""The cash forecaster as MLflow logs it: a ``PythonModel`` around a stream's fitted SARIMAX.

Logged as MLflow's "model from code": the model is built by ``cash_forecaster_code.py`` when it
loads, and the fitted parameters travel as an artifact saved by statsmodels (no Python object
pickled by MLflow, which warns on every log that such a model is unsafe to load). Its own module
because it imports MLflow, which loading the definitions does not (the cash forecast asset
imports it when it trains or scores).
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.pyfunc import PythonModel

from ml_assets.cashflow import forecast

SARIMAX_ARTIFACT = "sarimax"
MODEL_CODE = Path(__file__).with_name("cash_forecaster_code.py")


class CashInForecaster(PythonModel):
    """A stream's fitted parameters behind MLflow's generic interface: ``mlflow.pyfunc.load_model``
    gives a model that predicts from a frame of the stream's days, ``cash_in`` given for the
    observed days and empty for the days to forecast, with the calendar regressors (EXOG) on every
    day. It applies the parameters to the observed days, as the platform's scoring does, and
    returns each empty day's cash-in with its 80 % and 95 % bands. (statsmodels' own flavor
    predicts by start and end index only: it cannot take the regressors.)"""

    def load_context(self, context) -> None:
        from statsmodels.iolib.smpickle import load_pickle

        self.results = load_pickle(context.artifacts[SARIMAX_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        days = model_input.reset_index(drop=True)
        observed = days["cash_in"].notna()
        return forecast(self.results, days[observed], days[~observed])


@dataclass(frozen=True)
class LoggedForecaster:
    """A candidate cash forecaster as ``tracking.log_model`` logs it: the model code and the fitted
    parameters, saved for the log and removed after it."""

    results: Any

    def log(self, **options):
        with tempfile.TemporaryDirectory() as folder:
            saved = Path(folder) / "sarimax.pickle"
            self.results.save(str(saved))
            return mlflow.pyfunc.log_model(
                python_model=str(MODEL_CODE), artifacts={SARIMAX_ARTIFACT: str(saved)}, **options
            )


def fitted_parameters(model):
    """The SARIMAX results inside a champion loaded with ``mlflow.pyfunc``: the wrapper's, or, for a
    version logged before it, statsmodels' own flavor's."""
    try:
        return model.get_raw_model()
    except NotImplementedError:
        return model.unwrap_python_model().results
