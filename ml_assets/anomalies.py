"""Unusual payments and bank lines, found with an isolation forest.

For each ISO week, a forest per kind (payments, bank lines) is fitted on the trailing
``history_days`` before its Monday and scores the week's rows: anomaly score in (0, 1]
(higher = more isolated), flagged when it is above the history's top
``contamination`` share. The reason names the feature furthest from its history
median (in median absolute deviations), so an analyst sees *why*. There are no
labels, so there is no holdout or champion: each day's fit is an MLflow run with its
parameters, rows and flag rate. Prediction anomalies (UC10: paid far from the
predicted date) are found in gold, from the scores and the payments.
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from ml_assets import outputs
from ml_assets.tracking import MlflowRun, training_run
from ml_assets.training import ml_asset_args
from smepulse_lib.windows import DayWindow

MODEL_NAME = "smepulse_transaction_anomalies"
# A window is scored on every core from this many forests per core: starting a worker (a new
# interpreter importing this module) pays off in a backfill, not for a new day's two.
FORESTS_PER_WORKER = 8


@dataclass(frozen=True)
class Kind:
    name: str
    sql: str  # rows with day, subject_id, counterparty, amount_vnd and the features; params first, last day
    features: list[str]
    # features measured against the history: name -> (value column, group column); the value minus the
    # median of the group's history (the whole history's median for a group it has not seen)
    relative: dict[str, tuple[str, str]] = field(default_factory=dict)

    def with_relative_features(self, history: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
        for name, (value, group) in self.relative.items():
            usual = history.groupby(group)[value].median()
            rows = rows.assign(**{name: rows[value] - rows[group].map(usual).fillna(history[value].median())})
        return rows


# A payment against its customer's usual amount, its method's usual amount (both from the history
# the forest is fitted on, never from the days being scored), and its status.
PAYMENTS = Kind(
    "payment",
    """
    select payment_date as day, payment_id as subject_id, customer_code as counterparty, amount_vnd,
           method_code, ln(greatest(amount_vnd, 1)) as log_amount,
           case when status = 'failed' then 1.0 else 0.0 end as failed,
           coalesce(datediff('day', payment_date, settled_date), 30) as days_to_settle
    from gold.fact_payments
    where payment_date between ? and ?
    """,
    ["log_amount", "log_amount_vs_customer", "log_amount_vs_method", "failed", "days_to_settle"],
    relative={
        "log_amount_vs_customer": ("log_amount", "counterparty"),
        "log_amount_vs_method": ("log_amount", "method_code"),
    },
)
# A bank line by size, direction, whether it names a payment or bill, how it matched, repeats.
BANK_LINES = Kind(
    "bank_transaction",
    """
    select b.txn_date as day, b.bank_txn_id as subject_id, coalesce(b.counterparty, '') as counterparty,
           b.amount_vnd,
           ln(greatest(b.amount_vnd, 1)) as log_amount,
           case when b.direction = 'credit' then 1.0 else 0.0 end as is_credit,
           case when b.payment_ref is null and b.bill_ref is null then 1.0 else 0.0 end as no_reference,
           coalesce(abs(l.difference_vnd), 0) / greatest(b.amount_vnd, 1) as mismatch_share,
           b.deliveries - 1.0 as repeated_deliveries
    from gold.fact_bank_txn as b
    left join gold.link_payment_bank as l on l.bank_txn_id = b.bank_txn_id
    where b.txn_date between ? and ?
    """,
    ["log_amount", "is_credit", "no_reference", "mismatch_share", "repeated_deliveries"],
)
KINDS = (PAYMENTS, BANK_LINES)
# The output's columns and types, for a window with nothing to score (the table must still exist).
EMPTY = pd.DataFrame(
    {
        "day": pd.Series(dtype="datetime64[ns]"),
        "subject_id": pd.Series(dtype=str),
        "counterparty": pd.Series(dtype=str),
        "amount_vnd": pd.Series(dtype=float),
        "subject_kind": pd.Series(dtype=str),
        "anomaly_score": pd.Series(dtype=float),
        "is_anomaly": pd.Series(dtype=bool),
        "reason": pd.Series(dtype=str),
    }
)


class AnomalyConfig(dg.Config):
    history_days: int = 90
    contamination: float = 0.02
    min_history_rows: int = 50
    n_estimators: int = 100


def explain(history: pd.DataFrame, rows: pd.DataFrame, features: list[str]) -> pd.Series:
    """The feature furthest from its history median, in median absolute deviations."""
    median = history[features].median()
    spread = (
        (history[features] - median).abs().median().replace(0, np.nan).fillna(history[features].std()).replace(0, 1.0)
    )
    distance = ((rows[features] - median) / spread).abs()
    top = distance.idxmax(axis=1)
    return top.combine(distance.max(axis=1), lambda f, d: f"{f} {d:.1f} MAD from usual")


def score_rows(kind: Kind, history: pd.DataFrame, rows: pd.DataFrame, config: AnomalyConfig) -> pd.DataFrame:
    # the history measured against itself, the week's rows against the history: no look-ahead
    from sklearn.ensemble import IsolationForest  # loaded by the step, not with the code location

    rows, history = kind.with_relative_features(history, rows), kind.with_relative_features(history, history)
    forest = IsolationForest(n_estimators=config.n_estimators, contamination=config.contamination, random_state=0)
    forest.fit(history[kind.features])
    scores = -forest.score_samples(rows[kind.features])
    return rows[["day", "subject_id", "counterparty", "amount_vnd"]].assign(
        subject_kind=kind.name,
        anomaly_score=scores.round(4),
        is_anomaly=forest.predict(rows[kind.features]) == -1,
        reason=explain(history, rows, kind.features).to_numpy(),
    )


def scoring_weeks(
    con, kind: Kind, first: date, last: date, config: AnomalyConfig
) -> tuple[list[tuple[pd.DataFrame, pd.DataFrame]], int]:
    """The window's rows cut into ISO weeks, each with the history before its Monday that its forest
    is fitted on: a day scores the same whether it runs alone or in a backfill, and a year's
    backfill fits 52 forests, not 365. Also the rows of weeks with too little history to score."""
    history_start = first - timedelta(days=first.weekday() + config.history_days)
    # in a fixed order: a forest samples its history by position, and DuckDB returns rows in any order
    frame = outputs.read(con, f"{kind.sql} order by all", [history_start, last])
    frame["day"] = pd.to_datetime(frame["day"])
    week_start = frame["day"] - pd.to_timedelta(frame["day"].dt.weekday, unit="D")
    in_window = (frame["day"] >= pd.Timestamp(first)) & (frame["day"] <= pd.Timestamp(last))
    weeks, skipped = [], 0
    for monday, rows in frame[in_window].groupby(week_start[in_window]):
        history = frame[(frame["day"] < monday) & (frame["day"] >= monday - pd.Timedelta(days=config.history_days))]
        if len(history) < config.min_history_rows:
            skipped += len(rows)  # too little history to call anything unusual
        else:
            weeks.append((history, rows))
    return weeks, skipped


def score_weeks(tasks: list[tuple[Kind, pd.DataFrame, pd.DataFrame]], config: AnomalyConfig) -> list[pd.DataFrame]:
    """Each (kind, history, rows) scored by its own forest, in the tasks' order. A backfill's
    forests (two a week) are independent and each is ~100 small trees of mostly Python work, so
    they are fitted in worker processes, one per core (threads would share one interpreter)."""
    jobs = min(os.cpu_count() or 1, len(tasks) // FORESTS_PER_WORKER)
    if jobs < 2:
        return [score_rows(kind, history, rows, config) for kind, history, rows in tasks]
    kinds, histories, rows = zip(*tasks, strict=False)
    # spawned, not forked (this process runs threads: Dagster's, DuckDB's), and ended with the
    # call, so no idle interpreter holds its ~250 MB while the steps after it run
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(score_rows, kinds, histories, rows, [config] * len(tasks)))


def build_anomaly_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["ml", "transaction_anomalies"],
        deps=[
            dg.AssetKey(["gold", "fact_payments"]),
            dg.AssetKey(["gold", "fact_bank_txn"]),
            dg.AssetKey(["gold", "link_payment_bank"]),
        ],
        kinds={"scikit-learn", "mlflow", "duckdb"},
        **ml_asset_args(
            partitions_def,
            "Payments and bank lines of each day scored by an isolation forest fitted on the "
            "trailing history, with the reason; table ml.transaction_anomalies.",
        ),
    )
    def transaction_anomalies(
        context: dg.AssetExecutionContext, config: AnomalyConfig, warehouse: DuckDBResource, mlflow: MlflowRun
    ):
        window = DayWindow.of(context.partition_time_window)
        first, last = window.first, window.last
        params = {
            "history_days": config.history_days,
            "contamination": config.contamination,
            "n_estimators": config.n_estimators,
        }
        with (
            warehouse.get_connection() as con,
            training_run(MODEL_NAME, params, {"first_day": first, "last_day": last}) as run,
        ):
            weeks = {kind.name: scoring_weeks(con, kind, first, last, config) for kind in KINDS}
            tasks = [(kind, history, rows) for kind in KINDS for history, rows in weeks[kind.name][0]]
            frames = score_weeks(tasks, config)
            scores = pd.concat(frames, ignore_index=True) if frames else EMPTY
            metrics: dict[str, float] = {}
            for kind in KINDS:
                scored = scores[scores["subject_kind"] == kind.name]
                metrics |= {
                    f"{kind.name}_rows": len(scored),
                    f"{kind.name}_flagged": int(scored["is_anomaly"].sum()),
                    f"{kind.name}_skipped_no_history": weeks[kind.name][1],
                }
            mlflow.log_metrics(metrics)
            scores = scores.rename(columns={"day": "score_date"}).assign(
                model_name=MODEL_NAME,
                model_version=f"run:{run.info.run_id[:12]}",
                predicted_at=pd.Timestamp.now(tz="UTC").tz_localize(None),
            )
            written = outputs.replace_days(con, "transaction_anomalies", scores, "score_date", first, last)
        return dg.MaterializeResult(metadata={"rows": written, **metrics, "mlflow_run_id": run.info.run_id})

    return [transaction_anomalies]
