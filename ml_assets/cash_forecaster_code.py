"""The model code MLflow runs when it loads a logged cash forecaster (MLflow's "models from code"):
it names the model; the fitted parameters come from the logged artifact."""

from mlflow.models import set_model

from ml_assets.cash_forecaster_model import CashInForecaster

set_model(CashInForecaster())
