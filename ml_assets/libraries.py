"""The libraries the ML steps load when they first run, not with the code location (the code
server and every sensor tick stay light). A run that builds the daily models loads them in the
background while dbt works (smepulse_lib/background_imports.py), so its ML steps find them loaded."""

ML_STEP_MODULES = (
    "sklearn.ensemble",
    "sklearn.metrics",
    "skops.io",  # how the classifiers are stored; its import lists scikit-learn's types (1.5 s idle, 3.7 s busy)
    "mlflow.sklearn",
    "mlflow.pyfunc",
    "mlflow.models",
    "mlflow.tracking",
    "statsmodels.tsa.statespace.sarimax",
    "statsmodels.iolib.smpickle",
    "ml_assets.estimators",
    "ml_assets.payment_estimators",
    "ml_assets.cash_forecaster_model",
)
