"""MLflow for SME Pulse: the tracking resource, training runs, the registry and promotion.

Every Dagster run that trains gets one MLflow run (dagster-mlflow's resource, tagged
with the Dagster run id); each model trained in it is a nested run with its
parameters, metrics, training window, row counts and the model artifact with its
signature, registered under the model's name. A new version becomes the
``champion`` alias only when it beats the current champion *and* every baseline on
the same time-based holdout. Scores load the version that was the champion on the days
they score (``serving.py``): ``models:/<name>/<version>``, the champion of the model's step.

MLflow (and scikit-learn, in the ML modules) is imported where it is used, never at module
level: importing it is slow, and the code location (the UI, the daemon, every run's process)
loads these modules to build the definitions, which need none of it.
"""

import importlib
import importlib.metadata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

EXPERIMENT = "smepulse"
CHAMPION = "champion"

# What MLflow's skops format must be told to load back: the boosters' tree predictors and
# helpers, and our own model class. Only models this platform trained are loaded.
TRUSTED_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "ml_assets.payment_estimators.PaymentDateModel",
    "ml_assets.payment_date.PaymentDateModel",  # its address in champions logged before it moved
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.GroupKFold",  # in champions calibrated before the folds were stratified
    "sklearn.model_selection._split.StratifiedGroupKFold",
    "ml_assets.estimators.AllMissingAsZero",
]

# What an ML asset declares to run inside the Dagster run's MLflow run: dagster-mlflow's MlFlow,
# which exposes MLflow's module API. Typed Any so that declaring it does not import MLflow.
MlflowRun = dg.ResourceParam[Any]


def artifact_location(tracking_uri: str) -> str | None:
    """Artifacts beside a local sqlite store (not in the working directory, MLflow's default)."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    return None


def ensure_experiment(tracking_uri: str, name: str = EXPERIMENT) -> None:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(name, artifact_location=artifact_location(tracking_uri))


class MlflowTracking(dg.ConfigurableResource):
    """MLflow tracking: one MLflow run per Dagster run. The object an asset receives (the
    documented ConfigurableResource pattern: create_resource vends another object) is
    dagster-mlflow's ``MlFlow`` (MLflow's module API bound to the Dagster run's MLflow run), with
    the experiment's artifacts kept beside the store.

    A run left active by an earlier Dagster run in the same process is ended first, so this run
    never writes into it. Outside a run (a sensor's context gets every resource) it is MLflow's
    module, pointed at the store, with no run started."""

    experiment_name: str
    mlflow_tracking_uri: str  # the field name dagster-mlflow's MlFlow reads from the resource config

    def create_resource(self, context: dg.InitResourceContext) -> Any:
        import mlflow
        from dagster_mlflow.resources import MlFlow

        if context.dagster_run is None:
            mlflow.set_tracking_uri(self.mlflow_tracking_uri)
            return mlflow
        ensure_experiment(self.mlflow_tracking_uri, self.experiment_name)
        active = mlflow.active_run()
        if active is not None and active.data.tags.get("dagster_run_id") != context.run_id:
            mlflow.end_run()
        return MlFlow(context)


def mlflow_resource(tracking_uri: str) -> MlflowTracking:
    return MlflowTracking(experiment_name=EXPERIMENT, mlflow_tracking_uri=tracking_uri)


@contextmanager
def training_run(model_name: str, params: Mapping[str, object], window: Mapping[str, object]) -> Iterator[Any]:
    """A nested MLflow run (an mlflow.ActiveRun) for one model's training inside the Dagster run's MLflow run."""
    import mlflow

    with mlflow.start_run(run_name=model_name, nested=mlflow.active_run() is not None) as run:
        mlflow.set_tags({"model_name": model_name, **{f"window.{k}": str(v) for k, v in window.items()}})
        mlflow.log_params({**params, **{f"window_{k}": v for k, v in window.items()}})
        yield run


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    reason: str


def decide_promotion(
    candidate: float, champion: float | None, baselines: Mapping[str, float], lower_is_better: bool = True
) -> Promotion:
    """The gate: better than the current champion and every baseline on the same holdout."""

    def beats(a: float, b: float) -> bool:
        return a < b if lower_is_better else a > b

    losing = [name for name, value in baselines.items() if not beats(candidate, value)]
    if losing:
        return Promotion(False, f"does not beat baseline(s) {', '.join(sorted(losing))}")
    if champion is not None and not beats(candidate, champion):
        return Promotion(False, f"does not beat the champion ({candidate:.4g} vs {champion:.4g})")
    return Promotion(
        True, "first model" if champion is None else f"beats the champion ({candidate:.4g} vs {champion:.4g})"
    )


def champion_version(model_name: str) -> str | None:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return str(MlflowClient().get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def flavor(name: str):
    """The MLflow flavor module (mlflow.sklearn, mlflow.pyfunc) that logs and loads a model."""
    return importlib.import_module(f"mlflow.{name}")


def log_model(flavor_name: str, model, **options):
    """Log ``model`` under its flavor; a model that knows how it is logged (the cash forecaster,
    an MLflow model from code with its parameters as an artifact) logs itself."""
    if hasattr(model, "log"):
        return model.log(**options)
    return flavor(flavor_name).log_model(model, **options)


# What loading and serving a model of each flavor needs, besides MLflow and the data stack; the
# sklearn models include this project's own estimators (ml_assets), hence smepulse itself.
SERVING_PACKAGES = {
    "sklearn": ("scikit-learn", "skops", "smepulse"),
    "statsmodels": ("statsmodels",),
    "pyfunc": ("statsmodels", "smepulse"),  # the cash forecaster: statsmodels inside this project's wrapper
}
DATA_STACK = ("mlflow", "numpy", "pandas", "scipy")


def pip_requirements(flavor_name: str) -> list[str]:
    """The logged model's requirements, pinned to the versions that trained it. Naming them spares
    MLflow's inference, which loads the model and predicts in a new Python process at every log
    (seconds each) and lists whatever that process had imported (pytest and rich, in tests)."""
    packages = (*DATA_STACK, *SERVING_PACKAGES[flavor_name])
    return [f"{package}=={importlib.metadata.version(package)}" for package in packages]


def load_champion(model_name: str, flavor_name: str = "sklearn"):
    """The champion from the registry, and its version; a clear error when there is none."""
    version = champion_version(model_name)
    if version is None:
        raise dg.Failure(
            description=f"No champion registered for '{model_name}': materialize its model asset first "
            "(a version is promoted only when it beats the baselines on the holdout).",
            allow_retries=False,
        )
    return flavor(flavor_name).load_model(f"models:/{model_name}@{CHAMPION}"), version


def load_version(model_name: str, version: str, flavor_name: str = "sklearn"):
    """One registered version of ``model_name``: the one that served a given day."""
    return flavor(flavor_name).load_model(f"models:/{model_name}/{version}")


def register(model_name: str, model_uri: str) -> str:
    """Register a logged model (its ``models:/m-...`` URI: MLflow 3 keeps logged models outside the
    run's artifacts, and a ``runs:/`` URI registers with a warning) as a new version of ``model_name``."""
    import mlflow

    return str(mlflow.register_model(model_uri, model_name).version)


def record_decision(model_name: str, version: str, decision: Promotion, metrics: Mapping[str, float]) -> None:
    """Tag the version with its holdout figures and the gate's decision; move the alias if it won."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    for key, value in {
        **{f"holdout_{k}": f"{v:.6g}" for k, v in metrics.items()},
        "promotion": decision.reason,
    }.items():
        client.set_model_version_tag(model_name, version, key, value)
    if decision.promoted:
        client.set_registered_model_alias(model_name, CHAMPION, version)


def retire_champion(model_name: str, version: str, reason: str) -> None:
    """Take the champion alias off ``version`` and tag it with why: nothing serves under the name
    until a later version is promoted (the serving baseline scores meanwhile)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    client.delete_registered_model_alias(model_name, CHAMPION)
    client.set_model_version_tag(model_name, version, "retired", reason)
