"""ML assets end to end: point-in-time training rows, models against baselines, the promotion
gate, score contracts, and scoring a new day after training.

Real parts only: generated drops, real Dagster runs of the daily and ML jobs, real dbt on
DuckDB, a real MLflow store (sqlite + local artifacts) under the test's data directory.
"""

import multiprocessing
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from ml_assets import anomalies, cashflow, churn, collection_priority, payment_date, payment_estimators
from ml_assets.cash_position import MIN_ERRORS
from ml_assets.classifiers import (
    ClassifierConfig,
    baseline_probabilities,
    expected_calibration_error,
    reliability_table,
)
from ml_assets.estimators import boosted_classifier, calibrated_classifier, calibration_of, fit_classifier
from ml_assets.evidence import Minimum, decide, paired_intervals, weigh
from ml_assets.sensor import ml_run_request
from ml_assets.tracking import CHAMPION, EXPERIMENT, decide_promotion, pip_requirements
from ml_assets.training import Cadence, LabelCounts, read_training
from smepulse_assets.definitions import build_defs
from smepulse_assets.kaggle_invoices.contract import HEADER
from smepulse_assets.kaggle_invoices.replay import split_into_drops, write_drops
from smepulse_assets.tools.generator import (
    GeneratorConfig,
    generate_invoice_snapshot,
    generate_world,
    world_config,
    write_world,
)
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib import warehouse
from smepulse_lib.instance.event_log import ephemeral_instance
from smepulse_lib.names import ML_JOB, RANGE_END_TAG, RANGE_START_TAG
from smepulse_lib.settings import Settings

pytestmark = pytest.mark.slow

START, END = date(2019, 9, 1), date(2019, 12, 31)  # 122 days
TRAINED_THROUGH = END - timedelta(days=1)
INVOICES = GeneratorConfig(start=START, end=END, invoices_per_day=60, customers=50)
SME_WORLD = world_config(INVOICES, orders_per_day=20)
PAYMENT_MODEL = "smepulse_payment_date"
PRIORITY_MODEL = collection_priority.MODEL_NAME
# A customer whose first invoice is paid late, after its second invoice was posted.
PROBE_CUSTOMER = "0200999999"
PROBE_A, PROBE_B, PROBE_C = 1_000_000_001, 1_000_000_002, 1_000_000_003


# A customer whose two invoices are posted and paid on the same day: each must see the other's
# payment, never its own.
SAME_DAY_CUSTOMER = "0200999998"
PROBE_D, PROBE_E = 1_000_000_004, 1_000_000_005


def _probe_row(doc_id: int, posted: date, due: date, cleared: date | None, customer: str = PROBE_CUSTOMER) -> list[str]:
    values = dict.fromkeys(HEADER, "")
    values.update(
        {
            "business_code": "U001",
            "cust_number": customer,
            "name_customer": "PROBE corp",
            "clear_date": f"{cleared} 00:00:00" if cleared else "",
            "buisness_year": f"{posted.year}.0",
            "doc_id": f"{doc_id}.0",
            "posting_date": f"{posted}",
            "document_create_date": f"{posted:%Y%m%d}",
            "document_create_date.1": f"{posted:%Y%m%d}",
            "due_in_date": f"{due:%Y%m%d}.0",
            "invoice_currency": "USD",
            "document type": "RV",
            "posting_id": "1.0",
            "total_open_amount": "5000.00",
            "baseline_create_date": f"{posted:%Y%m%d}.0",
            "cust_payment_terms": "NAH4",
            "invoice_id": f"{doc_id}.0",
            "isOpen": "0",
        }
    )
    return [values[c] for c in HEADER]


PROBES = [  # A: posted 2 Sep, due 17 Sep, paid 14 Oct (27 days late) -- after B was posted (20 Sep)
    _probe_row(PROBE_A, date(2019, 9, 2), date(2019, 9, 17), date(2019, 10, 14)),
    _probe_row(PROBE_B, date(2019, 9, 20), date(2019, 10, 5), date(2019, 10, 7)),
    _probe_row(PROBE_C, date(2019, 10, 21), date(2019, 11, 5), date(2019, 11, 5)),
    # D: 15 days early, E: 10 days early; both delivered open and cleared on 10 Sep
    _probe_row(PROBE_D, date(2019, 9, 10), date(2019, 9, 25), date(2019, 9, 10), SAME_DAY_CUSTOMER),
    _probe_row(PROBE_E, date(2019, 9, 10), date(2019, 9, 20), date(2019, 9, 10), SAME_DAY_CUSTOMER),
]

# a model trained on labels trains every day with both (the label count would keep a day-old training)
DAILY = {"retrain_every_days": 1, "retrain_label_growth": 0.0}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("ml")
    settings = Settings.from_env({"SMEPULSE_DATA_DIR": str(root), "SMEPULSE_PARTITIONS_START": "2019-01-01"})
    settings.ensure_local_dirs()
    snapshot = generate_invoice_snapshot(INVOICES)
    drops, _ = split_into_drops(snapshot.rows + PROBES)
    write_drops(drops, settings.landing_url)
    write_world(generate_world(SME_WORLD), settings.landing_url)
    defs = build_defs(settings)
    instance = ephemeral_instance()
    run_reference(defs, instance)
    daily = run_days(defs, instance, START, TRAINED_THROUGH)
    ml = run_days(defs, instance, START, TRAINED_THROUGH, job_name=ML_JOB, raise_on_error=False)
    return settings, defs, instance, daily, ml


def _query(settings: Settings, sql: str, params: list | None = None):
    return warehouse.query(settings.warehouse_path, sql, params)


def _materialization(result: dg.ExecuteInProcessResult, key: str, partition: str):
    events = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == key and e.materialization.partition == partition
    ]
    assert events, f"{key} was not materialized for {partition}"
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}


def test_training_row_does_not_see_later_payments(platform):
    settings = platform[0]
    rows = _query(
        settings,
        "select * from silver.ml_training_payment_pred where customer_number = ? order by doc_id",
        [PROBE_CUSTOMER],
    )
    b = rows[rows["doc_id"] == PROBE_B].iloc[0]
    c = rows[rows["doc_id"] == PROBE_C].iloc[0]
    # When B was posted (20 Sep), A was known but unpaid: its 27-day delay must not reach B's row,
    # although the training set is built after A was paid.
    assert (b["prior_invoices"], b["prior_paid_invoices"]) == (1, 0)
    assert b["prior_median_days_late"] != b["prior_median_days_late"]  # NaN: nothing paid yet
    assert b["open_invoices_at_posting"] == 1 and b["open_amount_at_posting"] == pytest.approx(5000.0)
    # When C was posted (21 Oct), both payments had arrived: A 27 days late, B 2 days late.
    assert (c["prior_invoices"], c["prior_paid_invoices"]) == (2, 2)
    assert c["prior_median_days_late"] == pytest.approx(14.5)
    assert c["open_invoices_at_posting"] == 0
    assert (b["days_to_pay"], b["days_late"]) == (17, 2)


def test_invoices_paid_on_their_posting_day_see_each_other_not_themselves(platform):
    settings = platform[0]
    rows = _query(
        settings,
        "select * from silver.ftr_invoice_at_posting where customer_number = ? order by doc_id",
        [SAME_DAY_CUSTOMER],
    ).set_index("doc_id")
    for doc_id, other_days_late in [(PROBE_D, -10), (PROBE_E, -15)]:
        row = rows.loc[doc_id]
        assert (row["prior_invoices"], row["prior_paid_invoices"], row["open_invoices_at_posting"]) == (1, 1, 0)
        assert row["prior_median_days_late"] == other_days_late
        assert row["prior_mean_days_late"] == other_days_late and row["open_amount_at_posting"] == 0


def test_a_new_day_computes_the_probes_features_as_the_backfill_did(platform):
    """The fixture built the features as one range (the backfill path); a day on its own takes
    the short-window path (medians from counts): same rows, ties and same-day payments included."""
    settings, defs, instance = platform[:3]
    sql = "select * from silver.ftr_invoice_at_posting where customer_number in (?, ?) order by doc_id"
    backfilled = _query(settings, sql, [PROBE_CUSTOMER, SAME_DAY_CUSTOMER])
    for day in (date(2019, 9, 10), date(2019, 10, 21)):  # D and E paid on posting; C with an even count
        run_days(defs, instance, day, day)
    pd.testing.assert_frame_equal(backfilled, _query(settings, sql, [PROBE_CUSTOMER, SAME_DAY_CUSTOMER]))


def _each_day(result: dg.ExecuteInProcessResult, key: str) -> dict[date, dict]:
    """Each day's materialization metadata of ``key`` in a range run."""
    days = {
        e.materialization.partition
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == key
    }
    return {date.fromisoformat(day): _materialization(result, key, day) for day in sorted(days)}


def test_payment_model_beats_both_baselines(platform):
    days = _each_day(platform[4], "ml/payment_date_model")
    trainings = {day: meta for day, meta in days.items() if meta.get("retrained") is True}
    # the range trained at the retrain cadence through its days, each training as of its own day
    assert len(trainings) >= 2 and all(meta["trained_as_of"] == f"{day}" for day, meta in trainings.items())
    first_day, meta = next((day, meta) for day, meta in trainings.items() if meta["promoted"])
    holdout = meta["holdout"]
    candidate_mae = holdout["candidate"]["mae"]
    assert candidate_mae < holdout["due_date"]["mae"]
    assert candidate_mae < holdout["customer_median_delay"]["mae"]
    # the interval was calibrated on training rows, so the holdout's coverage is out of sample
    assert meta["calibration_rows"] > 0 and meta["calibration_labels_from"] <= meta["train_labels_through"]
    assert 0.5 <= holdout["candidate"]["interval_coverage"] <= 1.0
    evidence = meta["gate_evidence"]  # the promotion's evidence: rows, and a sure win over each baseline
    assert evidence["holdout_rows"] >= 100
    assert {c["against"] for c in evidence["comparisons"]} == {"due_date", "customer_median_delay"}
    assert all(c["interval"][1] < 0 for c in evidence["comparisons"])
    (check,) = meta["check_results"]  # that training's serving check, kept in its day's metadata
    assert check["passed"] and "gate: first model: surely better than" in check["description"]
    assert check["metadata"]["holdout_rows"] == evidence["holdout_rows"]
    assert check["metadata"]["candidate_vs_customer_median_delay"].startswith("-")
    # the days before it were served by no model, the days from it on by a promoted one
    served = {day: meta["serving_versions"][PAYMENT_MODEL] for day, meta in days.items()}
    assert served[first_day] == meta["model_version"]
    assert all((version is None) == (day < first_day) for day, version in served.items())


def test_gate_refuses_a_worse_model(platform):
    settings, defs, instance = platform[:3]
    client = MlflowClient(settings.mlflow_tracking_uri)
    before = client.get_model_version_by_alias(PAYMENT_MODEL, CHAMPION).version
    # trained as of the day even if a training in force is recent (every day: DAILY)
    weak = {"ops": {"ml__payment_date_model": {"config": {"max_iter": 1, "learning_rate": 0.01, **DAILY}}}}
    job = defs.resolve_job_def(ML_JOB)
    result = job.execute_in_process(
        instance=instance,
        partition_key=f"{TRAINED_THROUGH}",
        run_config=weak,
        asset_selection=[dg.AssetKey(["ml", "payment_date_model"])],
    )
    meta = _materialization(result, "ml/payment_date_model", f"{TRAINED_THROUGH}")
    assert meta["promoted"] is False and "does not beat" in meta["promotion"]
    assert str(client.get_model_version_by_alias(PAYMENT_MODEL, CHAMPION).version) == str(before)
    tags = client.get_model_version(PAYMENT_MODEL, meta["model_version"]).tags
    assert tags["promotion"].startswith("does not beat")
    # the champion still beats the baselines on this holdout, so the serving check passes
    assert next(iter(result.get_asset_check_evaluations())).passed


def test_a_champion_surely_worse_than_a_baseline_is_retired(platform):
    """A champion promoted on an old holdout can fall behind the baselines on the newest one. When a
    training's holdout shows it surely worse than a baseline (the paired interval of its loss
    difference above zero) and the candidate does not replace it, the gate takes the champion alias
    off it and says why, in the version's tags, the gate's reason and the serving check. The days
    after then record no champion serving, and the serving baseline scores them
    (test_without_a_champion_the_customer_median_baseline_its_training_fitted_scores). The real
    gate on the real registry, with models of the platform's class fitted on labels shifted late."""
    from ml_assets.payment_date import FEATURES, TRAINING_SQL, PaymentModelConfig, baselines, error_metrics, evaluate
    from ml_assets.payment_estimators import PaymentDateModel
    from ml_assets.tracking import TRUSTED_TYPES, log_model, register
    from ml_assets.training import Candidate, log_and_gate, serving_check, training_split

    settings = platform[0]
    client = MlflowClient(settings.mlflow_tracking_uri)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    before = client.get_model_version_by_alias(PAYMENT_MODEL, CHAMPION).version
    config = PaymentModelConfig()
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        split = training_split(con, TRAINING_SQL, TRAINED_THROUGH, config)
    holdout, actual = split.holdout, split.holdout["days_to_pay"].to_numpy(float)

    def trained_off_by(days: int) -> PaymentDateModel:
        return PaymentDateModel(max_iter=50).fit(split.train, split.train["days_to_pay"] + days, rounds=0)

    guesses = baselines(holdout)
    worse = trained_off_by(30)  # worse than the customer's median: not promoted
    candidate = Candidate(
        model_name=PAYMENT_MODEL,
        model=worse,
        features=split.train[FEATURES],
        metrics=evaluate(worse, holdout),
        primary="mae",
        lower_is_better=True,
        baselines={name: error_metrics(guess, actual) for name, guess in guesses.items()},
        champion=lambda champion: evaluate(champion, holdout),
        row_losses=lambda model: np.abs(model.predict(holdout) - actual),
        baseline_row_losses={name: np.abs(guess - actual) for name, guess in guesses.items()},
        minimum=config.minimum(),
    )
    try:
        with mlflow.start_run(run_name="a champion 60 days off"):
            logged = log_model("sklearn", trained_off_by(60), name="model", skops_trusted_types=TRUSTED_TYPES)
        bad = register(PAYMENT_MODEL, logged.model_uri)
        client.set_registered_model_alias(PAYMENT_MODEL, CHAMPION, bad)

        result = log_and_gate(candidate, split)

        assert not result.decision.promoted and result.decision.reason.startswith("does not beat baseline(s)")
        assert result.retired and result.retired.startswith(f"champion v{bad} retired: surely worse than ")
        assert "interval [+" in result.retired and result.retired in result.decision.reason
        assert CHAMPION not in client.get_registered_model(PAYMENT_MODEL).aliases
        assert client.get_model_version(PAYMENT_MODEL, bad).tags["retired"] == result.retired
        assert result.metadata(candidate)["retired"] == result.retired
        check = serving_check(candidate, result)
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert "no champion (retired): the serving baseline scores" in check.description
        assert check.metadata["serving_version"].value == "none"
        # a champion no worse than the baselines stays: the module's champion on the same holdout
        client.set_registered_model_alias(PAYMENT_MODEL, CHAMPION, before)
        assert log_and_gate(candidate, split).retired is None
        assert client.get_model_version_by_alias(PAYMENT_MODEL, CHAMPION).version == before
    finally:
        client.set_registered_model_alias(PAYMENT_MODEL, CHAMPION, before)


def test_each_logged_model_names_its_pinned_requirements(platform):
    """Every model the backfill trained lists the packages that load and serve it, at the versions
    that trained it, and nothing the training process happened to import."""
    settings = platform[0]
    client = MlflowClient(settings.mlflow_tracking_uri)
    models = client.search_registered_models()
    assert len(models) >= 4
    for model in models:
        source = client.get_model_version(model.name, "1").source
        folder = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=source, tracking_uri=settings.mlflow_tracking_uri)
        )
        mlmodel = (folder / "MLmodel").read_text()
        flavor = "pyfunc" if "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel else "sklearn"
        assert (folder / "requirements.txt").read_text().split() == pip_requirements(flavor), model.name
    import sklearn
    import statsmodels

    assert f"scikit-learn=={sklearn.__version__}" in pip_requirements("sklearn")
    assert f"statsmodels=={statsmodels.__version__}" in pip_requirements("statsmodels")


@pytest.mark.parametrize("stream", cashflow.STREAMS)
def test_the_cash_forecaster_loads_and_forecasts_through_mlflows_generic_interface(platform, stream):
    """The logged cash forecaster is a pyfunc model: loaded with mlflow.pyfunc, given the stream's
    observed days and the days to come (their calendar), it forecasts what the platform's scoring
    forecasts from the same days, bands in order. Its input example validated at logging (the
    statsmodels flavor could not take the regressors, and MLflow warned on every log)."""
    from ml_assets.cash_forecaster_model import fitted_parameters

    settings = platform[0]
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{cashflow.model_name(stream)}/1")
    assert {i.name for i in model.metadata.get_input_schema().inputs} == {"cash_in", *cashflow.EXOG}
    series = _query(settings, cashflow.SERIES_SQL, [stream])
    observed = series[~series["is_future"]].tail(56)[["cash_in", *cashflow.EXOG]].astype(float)
    ahead = series[series["is_future"]].head(14)[["cash_in", *cashflow.EXOG]].astype(float).assign(cash_in=np.nan)
    predicted = model.predict(pd.concat([observed, ahead], ignore_index=True))
    expected = cashflow.forecast(fitted_parameters(model), observed, ahead)
    assert len(predicted) == 14
    pd.testing.assert_frame_equal(predicted.reset_index(drop=True), expected.reset_index(drop=True))
    assert (predicted["lower_95"] <= predicted["predicted_cash_in"]).all()
    assert (predicted["predicted_cash_in"] <= predicted["upper_95"]).all()


def test_a_champion_logged_before_the_wrapper_still_serves(tmp_path):
    """Versions logged with statsmodels' own flavor (before the pyfunc wrapper) load the same way."""
    from ml_assets.cash_forecaster_model import fitted_parameters

    rng = np.random.default_rng(1)
    days = pd.DataFrame({"cash_in": rng.uniform(0, 5000, 90), **dict.fromkeys(cashflow.EXOG, 0.0)})
    results = cashflow.fit(days)
    mlflow.statsmodels.save_model(results, str(tmp_path / "model"))
    loaded = fitted_parameters(mlflow.pyfunc.load_model(str(tmp_path / "model")))
    np.testing.assert_allclose(loaded.params, results.params)


def test_anomaly_forests_score_the_same_in_worker_processes_in_process_and_for_one_day(platform, monkeypatch):
    """A backfill fits its weekly forests in worker processes; a new day fits in process. Both, and
    the backfill's stored rows, must give the same scores, and no worker outlives the scoring."""
    settings, defs, instance = platform[:3]
    config = anomalies.AnomalyConfig()
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        weeks = {
            kind.name: anomalies.scoring_weeks(con, kind, START, TRAINED_THROUGH, config)[0] for kind in anomalies.KINDS
        }
    tasks = [(kind, history, rows) for kind in anomalies.KINDS for history, rows in weeks[kind.name]]
    assert len(tasks) >= 2 * anomalies.FORESTS_PER_WORKER  # the backfill took the worker path
    in_workers = pd.concat(anomalies.score_weeks(tasks, config), ignore_index=True)
    assert not multiprocessing.active_children()
    monkeypatch.setattr(anomalies, "FORESTS_PER_WORKER", len(tasks) + 1)
    pd.testing.assert_frame_equal(in_workers, pd.concat(anomalies.score_weeks(tasks, config), ignore_index=True))

    day = TRAINED_THROUGH - timedelta(days=10)
    sql = (
        "select subject_kind, subject_id, anomaly_score, is_anomaly, reason from ml.transaction_anomalies "
        "where score_date = ? order by subject_kind, subject_id"
    )
    from_backfill = _query(settings, sql, [day])
    assert len(from_backfill) and set(from_backfill["subject_kind"]) == {"payment", "bank_transaction"}
    # the day's gold score tables are rebuilt with it, as a run does: they carry the scoring run's id
    gold = [key for key in defs.resolve_all_asset_keys() if key.path[0] == "gold" and key.path[1] in SERVING_TABLES]
    defs.resolve_job_def(ML_JOB).execute_in_process(
        instance=instance, partition_key=f"{day}", asset_selection=[dg.AssetKey(["ml", "transaction_anomalies"]), *gold]
    )
    pd.testing.assert_frame_equal(_query(settings, sql, [day]), from_backfill)


def test_decide_promotion_rules():
    assert decide_promotion(3.0, None, {"due": 5.0}).promoted
    assert not decide_promotion(3.0, 2.9, {"due": 5.0}).promoted
    assert not decide_promotion(3.0, None, {"due": 5.0, "median": 2.5}).promoted
    assert decide_promotion(0.9, 0.8, {"rate": 0.5}, lower_is_better=False).promoted


def test_the_gate_promotes_only_on_a_holdout_that_can_decide():
    """Too few rows, or no late payer in the holdout, decides nothing; a small edge within the
    noise is undecided; a clear one is promoted, with its interval as evidence."""
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 3, 400)
    baseline = np.abs(noise + 1.0)
    minimum = Minimum(rows=100, positives=10)

    small = weigh(baseline[:57] * 0.5, {"customer_median": baseline[:57]}, minimum)
    assert decide(small, first=True).reason.startswith("undecided: 57 labelled holdout rows, fewer than 100")
    no_late_payer = weigh(baseline, {"overall_rate": baseline}, minimum, labels=np.zeros(400))
    assert not decide(no_late_payer, first=True).promoted
    assert "0 positive and 400 negative holdout rows" in no_late_payer.shortfall

    within_noise = weigh(baseline - rng.normal(0.02, 1.0, 400), {"customer_median": baseline}, minimum)
    assert decide(within_noise, first=True).reason.startswith("undecided: not surely better than customer_median")
    clear = weigh(baseline * 0.6, {"customer_median": baseline, "due_date": baseline + 2}, minimum)
    decision = decide(clear, first=True)
    assert decision.promoted and decision.reason.startswith("first model: surely better than customer_median, due_date")
    [median, _] = clear.as_dict()["comparisons"]
    assert median["interval"][1] < 0 and median["mean_difference"] == pytest.approx(-0.4 * baseline.mean(), abs=1e-3)
    logged = clear.metrics()  # what the MLflow run of the training keeps
    assert logged["evidence_holdout_rows"] == 400 and logged["evidence_vs_due_date_high"] < 0
    assert logged["evidence_vs_customer_median_low"] == pytest.approx(median["interval"][0], abs=1e-4)
    again = weigh(baseline * 0.6, {"customer_median": baseline}, minimum)
    assert again.comparisons == clear.comparisons[:1]  # a fixed seed: a rerun decides the same


def test_the_bootstrap_drawn_a_block_at_a_time_gives_the_intervals_of_one_draw(monkeypatch):
    """Memory is bounded by drawing the resamples in blocks; the intervals must not change with it
    (a rerun, or a bigger holdout's smaller blocks, decides the same)."""
    rng = np.random.default_rng(5)
    baseline = np.abs(rng.normal(1, 3, 900))
    candidate, others = baseline - rng.normal(0.1, 1.0, 900), {"customer_median": baseline, "due_date": baseline + 1}
    at_once = paired_intervals(candidate, others)  # 2000 x 900 indices: one block
    monkeypatch.setattr("ml_assets.evidence.DRAWS_PER_BLOCK", 7 * 900 + 5)  # blocks of 7 resamples, the last one short
    assert paired_intervals(candidate, others) == at_once
    assert at_once["due_date"][0] == pytest.approx(at_once["customer_median"][0] - 1)


def test_the_reliability_table_compares_given_probabilities_with_outcomes():
    probability = np.array([0.05, 0.05, 0.15, 0.95, 1.0, 0.97])
    label = np.array([0, 0, 1, 1, 1, 0])
    lines = reliability_table(probability, label).splitlines()
    assert lines[2:] == [
        "| 0.0-0.1 | 2 | 0.050 | 0.000 |",
        "| 0.1-0.2 | 1 | 0.150 | 1.000 |",
        "| 0.9-1.0 | 3 | 0.973 | 0.667 |",  # 1.0 belongs to the last tenth
    ]


def test_expected_calibration_error_weighs_each_tenths_gap_by_its_rows():
    probability = np.array([0.05, 0.05, 0.15, 0.95, 1.0, 0.97])
    label = np.array([0, 0, 1, 1, 1, 0])
    # gaps: 0.05 on two rows, 0.85 on one, 0.3067 on three
    assert expected_calibration_error(probability, label) == pytest.approx((0.1 + 0.85 + 0.92) / 6)
    assert expected_calibration_error(np.array([0.25] * 4), np.array([1, 0, 0, 0])) == 0


def test_a_calibrated_classifier_gives_probabilities_that_mean_what_they_say():
    """Out-of-fold Platt scaling over the booster: on rows drawn from known probabilities, the
    calibrated model's ECE on fresh rows is small and no worse than the raw booster's; a class
    rarer than two rows leaves the booster as it is."""
    rng = np.random.default_rng(0)

    def rows(n):
        x = rng.normal(size=n)
        frame = pd.DataFrame({"segment": rng.choice(["a", "b"], n), "x": x})
        return frame, (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x - 1.5)))).astype(int)

    train, label = rows(2000)
    fresh, outcome = rows(4000)
    calibrated = calibrated_classifier(["segment"], 150, 0.05, label).fit(train, label)
    raw = calibrated_classifier(["segment"], 150, 0.05, np.array([0, 1])).fit(train, label)
    assert calibration_of(calibrated).startswith("sigmoid on 5-fold") and calibration_of(raw).startswith("none")
    ece = expected_calibration_error(calibrated.predict_proba(fresh)[:, 1], outcome)
    assert ece < 0.03
    assert ece <= expected_calibration_error(raw.predict_proba(fresh)[:, 1], outcome)


def test_a_grouped_calibration_keeps_each_groups_rows_in_one_fold_and_forgets_the_folds():
    """An invoice's weekly rows share its label: the calibration's folds are made by group and
    stratified (as many as the rarer class has groups), the fit equals one given those folds by
    hand, and the fitted model keeps StratifiedGroupKFold(n), not the folds' row indices (they would
    be saved with it)."""
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(60), 10)
    label = np.repeat((np.arange(60) % 20 == 0).astype(int), 10)  # 3 positive invoices of 60
    train = pd.DataFrame({"segment": "a", "x": rng.normal(size=600) + label})
    model = calibrated_classifier(["segment"], 40, 0.1, label, groups)
    assert isinstance(model.cv, StratifiedGroupKFold) and model.cv.n_splits == 3
    fitted = fit_classifier(model, train, label, groups)
    assert isinstance(fitted.cv, StratifiedGroupKFold) and calibration_of(fitted).endswith(
        "3-fold out-of-fold predictions, folds by group"
    )
    folds = list(StratifiedGroupKFold(3).split(train, label, groups))
    assert all(set(groups[test]).isdisjoint(groups[fit]) for fit, test in folds)
    by_hand = CalibratedClassifierCV(
        boosted_classifier(["segment"], 40, 0.1), method="sigmoid", cv=folds, ensemble=False
    )
    np.testing.assert_allclose(fitted.predict_proba(train), by_hand.fit(train, label).predict_proba(train))
    one_positive = np.repeat((np.arange(60) == 0).astype(int), 10)  # ten rows, but one invoice
    assert calibration_of(calibrated_classifier(["segment"], 40, 0.1, one_positive, groups)).startswith("none")


def test_a_grouped_calibration_never_fits_a_fold_without_a_positive():
    """Two late invoices of one row each among larger on-time ones: folds by group alone put both in
    one fold, so the other fold's fitting rows hold no positive and the sigmoid cannot be fitted
    (the demo world ending 2026-12-05 failed so). The folds are stratified; with too few groups for
    any two folds to hold both classes, the booster goes uncalibrated instead of failing."""
    groups = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, 4])
    label = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    train = pd.DataFrame({"segment": "a", "x": np.arange(10.0) + 5 * label})
    assert any(np.unique(label[fit]).size == 1 for fit, _ in GroupKFold(2).split(train, label, groups))
    fitted = fit_classifier(calibrated_classifier(["segment"], 20, 0.1, label, groups), train, label, groups)
    assert calibration_of(fitted).startswith("sigmoid on 2-fold") and fitted.predict_proba(train).shape == (10, 2)
    lone = np.array([0, 0, 0, 0, 1, 1])  # both positives in one group: no two folds can hold both
    frame = pd.DataFrame({"segment": "a", "x": np.arange(6.0)})
    model = CalibratedClassifierCV(boosted_classifier(["segment"], 20, 0.1), cv=StratifiedGroupKFold(2))
    fitted = fit_classifier(model, frame, lone, np.array([0, 0, 1, 1, 2, 2]))
    assert calibration_of(fitted).startswith("none") and fitted.predict_proba(frame).shape == (6, 2)


def test_baselines_in_sql_put_rows_where_their_fit_does():
    """A baseline is fitted in pandas (churn's recency bands by pd.cut) and applied as SQL: both
    must see the same bands, edges included, and fall back to the prior where the fit has nothing."""
    fitted = {"prior": 0.3, "rate_by_band": [0.1, 0.2, None, 0.4, 0.5, 0.6]}  # no account fell in (14, 30]
    recency = [-5, -1, 0, 7, 7.5, 14, 20, 30, 45, 100, 120, 10_000, 20_000, None]
    rows = pd.DataFrame({"recency_days": pd.Series(recency, dtype=float)})
    rates = pd.Series([fitted["prior"] if r is None else r for r in fitted["rate_by_band"]])
    expected = pd.cut(rows["recency_days"], churn.RECENCY_BANDS, labels=False).map(rates).fillna(fitted["prior"])
    got = baseline_probabilities(churn.SPEC, fitted, rows)
    assert got["recency_rate"].tolist() == pytest.approx(expected.tolist())
    assert got["recency_rate"][[7, 1]].tolist() == pytest.approx([0.3, 0.3])  # the unseen band, and -1 (outside)
    assert got["overall_rate"].tolist() == pytest.approx([0.3] * len(rows))

    shares = pd.DataFrame(
        {
            "prior_share_over_30_late": pd.Series([0.25, None, 1.0], dtype=float),
            "prior_paid_invoices": [4, 0, 2],
        }
    )
    got = baseline_probabilities(collection_priority.SPEC, {"prior": 0.12, "strength": 2.0}, shares)
    # (late + 2 x 0.12) / (paid + 2): two invoices, both late, is not a certainty
    assert got["customer_history"].tolist() == pytest.approx([(1 + 0.24) / 6, 0.12, (2 + 0.24) / 4])
    assert got["overall_rate"].tolist() == pytest.approx([0.12] * 3)
    raw = baseline_probabilities(collection_priority.SPEC, {"prior": 0.12}, shares)  # fitted before shrinkage
    assert raw["customer_history"].tolist() == pytest.approx([0.25, 0.12, 1.0])


def test_the_customer_history_baseline_is_shrunk_as_much_as_its_training_rows_say():
    """Customers whose record predicts their next invoice get little shrinkage; customers whose
    record is noise (a few invoices each, all with the same chance) get a strong pull to the prior."""
    rng = np.random.default_rng(7)
    customers = 400

    def rows(own_rate: np.ndarray) -> pd.DataFrame:
        paid = rng.integers(1, 4, customers)
        late = rng.binomial(paid, own_rate)
        return pd.DataFrame(
            {
                "prior_share_over_30_late": late / paid,
                "prior_paid_invoices": paid,
                "paid_over_30_late": rng.random(customers) < own_rate,
            }
        )

    habitual = collection_priority.SPEC.fit_baselines(rows(rng.choice([0.02, 0.95], customers)))
    noise = collection_priority.SPEC.fit_baselines(rows(np.full(customers, 0.3)))
    assert habitual["strength"] <= 1.0 and noise["strength"] >= 20.0
    assert noise["prior"] == pytest.approx(0.3, abs=0.06)


def test_the_payment_interval_is_calibrated_on_the_newest_training_rows_and_covers_fresh_invoices():
    """Split conformal: a probe learns from the older training rows and the interval's widening is
    measured on the labels of the newest days, as many as the holdout's; the model served, fitted
    on every row, takes that widening and on invoices neither saw covers close to its 80 %. Boosted
    quantiles alone under-cover on heavy-tailed delays, so the widening has work to do."""
    rng = np.random.default_rng(3)

    def invoices(n: int, first_known: date) -> pd.DataFrame:
        frame = pd.DataFrame({column: rng.normal(size=n) for column in payment_date.NUMERIC})
        frame["terms_days"] = rng.choice([15.0, 30.0], n)
        frame[payment_date.CATEGORICAL] = "x"
        frame["label_known_on"] = pd.Timestamp(first_known) + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
        habit = 4 * frame["prior_median_days_late"]
        frame["days_to_pay"] = frame["terms_days"] + habit + 3 * rng.standard_t(2, n)
        return frame

    train = invoices(2_000, date(2019, 1, 1))
    config = payment_date.PaymentModelConfig(max_iter=60)
    model, figures = payment_date.fit_calibrated(train, config)
    known = train["label_known_on"]
    newest = known[known > known.max() - pd.Timedelta(days=config.holdout_days)]  # the holdout's span
    assert (figures["probe_fit_rows"], figures["calibration_rows"]) == (2_000 - len(newest), len(newest))
    assert figures["calibration_labels_from"] == str(newest.min().date())
    assert figures["interval_margin_days"] > 0
    fresh = invoices(4_000, date(2019, 8, 1))
    coverage = payment_date.interval_coverage(model, fresh, fresh["days_to_pay"].to_numpy(float))
    assert 0.75 <= coverage <= 0.86
    uncalibrated = payment_estimators.PaymentDateModel(60).fit(train, train["days_to_pay"])
    assert payment_date.interval_coverage(uncalibrated, fresh, fresh["days_to_pay"].to_numpy(float)) < coverage


def test_an_interval_that_over_covers_is_narrowed_but_never_past_the_median():
    """Conformalized quantile regression moves the ends in as well as out: a model fitted on noisy
    delays and calibrated on calm ones gets a negative margin, covers close to 80 % of fresh calm
    invoices instead of nearly all, and every interval still holds its median."""
    rng = np.random.default_rng(11)

    def invoices(n: int, noise: float) -> pd.DataFrame:
        frame = pd.DataFrame({column: rng.normal(size=n) for column in payment_date.NUMERIC})
        frame["terms_days"], frame[payment_date.CATEGORICAL] = 30.0, "x"
        frame["days_to_pay"] = 30 + 2 * frame["prior_median_days_late"] + noise * rng.normal(size=n)
        return frame

    noisy, calm, fresh = invoices(1_500, 8.0), invoices(600, 2.0), invoices(4_000, 2.0)
    model = payment_estimators.PaymentDateModel(60).fit(noisy, noisy["days_to_pay"])
    actual = fresh["days_to_pay"].to_numpy(float)
    assert payment_date.interval_coverage(model, fresh, actual) > 0.95
    model.calibrate(calm, calm["days_to_pay"])
    assert model.interval_margin_ < 0
    assert 0.75 <= payment_date.interval_coverage(model, fresh, actual) <= 0.86
    low, high = model.predict_interval(fresh)
    assert np.all(low <= model.predict(fresh)) and np.all(model.predict(fresh) <= high)


def test_the_calibration_rows_span_the_holdouts_days_unless_the_probe_would_have_too_few():
    """The newest 30 days of labels calibrate; on a young ledger, where the older rows would leave
    the probe fewer than its minimum, the probe takes the older half."""
    known = pd.Series(pd.date_range("2020-01-01", periods=100, freq="D"))
    rows = pd.DataFrame({"label_known_on": known.sample(frac=1, random_state=1).to_numpy(), "n": range(100)})
    probe, calibration = payment_date.calibration_split(rows, days=30, min_probe_rows=50)
    assert (len(probe), len(calibration)) == (70, 30)
    assert probe["label_known_on"].max() < calibration["label_known_on"].min() == pd.Timestamp("2020-03-11")
    probe, calibration = payment_date.calibration_split(rows, days=60, min_probe_rows=50)
    assert (len(probe), len(calibration)) == (50, 50)  # 40 older rows are too few: the older half
    assert probe["label_known_on"].max() < calibration["label_known_on"].min()


def test_the_conformal_margin_is_the_finite_sample_quantile_of_the_scores():
    """The ceil((n + 1) * 0.8)-th smallest of n scores: with 9 scores the 8th, with 3 the largest,
    with none no margin."""
    scores = np.arange(9.0) - 4  # -4 .. 4
    assert payment_date.conformal_margin(scores, 0.8) == 3.0
    assert payment_date.conformal_margin(np.array([-2.0, -1.0, 5.0]), 0.8) == 5.0
    assert payment_date.conformal_margin(np.array([]), 0.8) == 0.0


def test_an_unpaid_invoice_is_taken_as_paid_after_the_days_it_has_been_open():
    """The censored row's stand-in label: past its bound always, at the model's median where the
    bound says nothing, the further out the longer the invoice has been open."""
    rng = np.random.default_rng(5)
    rows = pd.DataFrame({column: rng.normal(size=400) for column in payment_date.NUMERIC})
    rows["terms_days"], rows[payment_date.CATEGORICAL] = 30.0, "x"
    model = payment_estimators.PaymentDateModel(40).fit(rows, 35 + 3 * pd.Series(rng.normal(size=400)))
    median = float(np.median(model.predict(rows.head(3))))
    unpaid = rows.head(3).assign(open_days=[0.0, 60.0, 90.0])
    taken = model.days_given_open(unpaid)[0.5]
    assert taken[0] == pytest.approx(model.predict(unpaid.head(1))[0], abs=0.5) and 30 < median < 40
    assert taken[1] > 60 and taken[2] > 90 and taken[2] > taken[1]


def test_a_champion_logged_when_the_model_class_lived_in_payment_date_still_loads(tmp_path, monkeypatch):
    """The model classes moved to ``payment_estimators`` (so the code location loads without
    scikit-learn); a champion saved before names ``ml_assets.payment_date.PaymentDateModel`` in its
    skops file and trusted types. Saved here as then, by MLflow's sklearn flavour, and loaded back."""
    import mlflow.sklearn

    from ml_assets import tracking

    rng = np.random.default_rng(5)
    rows = pd.DataFrame({column: rng.normal(size=200) for column in payment_date.NUMERIC})
    rows["terms_days"], rows[payment_date.CATEGORICAL] = 30.0, "x"
    model = payment_estimators.PaymentDateModel(20).fit(rows, 35 + 3 * pd.Series(rng.normal(size=200)))
    old = [t for t in tracking.TRUSTED_TYPES if t != "ml_assets.payment_estimators.PaymentDateModel"]
    monkeypatch.setattr(payment_estimators.PaymentDateModel, "__module__", "ml_assets.payment_date")
    mlflow.sklearn.save_model(model, tmp_path / "old", serialization_format="skops", skops_trusted_types=old)
    monkeypatch.undo()
    assert b"ml_assets.payment_date" in next((tmp_path / "old").glob("model.skops")).read_bytes()
    loaded = mlflow.sklearn.load_model(str(tmp_path / "old"))
    assert type(loaded) is payment_estimators.PaymentDateModel
    np.testing.assert_allclose(loaded.predict(rows.head(5)), model.predict(rows.head(5)))


def test_invoices_still_open_past_due_teach_the_model_what_paid_ones_cannot():
    """Right-censoring: a slow payer's invoices are mostly still open when a training's labels end,
    so the paid ones over-represent fast payers. A slow customer here is one with invoices past
    due at posting; its invoices take 60 days late, a prompt one's 2. Taking the invoices open
    past due at the split day as rows paid after they had been open brings the slow payers'
    predictions near their truth; without them the model mistakes them for the few fast ones
    it saw."""
    rng = np.random.default_rng(11)
    n, split = 3_000, pd.Timestamp("2020-03-01")
    invoices = pd.DataFrame({column: rng.normal(size=n) for column in payment_date.NUMERIC})
    invoices[payment_date.CATEGORICAL] = "x"
    invoices["terms_days"] = 30.0
    invoices["prior_median_days_late"] = np.nan  # no paid history: the censored case
    slow = rng.random(n) < 0.3
    flagged = rng.random(n) < np.where(slow, 0.8, 0.1)  # a hint, not a verdict
    invoices["overdue_invoices_at_posting"] = np.where(flagged, rng.integers(1, 5, n), 0).astype(float)
    invoices["invoice_date"] = split - pd.to_timedelta(rng.integers(0, 100, n), unit="D")
    invoices["known_on"] = invoices["invoice_date"]
    invoices["due_date"] = invoices["invoice_date"] + pd.Timedelta(days=30)
    invoices["days_to_pay"] = 30 + np.where(slow, 60.0, 2.0) + rng.normal(0, 2, n).round()
    paid_on = invoices["invoice_date"] + pd.to_timedelta(invoices["days_to_pay"], unit="D")
    invoices["label_known_on"] = paid_on
    paid = invoices[paid_on <= split]
    unpaid = payment_date.open_past_due(
        invoices[paid_on > split].assign(label_known_on=pd.NaT, days_to_pay=np.nan), split.date()
    )
    assert len(unpaid) and (unpaid["open_days"] > 30).all() and unpaid["days_to_pay"].isna().all()
    config = payment_date.PaymentModelConfig(max_iter=60)
    censored, figures = payment_date.fit_calibrated(paid, config, unpaid)
    blind, _ = payment_date.fit_calibrated(paid, config.model_copy(update={"unpaid_rounds": 0}), unpaid)
    assert figures["unpaid_rows"] == len(unpaid)
    hinted = invoices[slow & flagged]  # what a model can tell apart: slow payers with the hint
    truth = hinted["days_to_pay"].to_numpy(float)
    censored_error = np.abs(censored.predict(hinted) - truth).mean()
    blind_error = np.abs(blind.predict(hinted) - truth).mean()
    assert censored_error < 0.5 * blind_error


def test_score_contracts(platform):
    settings, ml = platform[0], platform[4]
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message.strip()[:300]}" for e in ml.all_events if e.is_step_failure
    ]
    assert ml.success, failures
    open_rows = _query(
        settings,
        "select count(*) as n from silver.ftr_invoice_risk where status = 'open' and as_of_date = ?",
        [TRAINED_THROUGH],
    )["n"][0]
    scores = _query(settings, "select * from gold.score_payment_pred where score_date = ?", [TRAINED_THROUGH])
    assert len(scores) == open_rows > 0
    assert scores["prediction_confidence"].between(0, 1).all()
    assert (scores["interval_lower_date"] <= scores["predicted_payment_date"]).all()
    assert (scores["predicted_payment_date"] <= scores["interval_upper_date"]).all()
    # scored by the version serving that day, as the model asset's materialization of the day records it
    served = _materialization(ml, "ml/payment_date_model", f"{TRAINED_THROUGH}")["serving_versions"][PAYMENT_MODEL]
    assert set(scores["model_version"]) == {served} and scores["prediction_timestamp"].notna().all()
    priority = _query(settings, "select * from gold.score_ar_priority where score_date = ?", [TRAINED_THROUGH])
    assert len(priority) == open_rows and sorted(priority["priority_rank"]) == list(range(1, open_rows + 1))
    assert priority["probability_over_30_late"].between(0, 1).all()
    forecast = _query(settings, "select * from gold.score_cashflow_fcst where forecast_date = ?", [TRAINED_THROUGH])
    assert sorted(forecast.groupby("stream")["horizon_days"].max().tolist()) == [182, 182]
    assert (forecast["lower_95"] <= forecast["predicted_cash_in"]).all() and (
        forecast["predicted_cash_in"] <= forecast["upper_95"]
    ).all()
    cash_in = _query(
        settings,
        "select sum(predicted_cash_in) as total from gold.kpi_predicted_cash_in where score_date = ?",
        [TRAINED_THROUGH],
    )
    assert cash_in["total"][0] == pytest.approx(scores["open_amount"].sum(), rel=1e-6)
    worklist = _query(
        settings,
        "select * from gold.ar_collection_worklist where score_date = ? order by priority_rank",
        [TRAINED_THROUGH],
    )
    assert 0 < len(worklist) < open_rows  # only the invoices worth a call, numbered 1..n in priority order
    assert worklist["call_order"].tolist() == list(range(1, len(worklist) + 1))
    # each invoice's first prediction, kept window by window, is the first of all its scores
    first = _query(settings, "select * exclude (predicted_on_key) from gold.first_payment_predictions order by doc_id")
    earliest = _query(
        settings,
        """select doc_id, score_date as predicted_on, predicted_payment_date, interval_lower_date,
                                          interval_upper_date, model_version
                                   from gold.score_payment_pred
                                   qualify row_number() over (partition by doc_id order by score_date) = 1
                                   order by doc_id""",
    )
    pd.testing.assert_frame_equal(first, earliest, check_dtype=False)
    # the worklist ranks on its own (the key alone); its ranks are the view's
    ranks = priority.set_index("doc_id")["priority_rank"]
    assert worklist["priority_rank"].tolist() == ranks.loc[worklist["doc_id"]].tolist()
    # a predicted date already past moves to tomorrow; a date ahead is kept
    day, predicted, expected = (
        pd.Timestamp(TRAINED_THROUGH),
        worklist["predicted_payment_date"],
        worklist["expected_payment_date"],
    )
    assert (
        worklist["later_than_predicted"].any()
        and worklist["later_than_predicted"].tolist() == (predicted <= day).tolist()
    )
    assert (expected[predicted <= day] == day + pd.Timedelta(days=1)).all() and (
        expected[predicted > day] == predicted[predicted > day]
    ).all()


@pytest.fixture(scope="module")
def new_day(platform):
    """The daily run of END, the day after the models' training cutoff: the new day the tests
    below train and score (each test can run alone)."""
    defs, instance = platform[1:3]
    return run_days(defs, instance, END, END)


def test_scoring_a_new_day_uses_the_registry_champion(platform, new_day):
    settings, defs, instance = platform[:3]
    daily = new_day
    request = ml_run_request(instance.get_run_by_id(daily.run_id))
    assert request.partition_key == f"{END}"
    job = defs.resolve_job_def(ML_JOB)
    result = job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        raise_on_error=False,
        asset_selection=[dg.AssetKey(["ml", "payment_date_scores"])],
    )
    assert result.success
    champion = str(
        MlflowClient(settings.mlflow_tracking_uri).get_model_version_by_alias(PAYMENT_MODEL, CHAMPION).version
    )
    scored = _query(settings, "select distinct model_version from ml.payment_date_scores where score_date = ?", [END])
    assert scored["model_version"].tolist() == [champion]


def test_a_day_between_trainings_keeps_the_last_training(platform, new_day):
    settings, defs, instance = platform[:3]
    client = MlflowClient(settings.mlflow_tracking_uri)
    versions = len(client.search_model_versions(f"name='{PAYMENT_MODEL}'"))
    job = defs.resolve_job_def(ML_JOB)
    model = [dg.AssetKey(["ml", "payment_date_model"])]
    last_training = instance.get_latest_materialization_event(model[0]).asset_materialization.metadata
    trained_as_of = date.fromisoformat(last_training["trained_as_of"].value)
    checks_before = {c["check_name"]: c["passed"] for c in last_training["check_results"].value}
    day = trained_as_of + timedelta(days=1)  # the day after the training in force (at most END)

    kept = job.execute_in_process(instance=instance, partition_key=f"{day}", asset_selection=model)
    meta = _materialization(kept, "ml/payment_date_model", f"{day}")
    assert meta["retrained"] is False and meta["trained_as_of"] == f"{trained_as_of}"
    # the version the last training registered (which one depends on the tests run before this one)
    assert "no training again within 7 days" in meta["kept_reason"]
    assert meta["model_version"] == last_training["model_version"].value
    assert len(client.search_model_versions(f"name='{PAYMENT_MODEL}'")) == versions  # nothing trained or registered
    reported = {c.check_name: c.passed for c in kept.get_asset_check_evaluations() if c.check_name in checks_before}
    assert reported == checks_before  # the training's checks are re-reported with the kept partition

    # retraining every day is one setting away; a training as of the same day again always trains
    daily = {"ops": {"ml__payment_date_model": {"config": DAILY}}}
    retrained = job.execute_in_process(
        instance=instance, partition_key=f"{day}", asset_selection=model, run_config=daily
    )
    meta = _materialization(retrained, "ml/payment_date_model", f"{day}")
    assert meta["retrained"] is True and meta["trained_as_of"] == f"{day}"
    assert len(client.search_model_versions(f"name='{PAYMENT_MODEL}'")) == versions + 1


def test_without_a_champion_the_customer_median_baseline_its_training_fitted_scores(platform, new_day):
    from ml_assets.payment_date import TRAINING_SQL, PaymentModelConfig, fit_serving_baseline, predictions_frame
    from ml_assets.payment_estimators import CustomerMedianBaseline
    from ml_assets.training import training_split

    settings, defs, instance = platform[:3]
    # the training in force on the day (the range's last training, or a later test's)
    training = _day_record(instance, "payment_date_model", TRAINED_THROUGH)
    trained_as_of = date.fromisoformat(training["trained_as_of"].value)
    meta = _score_without_champion(settings, defs, instance, PAYMENT_MODEL, "payment_date_scores", TRAINED_THROUGH)
    assert meta["scored_with"] == f"baseline fitted by the training as of {trained_as_of}"

    # the training stored the fit its labels give, and the scores are that baseline's predictions
    stored = training["serving_baseline"].value
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        config = PaymentModelConfig()
        whole = fit_serving_baseline(training_split(con, TRAINING_SQL, trained_as_of, config)).params()
        # a baseline fitted outside a training reads four columns of the same rows: the same fit
        narrow = fit_serving_baseline(
            training_split(con, TRAINING_SQL, trained_as_of, config, CustomerMedianBaseline.COLUMNS)
        ).params()
        features = con.execute(
            "select * from silver.ftr_invoice_at_posting where doc_id in "
            "(select doc_id from ml.payment_date_scores where score_date = ?)",
            [TRAINED_THROUGH],
        ).df()
    assert stored == whole and narrow == whole and stored["offsets"][0][1] < 0 < stored["offsets"][1][1]
    expected = predictions_frame(CustomerMedianBaseline.from_params(stored), features).assign(doc_id=features["doc_id"])
    scores = _query(settings, "select * from ml.payment_date_scores where score_date = ?", [TRAINED_THROUGH])
    assert len(scores) > 0 and set(scores["model_version"]) == {"baseline:customer_median_delay"}
    compared = scores.merge(expected, on="doc_id", suffixes=("", "_expected"))
    assert len(compared) == scores["doc_id"].nunique() == len(scores)
    for column in ("predicted_days_to_pay", "interval_lower_days", "interval_upper_days", "confidence"):
        assert compared[column].tolist() == pytest.approx(compared[f"{column}_expected"].tolist(), abs=1e-9), column
    assert (scores["interval_lower_date"] <= scores["predicted_payment_date"]).all()
    assert (scores["predicted_payment_date"] <= scores["interval_upper_date"]).all()
    assert scores["confidence"].between(0, 1).all()


def _day_record(instance: dg.DagsterInstance, model: str, day: date) -> dict:
    """The metadata of the latest materialization of ml/<model> for ``day``."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["ml", model]), asset_partitions=[f"{day}"]), limit=1
    ).records
    return dict(records[0].asset_materialization.metadata)


def _score_without_champion(settings, defs, instance, model_name: str, scores: str, day: date) -> dict:
    """Score one day with the scores asset ml/<scores> as before any model beat the baselines: the
    model asset's materialization of the day records no champion serving (and the registry has
    none); both are set back after. Returns the scores' materialization's metadata."""
    client = MlflowClient(settings.mlflow_tracking_uri)
    version = client.get_registered_model(model_name).aliases.get(CHAMPION)  # None if no model won yet
    model_key = dg.AssetKey(["ml", scores.removesuffix("_scores") + "_model"])
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=model_key, asset_partitions=[f"{day}"]), limit=1
    ).records
    recorded = dict(records[0].asset_materialization.metadata) if records else None

    def record(metadata: dict) -> None:
        instance.report_runless_asset_event(dg.AssetMaterialization(model_key, partition=f"{day}", metadata=metadata))

    if version:
        client.delete_registered_model_alias(model_name, CHAMPION)
    if recorded is not None:
        record({**recorded, "serving_versions": dg.MetadataValue.json({model_name: None})})
    try:
        result = defs.resolve_job_def(ML_JOB).execute_in_process(
            instance=instance, partition_key=f"{day}", asset_selection=[dg.AssetKey(["ml", scores])]
        )
    finally:
        if version:
            client.set_registered_model_alias(model_name, CHAMPION, version)
        if recorded is not None:
            record(recorded)
    assert result.success
    return _materialization(result, f"ml/{scores}", f"{day}")


def _expected_baseline_probabilities(settings: Settings, day: date, fitted: dict):
    rows = _query(settings, "select * from silver.ml_training_ar_scoring where as_of_date = ?", [day])
    # the customer-history baseline: the customer's share of invoices paid > 30 days late shrunk toward
    # the prior (the prior alone without paid invoices);
    # the scores carry the view's id columns (the baseline reads its rows from the view's sources)
    carried = ["invoice_id", "customer_number", "open_amount", "days_past_due"]
    shrunk = collection_priority.shrunk_share(
        rows["prior_share_over_30_late"].to_numpy(float),
        rows["prior_paid_invoices"].to_numpy(float),
        fitted["prior"],
        fitted["strength"],
    )
    expected = rows[["doc_id", *carried]].assign(expected=shrunk)
    scored = _query(
        settings,
        f"select doc_id, {', '.join(carried)}, probability_over_30_late, model_version "
        "from ml.ar_priority_scores where score_date = ? and model_version not like 'rule:%'",
        [day],
    )
    compared = scored.merge(expected, on="doc_id", how="outer", indicator=True, suffixes=("", "_expected"))
    for column in carried:
        both = compared[compared["_merge"] == "both"]
        pd.testing.assert_series_equal(both[column], both[f"{column}_expected"], check_dtype=False, check_names=False)
    return compared


def test_without_a_champion_the_worklist_scores_with_the_baseline_its_training_fitted(platform, new_day):
    settings, defs, instance = platform[:3]
    # a day the range scored: the baseline comes from the metadata of the training in force, no training rows read
    training = _day_record(instance, "ar_priority_model", TRAINED_THROUGH)
    trained_as_of = date.fromisoformat(training["trained_as_of"].value)
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        labelled_by = {
            day: collection_priority.SPEC.fit_baselines(
                read_training(con, collection_priority.SPEC.training_sql, day, ClassifierConfig())
            )
            for day in (trained_as_of, END)
        }
    fitted = training["serving_baseline"].value
    assert fitted == labelled_by[trained_as_of] and 0 < fitted["prior"] < 1  # the same fit as from the labels
    assert fitted["strength"] in collection_priority.PRIOR_STRENGTHS
    reliability = training["holdout_reliability"].value
    assert reliability.startswith("| probability | rows | mean given | share positive |")
    meta = _score_without_champion(settings, defs, instance, PRIORITY_MODEL, "ar_priority_scores", TRAINED_THROUGH)
    assert meta["model_version"] == "baseline:customer_history"
    assert meta["scored_with"] == f"baseline fitted by the training as of {trained_as_of}"
    compared = _expected_baseline_probabilities(settings, TRAINED_THROUGH, fitted)
    assert len(compared) > 0 and (compared["_merge"] == "both").all()
    assert compared["probability_over_30_late"].tolist() == pytest.approx(
        compared["expected"].round(4).tolist(), abs=1e-9
    )

    # a day without a training of its own: fitted on the labels known by that day
    meta = _score_without_champion(settings, defs, instance, PRIORITY_MODEL, "ar_priority_scores", END)
    assert meta["scored_with"] == f"baseline fitted on the labels known by {END}"
    compared = _expected_baseline_probabilities(settings, END, labelled_by[END])
    assert len(compared) > 0 and (compared["_merge"] == "both").all()
    assert compared["probability_over_30_late"].tolist() == pytest.approx(
        compared["expected"].round(4).tolist(), abs=1e-9
    )


def test_a_model_without_enough_data_fails_its_check_and_the_scores_still_build(platform):
    settings, defs, instance = platform[:3]
    starved = {
        "ops": {
            "ml__churn_model": {"config": {"min_training_rows": 10**9, **DAILY}},
            "ml__cashflow_model": {"config": {"min_history_days": 10**6, "retrain_every_days": 1}},
        }
    }
    result = defs.resolve_job_def(ML_JOB).execute_in_process(
        instance=instance, partition_key=f"{TRAINED_THROUGH}", run_config=starved
    )
    assert result.success
    # the single dbt step that builds every gold score table is not held back by one model
    assert "ml_serving_dbt_models" in {e.step_key for e in result.get_step_success_events()}
    meta = _materialization(result, "ml/churn_model", f"{TRAINED_THROUGH}")
    assert meta["trained"] is False and meta["untrained_reason"].startswith("Too little labelled data")
    check = next(c for c in result.get_asset_check_evaluations() if c.asset_key.to_user_string() == "ml/churn_model")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN  # a young ledger, not a fault
    cashflow = _materialization(result, "ml/cashflow_model", f"{TRAINED_THROUGH}")
    assert cashflow["trained"] is False and cashflow["ar_invoices_trained"] is False
    assert "days of cash-in" in cashflow["ar_invoices_untrained_reason"]
    cash_checks = [
        c for c in result.get_asset_check_evaluations() if c.asset_key.to_user_string() == "ml/cashflow_model"
    ]
    assert len(cash_checks) == 2 and not any(c.passed for c in cash_checks)
    assert {c.severity for c in cash_checks} == {dg.AssetCheckSeverity.WARN}
    built = [
        ("gold.score_churn_risk", "score_date"),
        ("gold.ar_collection_worklist", "score_date"),
        ("gold.score_cashflow_fcst", "forecast_date"),
    ]
    for table, day_column in built:
        assert (
            _query(settings, f"select count(*) as n from {table} where {day_column} = ?", [TRAINED_THROUGH])["n"][0] > 0
        ), table


def test_monitoring_reports_each_week_of_payments_against_each_invoice_first_prediction(platform):
    settings = platform[0]
    reported = _query(
        settings,
        "select * from ml.payment_model_monitoring where monitor_date = ? order by payment_week",
        [TRAINED_THROUGH],
    )
    # the reference, in pandas: each invoice paid in the 26 weeks before the day, its first prediction
    rows = _query(
        settings,
        """
        select p.predicted_payment_date, p.interval_lower_date, p.interval_upper_date, i.payment_date
        from gold.first_payment_predictions as p join silver.stg_ar_invoices as i on i.doc_id = p.doc_id
        where not i.is_open and i.state_valid_from <= ? and i.payment_date > ?""",
        [TRAINED_THROUGH, TRAINED_THROUGH - timedelta(weeks=26)],
    )
    paid = pd.to_datetime(rows["payment_date"])
    error = (paid - pd.to_datetime(rows["predicted_payment_date"])).dt.days.abs()
    covered = (paid >= pd.to_datetime(rows["interval_lower_date"])) & (
        paid <= pd.to_datetime(rows["interval_upper_date"])
    )
    expected = (
        pd.DataFrame(
            {
                "week": paid.dt.to_period("W-SUN").dt.start_time,
                "error": error,  # weeks from Monday
                "within": error <= 3,
                "covered": covered,
            }
        )
        .groupby("week")
        .agg(
            invoices=("error", "size"),
            mae_days=("error", "mean"),
            within_3_days=("within", "mean"),
            interval_coverage=("covered", "mean"),
        )
        .reset_index()
    )
    assert len(expected) > 4 and expected["invoices"].sum() > 100
    assert pd.to_datetime(reported["payment_week"]).tolist() == expected["week"].tolist()
    assert reported["invoices"].tolist() == expected["invoices"].tolist()
    for column in ("mae_days", "within_3_days", "interval_coverage"):
        assert reported[column].tolist() == pytest.approx(expected[column].tolist(), abs=1e-9), column


def test_cash_forecast_is_never_negative_and_its_bands_stay_ordered():
    import numpy as np

    from ml_assets.cashflow import fit, forecast

    # a stream of sparse receipts, then a quiet fortnight: its mean forecast in log1p space dips below 0
    rng = np.random.default_rng(0)
    days = 120
    cash_in = np.where(rng.random(days) < 0.05, rng.uniform(1, 5000, days), 0.0)
    cash_in[-14:] = 0.0
    history = pd.DataFrame({"cash_in": cash_in, "is_holiday": 0, "is_tet_holiday": 0, "is_month_end": 0})
    future = history.iloc[:30].assign(cash_in=0.0)
    out = forecast(fit(history), history, future)
    assert (out["predicted_cash_in"] >= 0).all()
    assert (out["lower_95"] <= out["lower_80"]).all() and (out["lower_80"] <= out["predicted_cash_in"]).all()
    assert (out["predicted_cash_in"] <= out["upper_80"]).all() and (out["upper_80"] <= out["upper_95"]).all()


def test_a_long_horizons_bands_stay_within_how_far_recent_days_strayed():
    """A stream with days of no cash (weekends, quiet days): the model's log-scale variance grows
    with every week ahead, and its 95 % band once reached 1e16 a day by week 26. The band is held to
    how far the last 13 weeks' days strayed from their weekday's mean, around the forecast."""
    rng = np.random.default_rng(5)
    days = 120
    cash_in = np.where(rng.random(days) < 0.3, 0.0, rng.lognormal(np.log(1e6), 0.8, days))
    history = pd.DataFrame({"cash_in": cash_in, "is_holiday": 0, "is_tet_holiday": 0, "is_month_end": 0})
    future = pd.concat([history] * 2, ignore_index=True).iloc[: cashflow.HORIZON_DAYS].assign(cash_in=0.0)
    out = cashflow.forecast(cashflow.fit(history), history, future)
    assert out["upper_95"].max() < 20 * cash_in[-91:].max()
    assert (out["lower_95"] <= out["lower_80"]).all() and (out["lower_80"] <= out["predicted_cash_in"]).all()
    assert (out["predicted_cash_in"] <= out["upper_80"]).all() and (out["upper_80"] <= out["upper_95"]).all()


@pytest.mark.parametrize(
    ("holiday_days", "holiday_cash"), [((1,), 5e8), ((20, 40, 60), 1e10)], ids=["seen once", "seen thrice, 100x"]
)
def test_a_holiday_the_history_cannot_tell_is_forecast_as_an_ordinary_day(holiday_days, holiday_cash):
    """One holiday on a short history's second day, or three with a hundredfold cash-in, once
    made every later holiday's forecast millions of times the usual day: their effect is fixed at none."""
    rng = np.random.default_rng(3)
    days = 90
    cash_in = rng.uniform(8e7, 1.2e8, days)
    holiday = np.zeros(days)
    holiday[list(holiday_days)] = 1
    cash_in[list(holiday_days)] = holiday_cash
    history = pd.DataFrame({"cash_in": cash_in, "is_holiday": holiday, "is_tet_holiday": 0, "is_month_end": 0})
    results = cashflow.fit(history)
    assert results.params["is_holiday"] == 0 and results.params["is_tet_holiday"] == 0
    future = history.iloc[:14].assign(cash_in=0.0, is_holiday=[1, 0] * 7)
    predicted = cashflow.forecast(results, history, future)["predicted_cash_in"]
    assert predicted.max() < 2 * np.median(cash_in)


@pytest.mark.parametrize("stream", cashflow.STREAMS)
def test_each_days_forecast_from_one_pass_equals_forecasting_from_that_days_history(platform, stream):
    """The serving path filters a stream once and predicts each day from its filtered state; it must
    give what applying the model to the history through the day and forecasting gives, for every
    day of the range, and for days past the newest data (the horizon still starts the next day)."""
    settings = platform[0]
    series = _query(settings, cashflow.SERIES_SQL, [stream])
    observed = series[~series["is_future"]].reset_index(drop=True)
    results = cashflow.fit(observed.iloc[:60])
    forecaster = cashflow.SeriesForecaster(results, series)
    last = observed["cash_date"].max().date()
    days = [d.date() for d in observed["cash_date"].iloc[cashflow.MIN_FORECAST_HISTORY_DAYS - 1 :]]
    calendar = series.assign(**{c: series[c].fillna(False) for c in cashflow.EXOG})
    for day in [*days, last + timedelta(days=1), last + timedelta(days=5)]:
        history = observed[observed["cash_date"] <= pd.Timestamp(day)]
        future = forecaster.future(day)
        assert future["cash_date"].iloc[0] == pd.Timestamp(day + timedelta(days=1))
        ahead = (pd.Timestamp(day) - observed["cash_date"].max()).days  # days past the data, forecast then dropped
        through = calendar[calendar["cash_date"] > history["cash_date"].max()].head(max(ahead, 0) + len(future))
        expected = cashflow.forecast(results, history, through).iloc[max(ahead, 0) :].reset_index(drop=True)
        pd.testing.assert_frame_equal(forecaster.values(day), expected, rtol=1e-9)


def test_before_any_invoice_is_paid_nothing_is_made_up_and_gold_still_builds(tmp_path):
    """The first days of a history: invoices posted, none paid yet. No payment date or lateness
    probability can be learnt, so none is written, and the gold score tables build (empty)
    instead of one failed scoring step holding them all back."""
    settings = Settings.from_env({"SMEPULSE_DATA_DIR": str(tmp_path), "SMEPULSE_PARTITIONS_START": "2019-01-01"})
    settings.ensure_local_dirs()
    first, last = date(2019, 9, 1), date(2019, 9, 14)
    rows = generate_invoice_snapshot(GeneratorConfig(start=first, end=last, invoices_per_day=20, customers=10)).rows
    unpaid = [
        [
            "" if column == "clear_date" else "1" if column == "isOpen" else value
            for column, value in zip(HEADER, row, strict=False)
        ]
        for row in rows
    ]
    write_drops(split_into_drops(unpaid)[0], settings.landing_url)
    defs, instance = build_defs(settings), ephemeral_instance()
    run_reference(defs, instance)
    run_days(defs, instance, first, last)
    ml = run_days(defs, instance, first, last, job_name=ML_JOB, raise_on_error=False)

    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message.strip()[:300]}" for e in ml.all_events if e.is_step_failure
    ]
    assert ml.success, failures
    payment = _materialization(ml, "ml/payment_date_scores", f"{last}")
    assert payment["rows"] == 0 and payment["unscored_reason"].startswith("No paid invoice known by")
    priority = _materialization(ml, "ml/ar_priority_scores", f"{last}")
    assert priority["rows"] == 0 and priority["scored_with"].startswith(f"no labelled rows known by {last}")
    assert (
        _query(
            settings,
            "select count(*) as n from silver.ftr_invoice_risk where status = 'open' and as_of_date = ?",
            [last],
        )["n"][0]
        > 0
    )
    for table in (
        "gold.score_payment_pred",
        "gold.score_ar_priority",
        "gold.ar_collection_worklist",
        "gold.kpi_predicted_cash_in",
    ):
        assert _query(settings, f"select count(*) as n from {table}")["n"][0] == 0, table


SERVING_TABLES = {
    "score_payment_pred": "score_date",
    "score_ar_priority": "score_date",
    "score_churn_risk": "score_date",
    "score_cashflow_fcst": "forecast_date",
    "score_anomalies": "found_on",
    "ar_collection_worklist": "score_date",
    "kpi_predicted_cash_in": "score_date",
    "first_payment_predictions": "predicted_on",
}


def _serving_tables(settings: Settings) -> dict[str, pd.DataFrame]:
    return {table: _query(settings, f"select * from gold.{table} order by all") for table in SERVING_TABLES}


def test_a_long_range_of_gold_scores_built_in_chunks_equals_one_build(platform, monkeypatch):
    from smepulse_assets.transform import chunks

    settings, defs, instance = platform[:3]
    first, last = date(2019, 11, 1), date(2019, 12, 20)
    scored = _query(
        settings, "select count(*) as n from ml.ar_priority_scores where score_date between ? and ?", [first, last]
    )["n"][0]
    monkeypatch.setattr(chunks, "ML_SERVING_CHUNK_ROWS", scored // 4)  # 4 or 5 chunks of whole days
    before = _serving_tables(settings)
    serving = [key for key in defs.resolve_all_asset_keys() if key.path[0] == "gold" and key.path[1] in SERVING_TABLES]
    tags = {RANGE_START_TAG: f"{first}", RANGE_END_TAG: f"{last}"}
    result = defs.resolve_job_def(ML_JOB).execute_in_process(instance=instance, tags=tags, asset_selection=serving)

    assert result.success and _mlflow_run_status(result.run_id) == "FINISHED"  # the MLflow run ends with the job
    builds = [r.user_message for r in instance.all_logs(result.run_id) if r.user_message.startswith("dbt build ")]
    assert len(builds) in (4, 5) and builds[0].startswith(f"dbt build {first}..") and f"..{last}:" in builds[-1]
    after = _serving_tables(settings)
    for table in SERVING_TABLES:
        pd.testing.assert_frame_equal(after[table], before[table], obj=table)
    days = (last - first).days + 1
    materialized = pd.Series([e.asset_key.path[1] for e in result.get_asset_materialization_events()]).value_counts()
    assert set(materialized.index) == set(SERVING_TABLES) and set(materialized) == {days}  # once per day, not per chunk
    checks = pd.Series([(c.asset_key.path[1], c.check_name) for c in result.get_asset_check_evaluations()])
    assert len(checks) > 10 and not checks.duplicated().any()

    # a chunk that fails stops the range: the chunks after it are not built, and no model of the
    # range is reported materialized, though the chunks before it were
    second_chunk_day = builds[1].split(" ")[2].split("..")[0]
    duplicate = f"select * from ml.ar_priority_scores where score_date = '{second_chunk_day}' limit 1"
    with duckdb.connect(settings.warehouse_path) as con:
        con.execute(f"insert into ml.ar_priority_scores {duplicate}")
    try:
        failed = defs.resolve_job_def(ML_JOB).execute_in_process(
            instance=instance, tags=tags, asset_selection=serving, raise_on_error=False
        )
    finally:
        with duckdb.connect(settings.warehouse_path) as con:
            con.execute(
                "delete from ml.ar_priority_scores where rowid = (select max(rowid) from ml.ar_priority_scores)"
            )
    assert not failed.success and failed.get_asset_materialization_events() == []
    assert _mlflow_run_status(failed.run_id) == "FAILED" and mlflow.active_run() is None
    builds = [r.user_message for r in instance.all_logs(failed.run_id) if r.user_message.startswith("dbt build ")]
    assert len(builds) == 2
    grain = [
        c
        for c in failed.get_asset_check_evaluations()
        if c.check_name == "unique_combination_score_ar_priority_score_date__doc_id"
    ]
    assert [c.passed for c in grain] == [False]
    retried = defs.resolve_job_def(ML_JOB).execute_in_process(instance=instance, tags=tags, asset_selection=serving)
    assert retried.success and _serving_tables(settings)["score_ar_priority"].equals(before["score_ar_priority"])


def _mlflow_run_status(dagster_run_id: str) -> str:
    """The status of the MLflow run a Dagster run logged into (the parent of its trainings)."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.dagster_run_id = '{dagster_run_id}'")
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return parent.info.status


def test_a_range_is_cut_into_chunks_of_whole_days():
    from smepulse_assets.transform.chunks import split_window
    from smepulse_lib.windows import DayWindow

    window = DayWindow.parse("2020-01-01", "2020-01-06")
    rows = {"2020-01-01": 40, "2020-01-02": 40, "2020-01-03": 150, "2020-01-05": 10, "2020-01-06": 95}
    assert split_window(window, rows, 100) == [
        DayWindow.parse("2020-01-01", "2020-01-02"),
        DayWindow.parse("2020-01-03"),  # a day over the limit is a chunk of its own
        DayWindow.parse("2020-01-04", "2020-01-05"),  # a day without rows joins its neighbours
        DayWindow.parse("2020-01-06"),
    ]
    assert split_window(window, rows, 10**6) == [window]
    assert split_window(window, {}, 1) == [window]


def test_chunked_builds_report_each_output_once_and_a_check_at_its_worst():
    from smepulse_assets.transform.chunks import one_event_per_output, worst_results

    key = dg.AssetKey(["gold", "score_ar_priority"])
    passed, failed = (dg.AssetCheckResult(asset_key=key, check_name="grain", passed=ok) for ok in (True, False))
    chunks = [
        [dg.Output(1, "score_ar_priority"), passed],
        [dg.Output(2, "score_ar_priority"), failed],
        [dg.Output(3, "score_ar_priority"), passed],
    ]
    events = one_event_per_output(chunks)
    assert [e.value for e in events if isinstance(e, dg.Output)] == [3]
    assert [c.passed for c in events if isinstance(c, dg.AssetCheckResult)] == [False]
    results = worst_results(
        [
            {"results": [{"unique_id": "m", "status": "success"}, {"unique_id": "t", "status": "pass"}]},
            {"results": [{"unique_id": "m", "status": "success"}, {"unique_id": "t", "status": "fail"}]},
            {"results": [{"unique_id": "m", "status": "error"}]},
        ]
    )
    assert {r["unique_id"]: r["status"] for r in results["results"]} == {"m": "error", "t": "fail"}


def test_a_dbt_process_killed_before_its_results_is_named_in_the_failure():
    """A process killed by a signal (the out-of-memory killer's SIGKILL) writes no run results,
    so no node is in the failed list: the failure must say how dbt ended. A real process here;
    only the invocation around it is a plain object."""
    import signal
    import subprocess
    from types import SimpleNamespace

    from smepulse_assets.transform.assets import how_it_ended

    process = subprocess.Popen(["sleep", "30"])
    process.send_signal(signal.SIGKILL)
    assert how_it_ended(SimpleNamespace(process=process)) == "was killed by SIGKILL before it finished"
    assert how_it_ended(SimpleNamespace(process=subprocess.Popen(["false"]))) == "exited with code 1"


def test_a_training_reads_a_bounded_sample_of_its_holdout_and_the_newest_rows_before_it():
    from ml_assets.training import TrainingConfig

    cutoff = date(2020, 6, 30)
    with duckdb.connect() as con:  # 60 labelled rows a day over 400 days
        con.execute(
            "create table labels as select i, date '2020-06-30' - cast(i // 60 as integer) as label_known_on "
            "from range(24000) as r(i)"
        )
        config = TrainingConfig(holdout_days=30, training_window_days=365, max_training_rows=1000, max_holdout_rows=500)
        frame = read_training(con, "select * from labels", cutoff, config)
        again = read_training(con, "select * from labels", cutoff, config)
    known = pd.to_datetime(frame["label_known_on"]).dt.date
    holdout, train = frame[known > date(2020, 5, 31)], frame[known <= date(2020, 5, 31)]
    assert len(holdout) == 500 and holdout["label_known_on"].nunique() == 30  # a sample across the whole holdout
    assert len(train) == 1000 and min(known[known <= date(2020, 5, 31)]) >= date(2020, 5, 31) - timedelta(days=17)
    assert sorted(frame["i"]) == sorted(again["i"])  # the same sample every time


def _position(settings: Settings, day: date) -> pd.DataFrame:
    return _query(settings, "select * from ml.cash_position where as_of_date = ? order by week", [day])


def test_the_cash_position_starts_from_the_statement_and_schedules_what_is_known(platform):
    """Checked against the generated world's own truth: the balance the statement makes, the
    supplier bills open that day, and the rent and payroll it debits every month."""
    settings = platform[0]
    day = TRAINED_THROUGH
    weeks = _position(settings, day)
    world = generate_world(SME_WORLD)
    assert weeks["week"].tolist() == list(range(1, 27))
    lines = world.bank_lines[pd.to_datetime(world.bank_lines["txn_date"]) <= pd.Timestamp(day)]
    balance = lines["amount_vnd"].where(lines["direction"] == "credit", -lines["amount_vnd"]).sum()
    assert weeks["opening_balance"].iloc[0] == pytest.approx(balance)  # no opening balance configured
    bills = world.bills
    open_bills = bills[
        (pd.to_datetime(bills["bill_date"]) <= pd.Timestamp(day))
        & ~(pd.to_datetime(bills["paid_date"]) <= pd.Timestamp(day))  # NaT (never paid) is open
    ]
    assert len(open_bills) > 10
    assert weeks["supplier_bills_open"].sum() == pytest.approx(open_bills["amount_vnd"].sum())
    # rent on the 5th, payroll on the 25th: 2020-01-05 is in week 1, 2020-01-25 in week 4, monthly through June
    december_payroll = (
        lines[lines["description"].str.startswith("LUONG")].sort_values("txn_date")["amount_vnd"].iloc[-1]
    )
    assert weeks.loc[0, "recurring_debits"] == pytest.approx(SME_WORLD.rent_vnd)
    assert weeks.loc[3, "recurring_debits"] == pytest.approx(december_payroll)
    assert weeks["recurring_debits"].sum() == pytest.approx(6 * SME_WORLD.rent_vnd + 6 * december_payroll)
    # every customer payment forecast of the day, each week's flows adding up to the balance path
    forecast = _query(
        settings,
        "select sum(predicted_cash_in) as total, any_value(model_version) as version from ml.cashflow_forecast "
        "where stream = 'sme_payments' and forecast_date = ?",
        [day],
    )
    assert 0.5 * forecast["total"].iloc[0] < weeks["customer_cash_in"].sum() <= forecast["total"].iloc[0] + 1
    assert (weeks["cash_in_model_version"] == forecast["version"].iloc[0]).all()
    flows = weeks["customer_cash_in"] + weeks["other_cash_in"] - weeks["supplier_bills_open"]
    flows -= weeks["supplier_bills_not_received"] + weeks["recurring_debits"]
    np.testing.assert_allclose(weeks["balance"], balance + flows.cumsum(), rtol=1e-9)
    assert (weeks["balance_low_80"] <= weeks["balance"]).all() and (weeks["balance"] <= weeks["balance_high_80"]).all()
    # three months in, the first weeks' bands come from the errors of earlier positions, week 26's not yet
    assert weeks.loc[0, "band_errors"] >= MIN_ERRORS and weeks["band_errors"].iloc[-1] == 0
    assert weeks["supplier_bills_not_received"].iloc[0] == 0  # the suppliers' terms are 30 days or more
    assert weeks["supplier_bills_not_received"].iloc[-1] > 0


def test_the_cash_position_of_the_first_weeks_of_a_statement_says_why_it_is_missing(platform):
    settings, _defs, _instance, _daily, ml = platform
    first_days = _each_day(ml, "ml/cash_position")
    early = first_days[START + timedelta(days=5)]
    assert early["rows"] == 0 and "days of bank statement" in early["not_computed"]
    assert first_days[TRAINED_THROUGH]["rows"] == 26
    assert _query(settings, "select count(*) as n from ml.cash_position where as_of_date = ?", [START])["n"][0] == 0


@pytest.mark.parametrize(
    ("floor", "passed"), [(1e13, False), (-1e13, True)], ids=["floor above every balance", "floor below"]
)
def test_the_floor_check_names_the_first_week_the_balance_may_fall_below_it(platform, floor, passed):
    settings, _defs, instance, _daily, _ml = platform
    with_floor = Settings.from_env(
        {
            "SMEPULSE_DATA_DIR": settings.data_dir,
            "SMEPULSE_PARTITIONS_START": "2019-01-01",
            "SMEPULSE_CASH_FLOOR_VND": f"{floor:.0f}",
        }
    )
    day = TRAINED_THROUGH
    result = run_days(
        build_defs(with_floor),
        instance,
        day,
        day,
        job_name=ML_JOB,
        asset_selection=[dg.AssetKey(["ml", "cash_position"])],
    )
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "balance_stays_above_floor"]
    assert check.passed is passed
    weeks = _position(settings, day)
    assert (weeks["floor"] == floor).all()
    if passed:
        assert not weeks["below_floor"].any() and "stays above the floor" in check.description
    else:
        assert check.severity == dg.AssetCheckSeverity.WARN
        assert weeks["below_floor"].all()
        assert check.metadata["first_week_below_floor"].value == 1
        assert f"in week 1 (from {day + timedelta(days=1)})" in check.description


def test_the_collections_forecast_of_a_day_splits_its_open_invoices_and_those_to_come(platform):
    """The ML run's 13-week collections forecast: as of its last day, every week a reference day
    covers, the open amount that of the day's payment-date scores, no week collecting more from
    the open invoices than is open, and the accuracy check's verdict in the run."""
    settings, _defs, _instance, _daily, ml = platform
    day = TRAINED_THROUGH
    weeks = _query(settings, "select * from gold.kpi_ar_collections_forecast where as_of_date = ? order by week", [day])
    assert weeks["week"].tolist() == list(range(1, len(weeks) + 1)) and len(weeks) >= 8
    scored = _query(
        settings, "select sum(open_amount) as amount from ml.payment_date_scores where score_date = ?", [day]
    )
    assert weeks["open_amount"].iloc[0] == pytest.approx(scored["amount"].iloc[0])
    assert (weeks["from_open_invoices"] >= 0).all() and weeks["from_open_invoices"].sum() <= scored["amount"].iloc[0]
    assert weeks["from_open_invoices"].iloc[0] > 0 and weeks["from_new_invoices"].iloc[-1] > 0
    assert (weeks["currency"] == "USD").all()
    assert _each_day(ml, "ml/ar_collections_forecast")[day]["rows"] == len(weeks)
    (check,) = [c for c in ml.get_asset_check_evaluations() if c.check_name == "beats_seasonal_naive"]
    assert check.passed and check.metadata["as_of_date"].value == f"{day}"


def test_the_retrain_cadence_counts_new_labels_against_the_window():
    """A week's labels are most of a young ledger's window and a sliver of a mature one's: the young
    one trains again after 7 days, the mature one keeps its training until the labels known since
    reach 10 % of the window's, or 28 days have passed. A model without labels to count trains every
    7 days; the same day or an earlier one always trains, and every day with retrain_every_days 1 and
    retrain_label_growth 0."""
    con = duckdb.connect()
    con.execute(
        "create table labels as select d::date as label_known_on "
        "from range(date '2020-01-01', date '2021-12-31', interval 1 day) as r(d), range(10)"
    )
    counts = LabelCounts.read(con, "select * from labels", date(2019, 12, 1), date(2021, 12, 31), 365)
    assert counts.between(date(2020, 1, 1), date(2020, 1, 8)) == 70 and counts.window(date(2021, 6, 1)) == 3650
    cadence = Cadence(7, 28, 0.1, lambda: counts)
    young, mature = date(2020, 2, 1), date(2021, 6, 1)
    assert cadence.keep_reason(young, young + timedelta(days=6)).endswith("no training again within 7 days")
    assert cadence.keep_reason(young, young + timedelta(days=7)) is None  # 70 new labels of 380: 18 %
    kept = cadence.keep_reason(mature, mature + timedelta(days=20))
    assert kept is not None and "200 labels known since, 5.5% of the window's 3650" in kept
    assert cadence.keep_reason(mature, mature + timedelta(days=28)) is None
    assert Cadence(7, 28, 0.05, lambda: counts).keep_reason(mature, mature + timedelta(days=20)) is None
    assert Cadence(7).keep_reason(mature, mature + timedelta(days=7)) is None  # no labels: every 7 days
    assert cadence.keep_reason(mature, mature) is None
    assert cadence.keep_reason(mature, mature - timedelta(days=3)) is None
    next_day = mature + timedelta(days=1)
    assert Cadence(1, 28, 0.1, lambda: counts).keep_reason(mature, next_day) is not None
    assert Cadence(1, 28, 0.0, lambda: counts).keep_reason(mature, next_day) is None  # daily
