"""SME Pulse: accounts-receivable and cash-flow assets on Dagster, dbt and DuckDB."""

import warnings

from smepulse_lib.native_threads import limit_native_threads

limit_native_threads()  # first: before anything this process imports loads numpy or scikit-learn

from dagster import BetaWarning

# Beta APIs the platform relies on by choice, whose warnings a user cannot act on: Dagster warns
# at every asset with a single-run backfill policy (dozens per code-location load, and again in
# every run process; DESIGN: one run per range, never one process per day) and at
# dagster-mlflow's resource and end-of-run hook (the MLflow integration the stack names). These,
# and only these, are silenced here, where every process of the platform imports first.
ACCEPTED_BETA_APIS = (r".*backfill_policy.*", r".*_create_mlflow_run_hook.*", r"Class `MlFlow`.*")
for pattern in ACCEPTED_BETA_APIS:
    warnings.filterwarnings("ignore", category=BetaWarning, message=pattern)
