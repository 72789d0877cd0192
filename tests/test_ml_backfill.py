"""A backfill of the ML assets makes the same predictions as running its days one by one.

One generated history is loaded bronze to gold once, then copied: one copy runs the payment-date
and collection-priority models and their scores over the whole range as one run (what a
backfill from the UI does), the other runs them day by day, each with its own Dagster instance
and MLflow store. Real Dagster runs, real DuckDB, real MLflow; nothing is mocked.
"""

import shutil
from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from smepulse_assets.definitions import build_defs
from smepulse_assets.kaggle_invoices.replay import split_into_drops, write_drops
from smepulse_assets.tools.generator import (
    GeneratorConfig,
    generate_invoice_snapshot,
    generate_world,
    world_config,
    write_world,
)
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib.instance.event_log import ephemeral_instance
from smepulse_lib.names import ML_JOB
from smepulse_lib.settings import Settings

pytestmark = pytest.mark.slow

START, LAST = date(2019, 9, 1), date(2019, 11, 23)  # 12 weeks
MODELS = {"payment_date": "smepulse_payment_date", "ar_priority": "smepulse_ar_priority"}
SELECTION = [dg.AssetKey(["ml", f"{name}_{kind}"]) for name in MODELS for kind in ("model", "scores")]
# A short history: small holdouts and minimums, so models train and get promoted within twelve weeks;
# a higher label growth than the default, so some days keep a training on the label count, not the days.
TRAINING = {
    "holdout_days": 10,
    "min_training_rows": 100,
    "min_holdout_rows": 30,
    "min_holdout_positives": 3,
    "retrain_label_growth": 0.3,
    "retrain_within_days": 21,
}
RUN_CONFIG = {"ops": {f"ml__{name}_model": {"config": TRAINING} for name in MODELS}}
SCORES = {
    "payment_date_scores": "score_date, doc_id",
    "ar_priority_scores": "score_date, doc_id",
}


def _settings(root) -> Settings:
    settings = Settings.from_env({"SMEPULSE_DATA_DIR": str(root), "SMEPULSE_PARTITIONS_START": "2019-01-01"})
    settings.ensure_local_dirs()
    return settings


@pytest.fixture(scope="module")
def backfilled_and_day_by_day(tmp_path_factory):
    loaded = tmp_path_factory.mktemp("loaded")
    settings = _settings(loaded)
    config = GeneratorConfig(start=START, end=LAST, invoices_per_day=30, customers=30)
    drops, _ = split_into_drops(generate_invoice_snapshot(config).rows)
    write_drops(drops, settings.landing_url)
    write_world(generate_world(world_config(config, orders_per_day=10)), settings.landing_url)
    defs = build_defs(settings)
    instance = ephemeral_instance()
    run_reference(defs, instance)
    run_days(defs, instance, START, LAST)

    copies = {}
    for way in ("backfill", "day_by_day"):
        root = tmp_path_factory.mktemp(way)
        shutil.copytree(loaded, root, dirs_exist_ok=True)
        copies[way] = (_settings(root), ephemeral_instance())
    settings, instance = copies["backfill"]
    run_days(
        build_defs(settings), instance, START, LAST, job_name=ML_JOB, run_config=RUN_CONFIG, asset_selection=SELECTION
    )
    settings, instance = copies["day_by_day"]
    defs = build_defs(settings)
    for offset in range((LAST - START).days + 1):
        day = START + timedelta(days=offset)
        run_days(defs, instance, day, day, job_name=ML_JOB, run_config=RUN_CONFIG, asset_selection=SELECTION)
    return copies


def _scores(settings: Settings, table: str, order: str) -> pd.DataFrame:
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(f"select * exclude (predicted_at) from ml.{table} order by {order}").df()


def _model_days(instance: dg.DagsterInstance, name: str) -> pd.DataFrame:
    """What each day's materialization of the model asset says: trained as of, retrained, what served."""
    records = instance.fetch_materializations(dg.AssetKey(["ml", f"{name}_model"]), limit=1000).records
    rows = []
    for record in records:
        metadata = record.asset_materialization.metadata
        rows.append(
            {
                "day": record.asset_materialization.partition,
                "trained_as_of": getattr(metadata.get("trained_as_of"), "value", None),
                "retrained": getattr(metadata.get("retrained"), "value", None),
                "kept_reason": getattr(metadata.get("kept_reason"), "value", None),
                "serving_versions": str(metadata["serving_versions"].value),
            }
        )
    return pd.DataFrame(rows).sort_values("day", ignore_index=True)


@pytest.mark.parametrize("table", sorted(SCORES))
def test_a_backfill_scores_every_day_as_running_the_days_one_by_one(backfilled_and_day_by_day, table):
    backfill, day_by_day = (
        _scores(backfilled_and_day_by_day[way][0], table, SCORES[table]) for way in backfilled_and_day_by_day
    )
    assert len(backfill) > 0 and backfill["score_date"].nunique() > 30
    # a probability keeps its four places whatever the first day written held (rule rows alone)
    assert all(backfill[c].dtype == "float64" for c in backfill.columns if "probability" in c or "predicted_days" in c)
    pd.testing.assert_frame_equal(backfill, day_by_day)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_backfill_trains_on_the_days_running_them_one_by_one_trains(backfilled_and_day_by_day, name):
    backfill, day_by_day = (_model_days(backfilled_and_day_by_day[way][1], name) for way in backfilled_and_day_by_day)
    assert len(backfill) == (LAST - START).days + 1
    pd.testing.assert_frame_equal(backfill, day_by_day)
    assert backfill["retrained"].eq(True).sum() >= 2


def test_the_backfill_kept_a_training_on_the_label_count(backfilled_and_day_by_day):
    """Some day past the 7 days kept its training because few labels had become known since (the
    comparison above then covers that rule too)."""
    instance = backfilled_and_day_by_day["backfill"][1]
    reasons = pd.concat([_model_days(instance, name)["kept_reason"] for name in MODELS])
    assert reasons.str.contains("labels known since", na=False).any()


def test_no_day_is_scored_by_a_model_that_saw_its_later_labels(backfilled_and_day_by_day):
    settings = backfilled_and_day_by_day["backfill"][0]
    scores = _scores(settings, "payment_date_scores", "score_date, doc_id")
    served = scores.groupby("model_version")["score_date"].min()
    trained = served[~served.index.str.startswith("baseline:")]
    # the range trained more than one model at the retrain cadence, and the first days were scored
    # before any of them (by the customer-median baseline)
    assert len(trained) >= 2 and len(served) > len(trained)
    client = MlflowClient(settings.mlflow_tracking_uri)
    for version, first_day in trained.items():
        run = client.get_run(client.get_model_version(MODELS["payment_date"], version).run_id)
        labels_through = date.fromisoformat(run.data.tags["window.holdout_labels_through"])
        assert labels_through <= first_day.date(), (version, labels_through, first_day)
