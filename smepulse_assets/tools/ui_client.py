"""The GraphQL calls the Dagster UI makes, against a running `smepulse ui`: launching a backfill as
its dialog does, following a backfill and its runs, listing a job's assets. `smepulse backfill`,
the tests of the operated path and the benchmark's ``--via-daemon`` use it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

LAUNCH_BACKFILL = """
mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
BACKFILL_STATUS = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status }
    ... on PythonError { message }
  }
}"""
RUNS = """
query ($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status creationTime startTime endTime tags { key value } } }
  }
}"""
JOB_ASSETS = """
query ($job: PipelineSelector!) {
  assetNodes(pipeline: $job) { assetKey { path } isPartitioned }
}"""
JOB_EXISTS = """
query ($job: PipelineSelector!) { pipelineOrError(params: $job) { __typename } }"""
LOCATION_STATUS = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


LOCATION_NAME, REPOSITORY_NAME = "smepulse", "__repository__"  # workspace.yaml's location; Definitions' repository


class UiUnreachable(ConnectionError):
    """No Dagster webserver answers at the URL."""


class UiClient:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = json.loads(response.read())
        except urllib.error.URLError as err:
            raise UiUnreachable(f"no Dagster UI answers at {self.url} ({err.reason})") from err
        if body.get("errors"):
            raise RuntimeError(f"GraphQL: {body['errors']}")
        return body["data"]

    def launch_asset_backfill(self, asset_keys: list[list[str]], partitions: list[str]) -> str:
        """What the UI's materialize dialog sends for a range of partitions of these assets."""
        params = {
            "assetSelection": [{"path": k} for k in asset_keys],
            "partitionNames": partitions,
            "fromFailure": False,
        }
        launched = self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {launched}")
        return launched["backfillId"]

    def backfill_status(self, backfill_id: str) -> str:
        return self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]

    def wait_backfill(self, backfill_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.backfill_status(backfill_id)
            if status in BACKFILL_DONE:
                return status
            time.sleep(2)
        raise TimeoutError(f"backfill {backfill_id} not done within {timeout} s")

    def has_job(self, job: str) -> bool:
        return self.graphql(JOB_EXISTS, {"job": _job_selector(job)})["pipelineOrError"]["__typename"] == "Pipeline"

    def job_asset_keys(self, job: str) -> list[list[str]]:
        """The partitioned assets a job materializes, as the UI's job page lists them."""
        nodes = self.graphql(JOB_ASSETS, {"job": _job_selector(job)})["assetNodes"]
        return [n["assetKey"]["path"] for n in nodes if n["isPartitioned"]]

    def runs(self, **filters) -> list[dict]:
        return self.graphql(RUNS, {"filter": filters})["runsOrError"]["results"]

    def wait_runs(self, count: int, timeout: float, **filters) -> list[dict]:
        """Wait until at least ``count`` runs matching the filter exist and all have finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(**filters)
            if len(runs) >= count and all(r["status"] in FINISHED for r in runs):
                return runs
            time.sleep(2)
        raise TimeoutError(f"{count} run(s) matching {filters} not finished within {timeout} s")


def _job_selector(job: str) -> dict[str, str]:
    return {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME, "pipelineName": job}
