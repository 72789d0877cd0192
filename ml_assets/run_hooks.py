"""The hooks that end a Dagster run's MLflow run with it: finished after the job's last step,
failed at a failed step.

dagster-mlflow's ``end_mlflow_on_run_finished`` does the same, but importing it imports MLflow
(slow, in every process that loads the code location), so the platform's own hooks do it
without MLflow. Finding the job's last step reads a private member of the hook context, as
dagster-mlflow's own hook does: on a Dagster version the platform was not tested with
(smepulse_lib.private_api), dagster-mlflow's hook, maintained with Dagster, is used instead.
"""

import dagster as dg

from smepulse_lib.private_api import is_tested


@dg.success_hook(required_resource_keys={"mlflow"})
def end_mlflow_run_after_last_step(context: dg.HookContext) -> None:
    last_node = context._step_execution_context.job_def.nodes_in_topological_order[-1].name  # noqa: SLF001
    if context.op.name == last_node:
        context.resources.mlflow.end_run()


@dg.failure_hook(required_resource_keys={"mlflow"})
def end_mlflow_run_on_failure(context: dg.HookContext) -> None:
    context.resources.mlflow.end_run(status="FAILED")


def end_mlflow_run_hooks() -> set[dg.HookDefinition]:
    if is_tested("dagster", "the hooks that end the MLflow run"):
        return {end_mlflow_run_after_last_step, end_mlflow_run_on_failure}
    from dagster_mlflow import end_mlflow_on_run_finished

    return {end_mlflow_on_run_finished}
