"""ML figures on a materialized data directory (run `make demo` or `smepulse demo --days N` first).

Prints, for the newest training of each model in the MLflow store: holdout metrics of the
model, its baselines and the champion it was compared with; for the payment-date model
also the generator's irreducible error on the same holdout invoices (its true expected
delay is known, see smepulse_assets/tools/generator/payment_model.py); and the time one
training and one day's scoring take, measured by running the assets again.

    .venv/bin/python benchmarks/ml.py [--days 90] [--start YYYY-MM-DD (default: where the data starts)]
"""

import argparse
import os
import time
from datetime import date, timedelta

import dagster as dg
import numpy as np
from mlflow.tracking import MlflowClient

from ml_assets.tracking import EXPERIMENT
from smepulse_assets.definitions import build_defs
from smepulse_assets.tools.generator import GeneratorConfig, generate_invoice_snapshot
from smepulse_assets.tools.generator.payment_model import expected_delay_days, roll_off_weekend
from smepulse_lib import warehouse
from smepulse_lib.names import ML_JOB
from smepulse_lib.settings import Settings


def newest_runs(client: MlflowClient) -> dict[str, dict]:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=200)
    newest = {}
    for run in runs:
        name = run.data.tags.get("model_name")
        if name and name not in newest:
            newest[name] = {"metrics": run.data.metrics, "tags": run.data.tags, "params": run.data.params}
    return newest


def irreducible_error(settings: Settings, config: GeneratorConfig, split_day: str, cutoff: str) -> dict[str, float]:
    """MAE / RMSE / within ±3 days of the generator's own expected payment day on the holdout invoices."""
    snapshot = generate_invoice_snapshot(config)
    habits = {c.cust_number: c.habit for c in snapshot.customers}
    holdout = warehouse.query(
        settings.warehouse_path,
        "select doc_id, payment_date from silver.ml_training_payment_pred where label_known_on > ? and "
        "label_known_on <= ?",
        [split_day, cutoff],
    )
    errors = []
    for doc_id, paid in holdout.itertuples(index=False):
        customer, amount, posting, due = snapshot.truth[int(doc_id)]
        expected = due + timedelta(days=round(expected_delay_days(habits[customer], amount, due)))
        paid_day = paid.date() if hasattr(paid, "date") else paid
        errors.append((roll_off_weekend(max(expected, posting)) - paid_day).days)
    error = np.array(errors, dtype=float)
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "within_3_days": float(np.mean(np.abs(error) <= 3)),
        "invoices": len(error),
    }


def time_assets(defs: dg.Definitions, day: date) -> dict[str, float]:
    job = defs.resolve_job_def(ML_JOB)
    timings = {}
    with dg.DagsterInstance.get() as instance:
        for key in (
            ["ml", "payment_date_model"],
            ["ml", "payment_date_scores"],
            ["ml", "ar_priority_model"],
            ["ml", "churn_model"],
            ["ml", "cashflow_model"],
            ["ml", "cashflow_forecast"],
            ["ml", "transaction_anomalies"],
        ):
            started = time.perf_counter()
            job.execute_in_process(
                instance=instance, partition_key=f"{day}", asset_selection=[dg.AssetKey(key)], raise_on_error=False
            )
            timings["/".join(key)] = round(time.perf_counter() - started, 2)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    settings = Settings.from_env()
    # the data directory's own world: `make demo` records where its data starts
    parser.add_argument("--start", type=date.fromisoformat, default=date.fromisoformat(settings.partitions_start))
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    os.environ.setdefault("DAGSTER_HOME", settings.dagster_home)  # the instance the demo materialized into
    client = MlflowClient(settings.mlflow_tracking_uri)
    runs = newest_runs(client)
    for name, run in sorted(runs.items()):
        figures = {k: round(v, 4) for k, v in sorted(run["metrics"].items())}
        print(
            f"\n{name}  (train labels through {run['tags'].get('window.train_labels_through')}, "
            f"holdout to {run['tags'].get('window.holdout_labels_through')}, rows {run['params'].get('train_rows')}/"
            f"{run['params'].get('holdout_rows')}; {run['tags'].get('promotion')})"
        )
        for key, value in figures.items():
            print(f"  {key:<45} {value}")
    payment = runs.get("smepulse_payment_date")
    if payment:
        config = GeneratorConfig(start=args.start, end=args.start + timedelta(days=args.days - 1))
        truth = irreducible_error(
            settings,
            config,
            payment["tags"]["window.train_labels_through"],
            payment["tags"]["window.holdout_labels_through"],
        )
        print(f"\ngenerator's irreducible error on the same holdout: {truth}")
    print(
        "\ntimings (s), one day, each asset alone:",
        time_assets(build_defs(settings), args.start + timedelta(days=args.days - 1)),
    )


if __name__ == "__main__":
    main()
