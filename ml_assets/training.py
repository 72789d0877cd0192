"""What every model's training shares: the time-based holdout, the MLflow run and the gate.

A model trained as of day D (its partition) sees only rows whose label was known by
D. It is fitted on rows labelled by D minus ``holdout_days`` and judged on the rows of
the days after that (labelled by D): the question it would have faced. The fitted
model, its metrics, the baselines' and the current champion's on the same holdout go
to one nested MLflow run; the version is registered and promoted only if it wins.
"""

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from ml_assets import outputs, tracking
from ml_assets.evidence import Evidence, Minimum, decide, surely_worse, weigh
from ml_assets.serving import SERVING_BASELINE_KEY, SERVING_VERSIONS_KEY, serving_versions
from smepulse_lib.conventions import WAREHOUSE_POOL, daily_asset_args
from smepulse_lib.metadata import plain_value, plain_values
from smepulse_lib.windows import DayWindow

GROUP = "ml"
# The check each model asset carries: the model serving beats every baseline on the holdout.
SERVING_CHECK = "beats_baselines_on_holdout"
SERVING_CHECK_DESCRIPTION = (
    "The model serving now (the new version when promoted, else the champion) beats every baseline on the "
    "time-based holdout, on the model's primary metric. ERROR when nothing has been promoted yet or when the "
    "champion loses to a baseline; WARN when there is too little labelled data to train yet. A promotion needs a "
    "holdout that can decide and a sure win (ml_assets/evidence.py); a champion surely worse than a baseline "
    "is retired, and the serving baseline scores until a candidate surely beats the baselines. The gate's "
    "reason and evidence (holdout rows, each loss difference with its 90 % interval) are in the description "
    "and metadata."
)


def ml_asset_args(partitions_def: dg.PartitionsDefinition, description: str) -> dict:
    """Conventions of every ML asset: daily partitions, one run per range, the warehouse pool."""
    # the retries also cover MLflow's tracking store and registry
    return {**daily_asset_args(partitions_def, GROUP, description), "pool": WAREHOUSE_POOL}


@dataclass(frozen=True)
class TimeSplit:
    cutoff: date
    split_day: date
    train: pd.DataFrame
    holdout: pd.DataFrame

    def window(self) -> dict[str, str]:
        return {
            "train_labels_through": f"{self.split_day}",
            "holdout_from": f"{self.split_day + timedelta(days=1)}",
            "holdout_labels_through": f"{self.cutoff}",
        }


class TrainingConfig(dg.Config):
    """How much history a training reads: a bounded window, so its cost does not grow with history."""

    holdout_days: int = 30
    training_window_days: int = 365  # labels that became known in the last year before the cutoff
    max_training_rows: int = 300_000  # the newest rows before the holdout, beyond which more rows add little
    # A uniform sample of the holdout beyond this: 30 days of labels are ~1.5M collection-priority
    # rows at 5 million invoices, the largest frame of a training, and 200k rows tell models apart.
    max_holdout_rows: int = 200_000
    # When a day's run trains again instead of keeping the last training (kept_training): not within
    # retrain_every_days of it (1: every day), then once the labels that became known since are
    # retrain_label_growth of those in the training window, and at the latest after retrain_within_days.
    retrain_every_days: int = 7
    retrain_label_growth: float = 0.1
    retrain_within_days: int = 28
    # A holdout smaller than this decides no promotion (evidence.py): the serving model stays
    min_holdout_rows: int = 100
    min_holdout_positives: int = 10  # classifiers: of each class

    def minimum(self) -> Minimum:
        return Minimum(self.min_holdout_rows, self.min_holdout_positives)


def trained_metadata(cutoff: date, checks: list[dg.AssetCheckResult]) -> dict[str, Any]:
    """What kept_training reads back from a materialization that trained: the day it trained
    as of and its check results."""
    results = [
        {
            "check_name": c.check_name,
            "passed": c.passed,
            "severity": c.severity.value,
            "description": c.description,
            "metadata": plain_values(c.metadata),
        }
        for c in checks
    ]
    return {"trained_as_of": f"{cutoff}", "retrained": True, "check_results": dg.MetadataValue.json(results)}


@dataclass(frozen=True)
class Cadence:
    """When a model trains again: never before ``every`` days, then once enough new labels are known
    (``growth`` of the window's, counted by ``labels``; None for a model without labelled rows,
    which trains every ``every`` days), at the latest after ``within`` days.

    A training reads a year of labels; a week's new labels are most of a young ledger's history
    but ~2 % of a mature one's, whose model a week later is nearly the same. Counting labels, not
    days, keeps a young ledger's weekly trainings and spaces a mature one's out to ``within``: a
    520-day backfill trains each model ~30 times instead of 74 (docs/benchmarks.md). The counts
    are of labels known by each day, so a backfill and the days one by one train on the same days."""

    every: int
    within: int = 28
    growth: float = 0.1
    labels: "Callable[[], LabelCounts] | None" = None  # read when first needed (most days need none)

    @classmethod
    def of(cls, config: Any, labels: "Callable[[], LabelCounts] | None" = None) -> "Cadence":
        if labels is None:  # a model trained on its own series (_label_counts: no training sql)
            return cls(config.retrain_every_days)
        return cls(config.retrain_every_days, config.retrain_within_days, config.retrain_label_growth, labels)

    def keep_reason(self, trained_as_of: date, cutoff: date) -> str | None:
        """Why the training as of ``trained_as_of`` still serves on ``cutoff``; None: train now.
        Training as of the same day again or an earlier one (backfilling the past) always trains."""
        age = (cutoff - trained_as_of).days
        trained = f"trained as of {trained_as_of}, {age} day(s) before"
        if age <= 0:
            return None
        if age < self.every:
            return f"{trained}; no training again within {self.every} days"
        if self.labels is None or age >= self.within:
            return None
        labels = self.labels()
        new, window = labels.between(trained_as_of, cutoff), labels.window(cutoff)
        if new < self.growth * window:
            return (
                f"{trained}; {new} labels known since, {new / window:.1%} of the window's {window}: retrain at "
                f"{self.growth:.0%} or after {self.within} days"
            )
        return None


@dataclass(frozen=True)
class LabelCounts:
    """How many labelled rows of a model's training set became known by each day, read once
    per run: the cumulative count through each day with a label."""

    days: np.ndarray  # datetime64[D], ascending
    cumulative: np.ndarray
    window_days: int

    @classmethod
    def read(cls, con, sql: str, first: date, last: date, window_days: int) -> "LabelCounts":
        counts = con.execute(
            f"select label_known_on::date as day, count(*) as n from ({sql}) "
            "where label_known_on > ? and label_known_on <= ? group by 1 order by 1",
            [first, last],
        ).fetchall()
        days = np.array([day for day, _ in counts], dtype="datetime64[D]")
        return cls(days, np.cumsum([n for _, n in counts], dtype=np.int64), window_days)

    def _through(self, day: date) -> int:
        position = np.searchsorted(self.days, np.datetime64(day, "D"), side="right")
        return int(self.cumulative[position - 1]) if position else 0

    def between(self, after: date, through: date) -> int:
        return self._through(through) - self._through(after)

    def window(self, cutoff: date) -> int:
        """The labels a training as of ``cutoff`` reads (``read_training``'s window)."""
        return self.between(cutoff - timedelta(days=self.window_days), cutoff)


def kept_training(in_force: dict[str, Any], cutoff: date, cadence: Cadence) -> list | None:
    """The events that report the training in force again, when the cadence keeps it.

    ``in_force`` is the metadata of the model asset's latest materialization. A training reads
    up to a year of labels and fits its models (most of a new day's ML run); one done a few days
    ago has seen nearly the same labels. So between trainings a day keeps the last one (its
    registered champion goes on serving) and re-reports its metadata and check results: the
    day's partition is materialized and the checks stay current in the UI. None means: train now."""
    metadata = plain_values(in_force)
    if "trained_as_of" not in metadata or "check_results" not in metadata:
        return None
    trained_as_of = metadata["trained_as_of"]
    reason = cadence.keep_reason(date.fromisoformat(trained_as_of), cutoff)
    if reason is None:
        return None
    checks = [
        dg.AssetCheckResult(
            check_name=c["check_name"],
            passed=c["passed"],
            severity=dg.AssetCheckSeverity(c["severity"]),
            description=c["description"],
            metadata={**c["metadata"], "trained_as_of": trained_as_of},
        )
        for c in metadata["check_results"]
    ]
    return [dg.MaterializeResult(metadata={**in_force, "retrained": False, "kept_reason": reason}), *checks]


def _latest_metadata(context: dg.AssetExecutionContext) -> dict[str, Any]:
    latest = context.instance.get_latest_materialization_event(context.asset_key)
    return dict(latest.asset_materialization.metadata) if latest and latest.asset_materialization else {}


def read_training(con, sql: str, cutoff: date, config: TrainingConfig, columns: str = "*") -> pd.DataFrame:
    """The labelled rows of ``sql`` for a training as of ``cutoff``: the holdout (a uniform sample of
    at most ``max_holdout_rows``), and at most ``max_training_rows`` of the newest rows before it.
    Filtered and capped in DuckDB, so a large history never reaches pandas whole. ``columns``
    narrows what is read, not which rows: the sample hashes whole rows either way."""
    split_day = cutoff - timedelta(days=config.holdout_days)
    window_start = cutoff - timedelta(days=config.training_window_days)
    capped = f"""
        with labelled as (select * from ({sql}) where label_known_on > ? and label_known_on <= ?)
        (select {columns} from labelled as t where label_known_on > ?
         order by hash(t) limit {int(config.max_holdout_rows)})
        union all
        (select {columns} from labelled as t where label_known_on <= ?
         order by label_known_on desc, hash(t) limit {int(config.max_training_rows)})
    """
    return outputs.read(con, capped, [window_start, cutoff, split_day, split_day])


def trained_or_kept(
    context: dg.AssetExecutionContext,
    config: Any,  # a TrainingConfig, or any model config with retrain_every_days
    fit: Callable[[date, Any], Iterator],  # (cutoff, the TimeSplit, or None without sql)
    model_names: list[str],
    warehouse: DuckDBResource | None = None,
    sql: str | None = None,
) -> Iterator:
    """A model asset's events, each day of its window as running the days one by one gives:
    the last training again while it is recent enough (``kept_training``); else, for a model
    trained on labelled rows (``sql``), the events of ``too_little_data`` when there are too
    few; else what ``fit`` yields, trained as of the day (its cutoff) on the time split (None
    for a model that reads its own series). A range run thus trains at the retrain cadence
    through its days. Each day's materialization carries that day's metadata and the champion
    versions serving after it (serving.py), which its scores read; the checks are the last day's."""
    days = DayWindow.of(context.partition_time_window).days
    in_force = _latest_metadata(context)
    versions = serving_versions(model_names)
    cadence = Cadence.of(config, _label_counts(warehouse, sql, days[0], days[-1], config))
    for day in days:
        events = _day_events(context, config, fit, model_names[0], warehouse, sql, day, in_force, cadence)
        result = events[0]
        assert isinstance(result, dg.MaterializeResult), "a model's events start with its materialization"
        metadata = dict(result.metadata or {})
        if plain_value(metadata.get("retrained", True)):  # a training (or an attempt) may move the champion
            versions = serving_versions(model_names)
        in_force = {**metadata, SERVING_VERSIONS_KEY: dg.MetadataValue.json(versions)}
        context.add_asset_metadata(in_force, partition_key=f"{day}")
    # Nothing for the whole range: a day's event would carry any key its own metadata lacks (a day
    # with too little data would show the last day's training).
    yield dg.MaterializeResult()
    yield from events[1:]


def _label_counts(warehouse, sql, first: date, last: date, config: Any) -> "Callable[[], LabelCounts] | None":
    """The labels of ``sql`` known each day a range's trainings may look back to, read once, when
    the cadence first asks; None for a model without labelled rows."""
    if sql is None or warehouse is None:
        return None

    @functools.cache
    def read() -> LabelCounts:
        window = config.training_window_days
        since = first - timedelta(days=window + max(config.retrain_within_days, config.retrain_every_days))
        with warehouse.get_connection() as con:
            return LabelCounts.read(con, sql, since, last, window)

    return read


def _day_events(context, config, fit, model_name: str, warehouse, sql, day: date, in_force: dict, cadence) -> list:
    kept = kept_training(in_force, day, cadence)
    if kept:
        context.log.debug(f"{day}: keeping the last training ({plain_value(kept[0].metadata['kept_reason'])}).")
        return kept
    context.log.info(f"{day}: training {model_name} as of {day}.")
    if sql is None or warehouse is None:
        return list(fit(day, None))
    with warehouse.get_connection() as con:
        split = training_split(con, sql, day, config)
    return too_little_data(split, config.min_training_rows, model_name) or list(fit(day, split))


def training_split(con, sql: str, cutoff: date, config: TrainingConfig, columns: str = "*") -> TimeSplit:
    """The rows of ``read_training``, split in time: train on labels known by cutoff - holdout_days,
    hold out the labels that became known after (read_training already bounds them by cutoff)."""
    frame = read_training(con, sql, cutoff, config, columns)
    split_day = cutoff - timedelta(days=config.holdout_days)
    early = pd.to_datetime(frame["label_known_on"]) <= pd.Timestamp(split_day)
    return TimeSplit(cutoff, split_day, frame[early], frame[~early])


def too_little_data(split: TimeSplit, minimum: int, what: str) -> list | None:
    """With too few labelled rows to train, the events that say so instead of a model: the asset
    materializes with ``trained: false`` and the reason, and its serving check fails as a WARN: it
    alerts, but a young ledger is not a fault to page anyone for (it was an ERROR on every fresh
    install until enough history arrived). Scoring goes on with the champion or, without one, the
    serving baseline, so the gold score tables (one dbt step for all models) still build; a failed
    step would hold them all back for one model. None means: enough data, train."""
    needed_holdout = max(minimum // 10, 1)
    if len(split.train) >= minimum and len(split.holdout) >= needed_holdout:
        return None
    counts = {"train_rows": len(split.train), "holdout_rows": len(split.holdout)}
    if not len(split.train) and not len(split.holdout):
        check = not_configured(f"{what} has no labelled row at all as of {split.cutoff}", SERVING_CHECK, counts)
        return [
            dg.MaterializeResult(metadata={"trained": False, "untrained_reason": check.description, **counts}),
            check,
        ]
    reason = (
        f"Too little labelled data to train {what} as of {split.cutoff}: {len(split.train)} training rows "
        f"(need {minimum}) and {len(split.holdout)} holdout rows (need {needed_holdout}). "
        "Load more history or lower min_training_rows."
    )
    return [
        dg.MaterializeResult(metadata={"trained": False, "untrained_reason": reason, **counts}),
        dg.AssetCheckResult(
            check_name=SERVING_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=reason,
            metadata=counts,
        ),
    ]


def not_configured(what: str, check_name: str, counts: dict) -> dg.AssetCheckResult:
    """The check of a model with no data at all: the deployment has none of the sources it learns
    from (a receivables ledger without the SME world's orders or payments), or they have not
    delivered yet. It says so and passes: an ERROR every day for data the deployment does not
    have was an alert nobody could act on. It trains once rows arrive."""
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=True,
        description=f"not configured: {what}; this deployment has none of the data it learns from (yet)",
        metadata={"configured": False, **counts},
    )


@dataclass
class Candidate:
    """A fitted model and how it, the champion and the baselines did on the holdout."""

    model_name: str
    model: object
    features: pd.DataFrame  # training inputs (for the signature)
    metrics: dict[str, float]  # the candidate's holdout metrics
    primary: str  # the metric the gate compares
    lower_is_better: bool
    baselines: dict[str, dict[str, float]]  # baseline -> its holdout metrics
    champion: Callable[[Any], dict[str, float]]  # champion model -> its holdout metrics
    params: dict[str, object] = field(default_factory=dict)
    flavor: str = "sklearn"  # the MLflow flavor that logs and loads the model
    example: tuple[pd.DataFrame, Any] | None = None  # (input, output) for the signature; default: predict
    log_options: dict[str, Any] = field(default_factory=lambda: {"skops_trusted_types": tracking.TRUSTED_TYPES})
    # The gate's evidence (evidence.py): a model's per-row loss on the holdout (of the primary
    # metric), each baseline's, the holdout's labels (classifiers) and the least holdout that decides.
    # Without row_losses the gate compares the metrics alone.
    row_losses: Callable[[Any], np.ndarray] | None = None
    baseline_row_losses: dict[str, np.ndarray] = field(default_factory=dict)
    labels: np.ndarray | None = None
    minimum: Minimum = field(default_factory=Minimum)
    reports: dict[str, Any] = field(default_factory=dict)  # more holdout figures for the metadata (calibration)

    def signature(self):
        from mlflow.models import infer_signature

        if self.example is not None:
            return infer_signature(*self.example), self.example[0]
        sample = self.features.head(5)
        # integer features are declared double: a served row may lack one (MLflow warns otherwise)
        example = sample.astype(dict.fromkeys(sample.select_dtypes("integer").columns, "float64"))
        return infer_signature(example, _predict(self.model, sample)), example


@dataclass(frozen=True)
class GateResult:
    version: str
    run_id: str
    decision: tracking.Promotion
    champion_version: str | None
    champion_metrics: dict[str, float] | None
    evidence: Evidence | None = None
    retired: str | None = None  # why the champion was retired by this training, if it was

    def metadata(self, candidate: Candidate) -> dict:
        return {
            "mlflow_run_id": self.run_id,
            "model_name": candidate.model_name,
            "model_version": self.version,
            "promoted": self.decision.promoted,
            "promotion": self.decision.reason,
            "champion_version": self.champion_version or "none",
            **({"retired": self.retired} if self.retired else {}),
            "holdout": dg.MetadataValue.json(
                {"candidate": candidate.metrics, "champion": self.champion_metrics, **candidate.baselines}
            ),
            **{f"holdout_{k}": round(v, 4) for k, v in candidate.metrics.items()},
            **({"gate_evidence": dg.MetadataValue.json(self.evidence.as_dict())} if self.evidence else {}),
            **candidate.reports,
        }


def log_and_gate(candidate: Candidate, split: TimeSplit) -> GateResult:
    """Log the candidate as an MLflow run, register it, and promote it if it wins."""
    import mlflow

    previous = tracking.champion_version(candidate.model_name)
    champion_metrics, champion_model = None, None
    if previous is not None:
        champion_model, _ = tracking.load_champion(candidate.model_name, candidate.flavor)
        champion_metrics = candidate.champion(champion_model)
    counts = {"train_rows": len(split.train), "holdout_rows": len(split.holdout)}
    with tracking.training_run(candidate.model_name, {**candidate.params, **counts}, split.window()) as run:
        mlflow.log_metrics({f"holdout_{k}": v for k, v in candidate.metrics.items()})
        for name, values in candidate.baselines.items():
            mlflow.log_metrics({f"baseline_{name}_{k}": v for k, v in values.items()})
        if champion_metrics:
            mlflow.log_metrics({f"champion_{k}": v for k, v in champion_metrics.items()})
        # the reports' figures (interval calibration); tables stay in the asset's metadata
        mlflow.log_metrics({k: v for k, v in candidate.reports.items() if isinstance(v, int | float)})
        signature, example = candidate.signature()
        logged = tracking.log_model(
            candidate.flavor,
            candidate.model,
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=tracking.pip_requirements(candidate.flavor),
            **candidate.log_options,
        )
        version = tracking.register(candidate.model_name, logged.model_uri)
        decision = tracking.decide_promotion(
            candidate.metrics[candidate.primary],
            champion_metrics[candidate.primary] if champion_metrics else None,
            {name: values[candidate.primary] for name, values in candidate.baselines.items()},
            candidate.lower_is_better,
        )
        champion_losses = None
        if candidate.row_losses is not None and champion_model is not None:
            champion_losses = candidate.row_losses(champion_model)
        evidence = _evidence(candidate, champion_losses)
        if evidence is not None:
            mlflow.log_metrics(evidence.metrics())
            if decision.promoted or evidence.shortfall:
                decision = decide(evidence, first=previous is None)  # a point win must also be a sure one
        retired = None
        if not decision.promoted and previous is not None and champion_losses is not None:
            retired = _retired(candidate, previous, champion_losses)
            if retired:
                decision = tracking.Promotion(False, f"{decision.reason}; {retired}")
        mlflow.set_tags({"promoted": str(decision.promoted), "promotion": decision.reason, "model_version": version})
        tracking.record_decision(candidate.model_name, version, decision, candidate.metrics)
    return GateResult(version, run.info.run_id, decision, previous, champion_metrics, evidence, retired)


def _evidence(candidate: Candidate, champion_losses: np.ndarray | None) -> Evidence | None:
    if candidate.row_losses is None:
        return None
    others = dict(candidate.baseline_row_losses)
    if champion_losses is not None:
        others["champion"] = champion_losses
    return weigh(candidate.row_losses(candidate.model), others, candidate.minimum, candidate.labels)


def _retired(candidate: Candidate, champion: str, champion_losses: np.ndarray) -> str | None:
    """Retire the champion when this holdout shows it surely worse than a baseline: it scored worse
    than the serving baseline would, and no candidate beat the baselines to replace it. Until one
    does, the serving baseline scores (serving.py). Says why, or None when it stays."""
    weighed = weigh(champion_losses, candidate.baseline_row_losses, candidate.minimum, candidate.labels)
    why = surely_worse(weighed)
    if why is None:
        return None
    reason = f"champion v{champion} retired: {why}"
    tracking.retire_champion(candidate.model_name, champion, reason)
    return reason


def _predict(model, frame: pd.DataFrame):
    return model.predict_proba(frame)[:, 1] if hasattr(model, "predict_proba") else model.predict(frame)


def _to_beat(candidate: Candidate) -> str:
    """What the serving model must beat: the best baseline's value of the primary metric."""
    if not candidate.baselines:
        return "no baseline"
    pick = min if candidate.lower_is_better else max
    name, value = pick(((n, v[candidate.primary]) for n, v in candidate.baselines.items()), key=lambda nv: nv[1])
    return f"{candidate.primary} {'<' if candidate.lower_is_better else '>'} {value:.4f} (best baseline: {name})"


def serving_check(candidate: Candidate, result: GateResult) -> dg.AssetCheckResult:
    """The evaluation as a check: the model now serving beats every baseline on this holdout.

    Fails (ERROR, so it alerts) when the champion in force is no better than a baseline:
    either nothing was ever promoted, or the old champion lost ground and no candidate
    beat it (when surely worse it was retired, and the serving baseline scores).
    """
    if result.decision.promoted:
        serving, serving_version = candidate.metrics, result.version
    elif result.retired:  # nothing serves under the model's name: the serving baseline scores
        serving, serving_version = None, "none"
    else:
        serving, serving_version = result.champion_metrics, result.champion_version or "none"
    primary = candidate.primary
    threshold = _to_beat(candidate)
    if serving is None:
        passed, observed = False, f"no champion{' (retired)' if result.retired else ''}: the serving baseline scores"
    else:
        losing = [
            name
            for name, values in candidate.baselines.items()
            if not tracking.decide_promotion(
                serving[primary], None, {name: values[primary]}, candidate.lower_is_better
            ).promoted
        ]
        passed, observed = not losing, (f"loses to {', '.join(losing)}" if losing else "beats all baselines")
    return dg.AssetCheckResult(
        check_name=SERVING_CHECK,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"serving {candidate.model_name}: {observed}{f' on {primary}' if serving else ''}; "
        f"gate: {result.decision.reason}",
        metadata={
            "observed": observed,
            "threshold": threshold,
            "serving_version": serving_version,
            **({f"serving_{primary}": round(serving[primary], 4)} if serving else {}),
            **{f"baseline_{name}_{primary}": round(v[primary], 4) for name, v in candidate.baselines.items()},
            **(_evidence_figures(result.evidence) if result.evidence else {}),
        },
    )


def _evidence_figures(evidence: Evidence) -> dict[str, Any]:
    """The gate's evidence as the check shows it: the holdout's size and, against each baseline and
    the champion, the candidate's mean loss difference with its interval."""
    figures: dict[str, Any] = {"holdout_rows": evidence.rows}
    if evidence.positives is not None:
        figures["holdout_positives"] = evidence.positives
    for c in evidence.comparisons:
        figures[f"candidate_vs_{c.against}"] = f"{c.mean_difference:+.4f} [{c.low:+.4f}, {c.high:+.4f}]"
    return figures


def gate_and_report(
    context: dg.AssetExecutionContext, candidate: Candidate, split: TimeSplit, cutoff: date, serving_baseline: dict
) -> Iterator:
    """Log, register and gate a trained model (``log_and_gate``), then the model asset's events:
    its materialization (the gate's metadata, the training's, the serving baseline the scores
    use while no model has beaten it) and its serving check."""
    result = log_and_gate(candidate, split)
    context.log.info(f"{candidate.model_name} v{result.version}: {result.decision.reason}; holdout {candidate.metrics}")
    check = serving_check(candidate, result)
    yield dg.MaterializeResult(
        metadata={
            **result.metadata(candidate),
            **trained_metadata(cutoff, [check]),
            SERVING_BASELINE_KEY: dg.MetadataValue.json(serving_baseline),
            "train_rows": len(split.train),
            "holdout_rows": len(split.holdout),
            **split.window(),  # which labels trained and which judged
        }
    )
    yield check
