"""SME Pulse machine learning: trained from silver, served through gold.

Models are assets (train, evaluate on a time holdout, register in MLflow, promote a
champion), their evaluations are asset checks, and their scores are assets written to
the warehouse's ``ml`` schema, which gold's ``score_*`` models read as a dbt source.
"""

from smepulse_lib.native_threads import limit_loaded_libraries, limit_native_threads

limit_native_threads()  # before scikit-learn loads (an entry point may import this package first)

import dagster as dg

from ml_assets import churn, collection_priority
from ml_assets.anomalies import build_anomaly_assets
from ml_assets.ar_collections import build_ar_collections_assets
from ml_assets.cash_position import CashPolicy, build_cash_position_assets
from ml_assets.cashflow import build_cashflow_assets
from ml_assets.classifiers import build_classifier_assets
from ml_assets.monitoring import build_monitoring_assets
from ml_assets.payment_date import build_payment_date_assets
from ml_assets.run_hooks import end_mlflow_run_hooks
from ml_assets.tracking import mlflow_resource

__all__ = ["CashPolicy", "build_ml_assets", "end_mlflow_run_hooks", "mlflow_resource"]


def build_ml_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    limit_loaded_libraries()  # numpy and scikit-learn are loaded by now, whoever loaded them first
    return [
        *build_payment_date_assets(partitions_def),
        *build_classifier_assets(collection_priority.SPEC, partitions_def),
        *build_classifier_assets(churn.SPEC, partitions_def),
        *build_cashflow_assets(partitions_def),
        *build_cash_position_assets(partitions_def),
        *build_ar_collections_assets(partitions_def),
        *build_anomaly_assets(partitions_def),
        *build_monitoring_assets(partitions_def),
    ]
