"""ML figures on a materialized data directory (run `make demo` or `smepulse demo --days N` first).

Prints, for the newest training of each model in the MLflow store: holdout metrics of the
model, its baselines and the champion it was compared with (with the gate's intervals and the
payment interval's calibration); for the payment-date model the generator's irreducible error
on the same holdout invoices (its true expected delay is known, see
smepulse_assets/tools/generator/payment_model.py) beside the model's and the customer median's,
over all invoices and for those due while their customer's habit had drifted, and what the
invoices of customers without a known payment leave of the 1.5x target; the cash-in
forecast's weekly MAPE over its first 8 weeks against seasonal naive's, and the cash position's
balance error and 80 % band coverage by week ahead, on every day whose weeks the statement has
since covered; and the time one training and one day's scoring take, measured by running the
assets again (each model trains as of the last day and goes through the gate, so it may promote;
--skip-timings leaves the MLflow store as it is).

    .venv/bin/python benchmarks/ml.py [--start YYYY-MM-DD] [--days N] (default: the data directory's world)
        [--disputed-share S] [--month-end-share S] (as the world was made with: the noise floor needs them)
"""

import argparse
import os
import time
from datetime import date, timedelta

import dagster as dg
import duckdb
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from ml_assets import collection_priority
from ml_assets.classifiers import ClassifierConfig, baseline_probabilities, expected_calibration_error, probabilities
from ml_assets.outputs import as_model_frame
from ml_assets.payment_date import baselines
from ml_assets.tracking import EXPERIMENT
from ml_assets.training import training_split
from smepulse_assets.definitions import build_defs
from smepulse_assets.tools.generator import GeneratorConfig, generate_invoice_snapshot
from smepulse_assets.tools.generator.payment_model import TYPICAL_DISPUTE_DAYS, expected_clearing_date
from smepulse_lib import warehouse
from smepulse_lib.names import ML_JOB
from smepulse_lib.settings import Settings


def newest_runs(client: MlflowClient) -> dict[str, dict]:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    # every run: a range run trains each model at its cadence, so one model's newest run can sit
    # behind hundreds of the others' (the 520-day world's collection priority fell out of 200)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=50_000)
    newest = {}
    for run in runs:
        name = run.data.tags.get("model_name")
        if name and name not in newest:
            newest[name] = {
                "run_id": run.info.run_id,
                "metrics": run.data.metrics,
                "tags": run.data.tags,
                "params": run.data.params,
            }
    return newest


def _errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    error = np.asarray(predicted, float) - np.asarray(actual, float)
    return {
        "mae": round(float(np.mean(np.abs(error))), 3),
        "within_3_days": round(float(np.mean(np.abs(error) <= 3)), 3),
    }


def payment_breakdown(settings: Settings, config: GeneratorConfig, run: dict) -> dict[str, dict]:
    """On the newest payment-date training's holdout invoices: the generator's irreducible error
    (its own expected payment day, a disputed invoice's with the typical dispute length, since its
    own is drawn like the noise; the noise floor), the model's and the customer-median
    baseline's, over all invoices and apart for those that fell due while their customer went
    through its stretch of late paying (payment_model.py), where a long-run median lags."""
    snapshot = generate_invoice_snapshot(config)
    habits = {c.cust_number: c.habit for c in snapshot.customers}
    holdout = as_model_frame(  # as a training reads them: nullable integers as floats
        warehouse.query(
            settings.warehouse_path,
            "select * from silver.ml_training_payment_pred where label_known_on > ? and label_known_on <= ?",
            [run["tags"]["window.train_labels_through"], run["tags"]["window.holdout_labels_through"]],
        )
    )
    floor, floor_knowing_disputes, drifted = [], [], []
    for doc_id, paid, days_to_pay in holdout[["doc_id", "payment_date", "days_to_pay"]].itertuples(index=False):
        customer, amount, posting, due = snapshot.truth[int(doc_id)]
        habit = habits[customer]
        dispute = snapshot.disputes.get(int(doc_id), 0.0)
        for floors, dispute_days in (
            (floor, TYPICAL_DISPUTE_DAYS if dispute else 0.0),
            (floor_knowing_disputes, dispute),
        ):
            expected = expected_clearing_date(habit, amount, posting, due, dispute_days)
            floors.append(days_to_pay + (expected - pd.Timestamp(paid).date()).days)  # as days to pay, as predicted
        drifted.append(habit.distress is not None and habit.distress.start <= due <= habit.distress.end)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    model = mlflow.sklearn.load_model(f"runs:/{run['run_id']}/model")
    predicted = {
        "noise_floor": np.array(floor, dtype=float),
        "model": model.predict(holdout),
        "customer_median": baselines(holdout)["customer_median_delay"],
    }
    if snapshot.disputes:  # the stricter floor that knows how long each dispute took (it cannot be known)
        predicted["floor_knowing_dispute_lengths"] = np.array(floor_knowing_disputes, dtype=float)
    actual = holdout["days_to_pay"].to_numpy(float)
    drifted_mask = np.array(drifted, dtype=bool)
    # a customer none of whose invoices was known paid at posting: the floor knows its habit, no
    # model can (the generator draws habits apart from everything an invoice shows)
    unknown = holdout["prior_paid_invoices"].fillna(0).to_numpy() == 0
    groups = {
        "all": np.ones(len(actual), bool),
        "drifted": drifted_mask,
        "others": ~drifted_mask,
        "customer with payment history": ~unknown,
        "customer without": unknown,
        "disputed": holdout["doc_id"].astype(int).isin(list(snapshot.disputes)).to_numpy(),
        "month-end payer": np.array([habits[snapshot.truth[int(d)][0]].month_end_runs for d in holdout["doc_id"]]),
    }
    figures = {
        f"{group} ({int(mask.sum())} invoices)": {name: _errors(p[mask], actual[mask]) for name, p in predicted.items()}
        for group, mask in groups.items()
        if mask.any()
    }
    return figures | {"the 1.5x target's headroom": target_headroom(predicted, actual, unknown)}


def target_headroom(predicted: dict[str, np.ndarray], actual: np.ndarray, unknown: np.ndarray, ratio: float = 1.5):
    """What the invoices of customers without a known payment allow: the overall MAE were every
    invoice of a customer with one predicted at the noise floor and the others as the model does,
    and the MAE those others would need for the whole to reach ``ratio`` x the floor."""
    floor = np.abs(predicted["noise_floor"] - actual)
    model = np.abs(predicted["model"] - actual)
    n, cold = len(actual), int(unknown.sum())
    if not cold:
        return {"invoices_without_history": 0}
    needed = (ratio * floor.sum() - floor[~unknown].sum()) / cold
    best_elsewhere = floor[~unknown].sum() + model[unknown].sum()  # total absolute error
    return {
        "invoices_without_history": cold,
        "mae_if_the_others_were_at_the_floor": round(float(best_elsewhere / n), 3),
        "x_floor": round(float(best_elsewhere / floor.sum()), 3),
        "mae_needed_without_history": round(float(needed), 3),  # the model's: the "customer without" line
    }


def priority_breakdown(settings: Settings, config: GeneratorConfig, run: dict) -> dict[str, dict]:
    """On the newest collection-priority training's holdout: the model's and the baselines' Brier and
    calibration error, over all rows and apart for those of invoices that fell due while their
    customer went through its stretch of late paying (the drift a customer's history lags)."""
    habits = {c.cust_number: c.habit for c in generate_invoice_snapshot(config).customers}
    cutoff = date.fromisoformat(run["tags"]["window.holdout_labels_through"])
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        split = training_split(con, collection_priority.SPEC.training_sql, cutoff, ClassifierConfig())
    holdout, spec = split.holdout, collection_priority.SPEC
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    predicted = {
        "model": probabilities(mlflow.sklearn.load_model(f"runs:/{run['run_id']}/model"), holdout, spec),
        **baseline_probabilities(spec, spec.fit_baselines(split.train), holdout),
    }
    drifted = np.array(
        [
            (h := habits[customer]).distress is not None
            and h.distress.start <= pd.Timestamp(due).date() <= h.distress.end
            for customer, due in holdout[["customer_number", "due_date"]].itertuples(index=False)
        ],
        dtype=bool,
    )
    actual = holdout[spec.label].astype(int).to_numpy()
    groups = {"all": np.ones(len(actual), bool), "drifted": drifted, "others": ~drifted}
    return {
        f"{group} ({int(mask.sum())} rows, {int(actual[mask].sum())} late)": {
            name: {
                "brier": round(float(np.mean((p[mask] - actual[mask]) ** 2)), 4),
                "ece": round(expected_calibration_error(p[mask], actual[mask]), 4),
            }
            for name, p in predicted.items()
        }
        for group, mask in groups.items()
        if mask.any()
    }


CASH_IN_SQL = """
    with actual as (
        select stream, cash_date, cash_in from silver.ml_training_cashflow_fcst where not is_future
    ),
    weeks as (  -- each forecast's first 8 weeks, with the week's actual total and the naive forecast's
        select f.stream, f.forecast_date::date as forecast_date, ceil(f.horizon_days / 7) as week,
            sum(f.predicted_cash_in) as predicted,
            sum(a.cash_in) as actual, count(a.cash_in) as days_known
        from ml.cashflow_forecast as f
        left join actual as a on a.stream = f.stream and a.cash_date = f.target_date
        where f.horizon_days <= 56
        group by all
    ),
    naive as (  -- seasonal naive repeats the forecast day's last week
        select f.stream, f.forecast_date, sum(a.cash_in) as last_week
        from (select distinct stream, forecast_date::date as forecast_date from ml.cashflow_forecast) as f
        inner join actual as a on a.stream = f.stream and a.cash_date between f.forecast_date - 6 and f.forecast_date
        group by all
    )
    select w.stream, count(distinct w.forecast_date) as forecast_days,
        avg(abs(w.predicted - w.actual) / w.actual) as model_mape,
        avg(abs(n.last_week - w.actual) / w.actual) as naive_mape
    from weeks as w inner join naive as n using (stream, forecast_date)
    where w.forecast_date in (select forecast_date from weeks group by forecast_date having min(days_known) = 7)
        and w.actual > 0
    group by w.stream order by w.stream
"""
# The AR collections forecast (ml/ar_collections_forecast) beside the cash-in model and seasonal
# naive on the AR stream, on the days both forecast whose first 8 weeks have all ended
COLLECTIONS_SQL = """
    with actual as (
        select cash_date, cash_in from silver.ml_training_cashflow_fcst where stream = 'ar_invoices' and not is_future
    ),
    weeks as (
        select c.as_of_date, c.week, c.predicted_collections as collections,
            (select sum(cash_in) from actual where cash_date between c.week_start and c.week_end) as actual,
            (select count(*) from actual where cash_date between c.week_start and c.week_end) as days_known,
            (select sum(cash_in) from actual where cash_date between c.as_of_date - 6 and c.as_of_date) as last_week
        from ml.ar_collections_forecast as c where c.week <= 8
    ),
    model as (
        select forecast_date::date as as_of_date, cast(ceil(horizon_days / 7) as integer) as week,
            sum(predicted_cash_in) as cash_in_model
        from ml.cashflow_forecast where stream = 'ar_invoices' and horizon_days <= 56 group by all
    ),
    complete as (select as_of_date from weeks group by all having count(*) = 8 and min(days_known) = 7)
    select count(distinct as_of_date) as forecast_days,
        avg(abs(collections - actual) / actual) as collections_mape,
        avg(abs(cash_in_model - actual) / actual) as cash_in_model_mape,
        avg(abs(last_week - actual) / actual) as naive_mape
    from weeks inner join complete using (as_of_date) inner join model using (as_of_date, week)
    where actual > 0
"""
POSITION_SQL = """
    with lines as (select txn_date, sum(signed_amount_vnd) as net from silver.stg_bank_transactions group by all),
    running as (select txn_date, sum(net) over (order by txn_date) as balance from lines),
    judged as (
        select p.week, p.balance - p.opening_balance as predicted_change,
            p.balance_low_80 - p.opening_balance as low_change, p.balance_high_80 - p.opening_balance as high_change,
            e.balance - s.balance as actual_change
        from ml.cash_position as p
        asof join running as e on p.week_end >= e.txn_date
        asof join running as s on p.as_of_date >= s.txn_date
        where p.week_end <= (select max(txn_date) from lines)
    )
    select week, count(*) as days, avg(abs(predicted_change - actual_change)) / 1e6 as mae_million_vnd,
        avg(abs(actual_change)) / 1e6 as mean_abs_change_million_vnd,
        avg((actual_change between low_change and high_change)::int) as band_80_coverage
    from judged where week in (1, 2, 4, 8, 13, 26) group by week order by week
"""


CASH_SQL = {
    "cash-in forecast, weekly MAPE over the first 8 weeks (target: model <= 0.8x seasonal naive)": CASH_IN_SQL,
    "AR collections forecast (open invoices by predicted week + invoices to come), the same weeks": COLLECTIONS_SQL,
    "cash position: balance change from the as-of day, predicted against the statement's": POSITION_SQL,
}


def cash_figures(settings: Settings) -> dict[str, pd.DataFrame]:
    """The cash-in forecast's and the AR collections forecast's first 8 weeks against seasonal naive,
    and the cash position's balance against the statement that came after it."""
    return {name: warehouse.query(settings.warehouse_path, sql) for name, sql in CASH_SQL.items()}


def last_delivered_day(settings: Settings) -> date:
    frame = warehouse.query(settings.warehouse_path, "select max(valid_from) as day from silver.stg_ar_invoice_history")
    return pd.Timestamp(frame["day"].iloc[0]).date()


# A model asset keeps its last training on a day its cadence does not fall on: these settings make
# the timed materialization a training (it goes through the gate like any other).
TRAIN_NOW = {"retrain_every_days": 1, "retrain_label_growth": 0.0}
TIMED_ASSETS = {
    "payment_date_model": TRAIN_NOW,
    "payment_date_scores": None,
    "ar_priority_model": TRAIN_NOW,
    "churn_model": TRAIN_NOW,
    "cashflow_model": {"retrain_every_days": 1},  # no labels to count
    "cashflow_forecast": None,
    "cash_position": None,
    "ar_collections_forecast": None,
    "transaction_anomalies": None,
}


def time_assets(defs: dg.Definitions, day: date) -> dict[str, float | str]:
    """Each asset of TIMED_ASSETS materialized alone for ``day``, the models trained as of it."""
    job = defs.resolve_job_def(ML_JOB)
    timings = {}
    with dg.DagsterInstance.get() as instance:
        for name, config in TIMED_ASSETS.items():
            run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the figures, not the events
            if config:
                run_config["ops"] = {f"ml__{name}": {"config": config}}
            started = time.perf_counter()
            result = job.execute_in_process(
                instance=instance,
                partition_key=f"{day}",
                asset_selection=[dg.AssetKey(["ml", name])],
                run_config=run_config,
                raise_on_error=False,
            )
            timings[f"ml/{name}"] = round(time.perf_counter() - started, 2) if result.success else "failed"
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    settings = Settings.from_env()
    # the data directory's own world: `make demo` records where its data starts
    parser.add_argument("--start", type=date.fromisoformat, default=date.fromisoformat(settings.partitions_start))
    parser.add_argument("--days", type=int, help="the world's length (default: through its last delivered day)")
    parser.add_argument("--skip-timings", action="store_true", help="only the figures of the trainings in the store")
    parser.add_argument("--disputed-share", type=float, default=0.0, help="as the world was generated with")
    parser.add_argument("--month-end-share", type=float, default=0.0, help="as the world was generated with")
    args = parser.parse_args()
    os.environ.setdefault("DAGSTER_HOME", settings.dagster_home)  # the instance the demo materialized into
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per model loaded buried the figures
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
    last = args.start + timedelta(days=args.days - 1) if args.days else last_delivered_day(settings)
    # the noise floor and the drift need the very world the data directory holds: same seed, start and end
    config = GeneratorConfig(
        start=args.start, end=last, disputed_share=args.disputed_share, month_end_share=args.month_end_share
    )
    if payment := runs.get("smepulse_payment_date"):
        print("\npayment dates on the newest training's holdout: noise floor, model, customer median")
        for group, figures in payment_breakdown(settings, config, payment).items():
            print(f"  {group:<26} {figures}")
    if priority := runs.get(collection_priority.MODEL_NAME):
        print("\ncollection priority on the newest training's holdout: Brier and calibration error")
        for group, figures in priority_breakdown(settings, config, priority).items():
            print(f"  {group:<40} {figures}")
    for title, frame in cash_figures(settings).items():
        print(f"\n{title}")
        print(frame.round(3).to_string(index=False))
    if not args.skip_timings:
        print(
            "\ntimings (s), one day, each asset alone (the models trained as of it):",
            time_assets(build_defs(settings), last),
        )


if __name__ == "__main__":
    main()
