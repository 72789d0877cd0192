"""A yes/no risk model as two assets: the model (train, evaluate, register, gate) and its scores.

Collection priority and churn risk differ only in their rows, features, label and
baselines; this module holds what they share. The model asset reads labelled rows
(label known by the partition day), fits a gradient-boosted classifier, compares its
Brier score on the time holdout with the champion's and the baselines', and registers
it. The scores asset loads the champion from the registry and writes one row per
scored entity and day into the ML output schema.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from ml_assets import outputs
from ml_assets.serving import Serving, WrittenDays, record_days, serving_plan
from ml_assets.tracking import MlflowRun
from ml_assets.training import (
    SERVING_CHECK,
    SERVING_CHECK_DESCRIPTION,
    Candidate,
    TimeSplit,
    TrainingConfig,
    gate_and_report,
    ml_asset_args,
    read_training,
    trained_or_kept,
)
from smepulse_lib.windows import DayWindow


class ClassifierConfig(TrainingConfig):
    max_iter: int = 150
    learning_rate: float = 0.05
    min_training_rows: int = 150


@dataclass(frozen=True)
class ClassifierSpec:
    model_name: str
    name: str  # asset names: ml/<name>_model and ml/<name>_scores
    source: str  # the silver training set (also the scoring rows)
    training_sql: str  # labelled rows (training.read_training takes the window)
    scoring_sql: str  # rows to score; parameters: first and last day
    label: str
    categorical: list[str]
    numeric: list[str]
    id_columns: list[str]  # carried from the scored rows into the output (as_of_date first)
    probability_column: str
    # The baselines in two steps, so serving needs no training rows: fit_baselines(labelled rows)
    # gives a few numbers (plain JSON, kept in the model's metadata); baselines(fitted) gives each
    # baseline's probability as a SQL expression over the scoring rows' columns. One definition
    # serves the holdout comparison (baseline_probabilities) and scoring, which stays in DuckDB
    # while a baseline serves: no scoring row goes through pandas.
    fit_baselines: Callable[[pd.DataFrame], dict]
    baselines: Callable[[dict], dict[str, str]]
    serving_baseline: str  # the baseline that scores while no model has beaten it (no champion yet)
    description: str
    # rows decided without the model (e.g. invoices already late): id columns, probability and
    # model_version; parameters: first and last day
    rule_sql: str | None = None
    # The scoring rows with only the id columns and what the serving baseline reads, when a
    # narrower query than scoring_sql gives the same rows: the training view's other joins are
    # the most of a baseline's scoring; parameters: first and last day
    baseline_rows_sql: str | None = None
    # A column whose rows share one label (an invoice's weekly snapshots): the calibration's folds
    # keep each value's rows together (estimators.calibrated_classifier)
    calibration_groups: str | None = None

    @property
    def features(self) -> list[str]:
        return self.categorical + self.numeric

    def scoring_rows(self) -> str:
        """The scoring rows with the columns a model reads and the output carries, no more."""
        return f"select {', '.join(dict.fromkeys(self.id_columns + self.features))} from ({self.scoring_sql})"


def sql_number(value: float) -> str:
    """A fitted number as a SQL double (a bare 0.25 would be a DECIMAL)."""
    return f"{float(value)!r}::double"


def baseline_probabilities(spec: ClassifierSpec, fitted: dict, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each baseline's probabilities for ``rows`` (e.g. a holdout in pandas), by its SQL expression."""
    with duckdb.connect() as con:  # a projection keeps the rows' order
        con.register("rows", rows)
        return {
            name: con.execute(f"select ({expression})::double as p from rows").df()["p"].to_numpy(float)
            for name, expression in spec.baselines(fitted).items()
        }


def probabilities(model, rows: pd.DataFrame, spec: ClassifierSpec) -> np.ndarray:
    """A fitted classifier's probability of the label for each row, from the columns it was trained on."""
    from ml_assets.estimators import input_columns  # scikit-learn: loaded by a step, not the code location

    return model.predict_proba(rows[input_columns(model, spec.features)])[:, 1]


def classification_metrics(probability: np.ndarray, label: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    both_classes = len(np.unique(label)) == 2
    return {
        "brier": float(brier_score_loss(label, probability)),
        "roc_auc": float(roc_auc_score(label, probability)) if both_classes else float("nan"),
        "positive_share": float(np.mean(label)),
        "ece": expected_calibration_error(probability, label),
    }


def calibration_bins(probability: np.ndarray, label: np.ndarray, bins: int = 10) -> list[tuple]:
    """Per non-empty tenth of the probability scale (1.0 in the last): its lower and upper edge,
    rows, the mean probability given and the share that turned out positive."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    return [
        (edges[b], edges[b + 1], int((which == b).sum()), probability[which == b].mean(), label[which == b].mean())
        for b in range(bins)
        if (which == b).any()
    ]


def expected_calibration_error(probability: np.ndarray, label: np.ndarray) -> float:
    """How far the probabilities are from the shares that turn out positive: per tenth of the
    scale, |mean probability - share positive|, weighted by the tenth's rows (0: calibrated)."""
    if not len(probability):
        return float("nan")
    bins = calibration_bins(probability, label)
    return float(sum(rows * abs(given - positive) for _, _, rows, given, positive in bins) / len(probability))


def reliability_table(probability: np.ndarray, label: np.ndarray) -> str:
    """The calibration of probabilities on a holdout, as markdown: per tenth of the probability
    scale, how many rows, the mean probability given and the share that turned out positive
    (calibrated: the two agree)."""
    lines = ["| probability | rows | mean given | share positive |", "| --- | --- | --- | --- |"]
    for low, high, rows, given, positive in calibration_bins(probability, label):
        lines.append(f"| {low:.1f}-{high:.1f} | {rows} | {given:.3f} | {positive:.3f} |")
    return "\n".join(lines)


def build_classifier_assets(spec: ClassifierSpec, partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    model_key = dg.AssetKey(["ml", f"{spec.name}_model"])
    source_key = dg.AssetKey(["silver", spec.source])

    @dg.asset(
        key=model_key,
        deps=[source_key],
        check_specs=[dg.AssetCheckSpec(SERVING_CHECK, asset=model_key, description=SERVING_CHECK_DESCRIPTION)],
        kinds={"scikit-learn", "mlflow"},
        **ml_asset_args(
            partitions_def,
            f"{spec.description} Trained as of the day; champion only if its Brier score "
            "beats the champion's and the baselines' on the time holdout.",
        ),
    )
    def model_asset(
        context: dg.AssetExecutionContext, config: ClassifierConfig, warehouse: DuckDBResource, mlflow: MlflowRun
    ):
        def fit(cutoff: date, split: TimeSplit):
            from ml_assets.estimators import calibrated_classifier, calibration_of, fit_classifier

            label = split.train[spec.label].astype(int).to_numpy()
            groups = split.train[spec.calibration_groups].to_numpy() if spec.calibration_groups else None
            model = calibrated_classifier(spec.categorical, config.max_iter, config.learning_rate, label, groups)
            model = fit_classifier(model, split.train[spec.features], label, groups)
            actual = split.holdout[spec.label].astype(int).to_numpy()

            def evaluate(m) -> dict[str, float]:
                return classification_metrics(probabilities(m, split.holdout, spec), actual)

            def squared_errors(m) -> np.ndarray:  # the Brier score per row
                return (probabilities(m, split.holdout, spec) - actual) ** 2

            baseline_p = baseline_probabilities(spec, spec.fit_baselines(split.train), split.holdout)
            candidate_p = model.predict_proba(split.holdout[spec.features])[:, 1]  # for its metrics and calibration
            candidate = Candidate(
                model_name=spec.model_name,
                model=model,
                features=split.train[spec.features],
                metrics=classification_metrics(candidate_p, actual),
                primary="brier",
                lower_is_better=True,
                baselines={name: classification_metrics(p, actual) for name, p in baseline_p.items()},
                champion=evaluate,
                row_losses=squared_errors,
                baseline_row_losses={name: (p - actual) ** 2 for name, p in baseline_p.items()},
                labels=actual,
                minimum=config.minimum(),
                reports={"holdout_reliability": dg.MetadataValue.md(reliability_table(candidate_p, actual))},
                params={
                    "max_iter": config.max_iter,
                    "learning_rate": config.learning_rate,
                    "calibration": calibration_of(model),
                    "holdout_days": config.holdout_days,
                    "features": ",".join(spec.features),
                },
            )
            # the serving baseline as fitted on every labelled row of this training (the holdout's too),
            # for the scores asset while no model has beaten it
            serving = spec.fit_baselines(pd.concat([split.train, split.holdout]))
            yield from gate_and_report(context, candidate, split, cutoff, serving)

        yield from trained_or_kept(context, config, fit, [spec.model_name], warehouse, spec.training_sql)

    @dg.asset(
        key=["ml", f"{spec.name}_scores"],
        deps=[model_key, source_key],
        kinds={"scikit-learn", "duckdb"},
        **ml_asset_args(
            partitions_def,
            f"{spec.description} Scores of each day from the champion serving that day; table ml.{spec.name}_scores.",
        ),
    )
    def scores_asset(context: dg.AssetExecutionContext, warehouse: DuckDBResource, mlflow: MlflowRun):
        predicted_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
        written, table = 0, WrittenDays(f"{spec.name}_scores", "score_date")
        with warehouse.get_connection() as con:
            for serving in serving_plan(context, model_key):
                scorer = _scorer(context, spec, serving, con)
                written += _write_scores(con, spec, scorer, serving.window, predicted_at)
                metadata = {"model_version": scorer.version, "scored_with": scorer.scored_with}
                record_days(context, con, table, serving, metadata, {"decided_by_rule": RULE_ROWS})
        context.log.info(f"{written} rows of ml.{table.table} written for {context.partition_key_range}.")
        return dg.MaterializeResult()

    return [model_asset, scores_asset]


@dataclass(frozen=True)
class Scorer:
    """What scores a window, and how: the champion model that served it, applied in pandas one chunk
    at a time, or a serving baseline's SQL expression, applied in DuckDB (the rows never leave it);
    neither before any label is known."""

    version: str  # the output's model_version
    scored_with: str  # for the materialization's metadata
    model: Any = None
    expression: str | None = None

    def stage(self, con, spec: ClassifierSpec, first: date, last: date) -> int:
        """Temp table ``model_scores`` := the window's scored rows; returns how many (0: none, no table).
        Probabilities are rounded half to even to 4 places on both paths."""
        if self.model is None and self.expression is None:
            return 0
        if self.expression is None:
            return outputs.stage_in_chunks(
                con, spec.scoring_rows(), [first, last], self._score_chunk(spec), "model_scores"
            )
        con.execute(
            f"create or replace temp table model_scores as select {', '.join(spec.id_columns)}, "
            f"round_even({self.expression}, 4) as {spec.probability_column}, ?::varchar as model_version "
            f"from ({spec.baseline_rows_sql or spec.scoring_sql})",
            [self.version, first, last],
        )
        return con.execute("select count(*) from model_scores").fetchone()[0]

    def _score_chunk(self, spec: ClassifierSpec) -> Callable[[pd.DataFrame], pd.DataFrame]:
        def score(rows: pd.DataFrame) -> pd.DataFrame:
            probability = probabilities(self.model, rows, spec)
            return rows[spec.id_columns].assign(
                **{spec.probability_column: np.round(probability, 4)}, model_version=self.version
            )

        return score


# the rows of a day a rule decided, not a model (an invoice over 30 days past due is late)
RULE_ROWS = "count(*) filter (where model_version like 'rule:%')"


def _write_scores(con, spec: ClassifierSpec, scorer: "Scorer", window: DayWindow, predicted_at) -> int:
    """Score the window's days with ``scorer`` and write them with the rule's rows; the rows written."""
    first, last = window.first, window.last
    staged = scorer.stage(con, spec, first, last)
    # the rule's rows, or none with the scores' columns, so the table exists for gold even
    # when a window has nothing to score
    other = spec.rule_sql or (
        f"select {', '.join(spec.id_columns)}, null::double as {spec.probability_column}, "
        f"null::varchar as model_version from ({spec.scoring_sql}) limit 0"
    )
    union = " union all by name ".join(
        f"({part})" for part in (["select * from model_scores"] if staged else []) + [other]
    )
    select = (
        f"select * rename ({spec.id_columns[0]} as score_date), '{spec.model_name}' as model_name, "
        f"?::timestamp as predicted_at from ({union})"
    )
    return outputs.replace_days_with(
        con, f"{spec.name}_scores", select, [predicted_at, first, last], "score_date", first, last
    )


def _scorer(context, spec: ClassifierSpec, serving: Serving, con) -> Scorer:
    """Score with the champion that served the days (serving.py); while no model had beaten the
    baselines, with the serving baseline (labelled ``baseline:<name>``), so the worklist never
    goes dark once a label is known. Also says what scored: the champion, or where the
    baseline's fit came from. Nothing scores before any label is known (the first weeks of a
    history): no probability is made up, and only the rule's rows (if any) are written. Logged as
    information, not a warning: a young ledger is served by its baseline by design, and the scores'
    metadata and the model's serving check say so."""
    loaded = serving.load(spec.model_name)
    if loaded is not None:
        model, version = loaded
        return Scorer(version, serving.scored_with(), model=model)
    version = f"baseline:{spec.serving_baseline}"
    fitted, scored_with = _fitted_serving_baseline(spec, serving, con)
    if fitted is None:
        context.log.info(f"No champion for {spec.model_name} and {scored_with}.")
        return Scorer("none", scored_with)
    context.log.info(f"No champion for {spec.model_name} on {serving.window.label()}: scoring with {version}.")
    return Scorer(version, scored_with, expression=spec.baselines(fitted)[spec.serving_baseline])


def _fitted_serving_baseline(spec: ClassifierSpec, serving: Serving, con) -> tuple[dict | None, str]:
    """The serving baseline fitted by the training in force on the days (reading the training
    rows again instead was most of a new day at large sizes). Without one (the model was not
    trained: too little data), fitted here on the labels known by the last day; None if there are none."""
    if serving.baseline is not None:
        return serving.baseline, serving.baseline_source()
    last = serving.window.last
    labelled = read_training(con, spec.training_sql, last, ClassifierConfig())
    if labelled.empty:
        return None, f"no labelled rows known by {last}: nothing to fit a baseline on, nothing scored"
    return spec.fit_baselines(labelled), f"baseline fitted on the labels known by {last}"
