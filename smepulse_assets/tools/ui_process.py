"""The platform as a team runs it: `smepulse ui` (the webserver and the daemon) in a process group
of its own, and the GraphQL calls the UI makes. The tests of the operated path and the
benchmark's ``--via-daemon`` drive the platform through it: sensors ticked by the daemon, runs
started by its run launcher, backfills launched as the UI's dialog launches them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from smepulse_lib.programs import beside_interpreter

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
LOCATION_STATUS = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


class UiProcess:
    """`smepulse ui` started from the venv's bin folder with the given environment."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        self.env, self.port, self.log_path = env, port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> UiProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        command = [str(beside_interpreter("smepulse")), "ui", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self.wait_until_loaded()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """The whole group (`dagster dev`, the webserver, the daemon, the code server, runs)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def wait_until_loaded(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        process = self.process
        assert process is not None, "start() first"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"smepulse ui exited with {process.returncode}; see {self.log_path}")
            try:
                entries = self.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            except (urllib.error.URLError, ConnectionError, KeyError):
                time.sleep(1)
                continue
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [
                    e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"
                ]
                if errors:
                    raise RuntimeError(f"the code location failed to load: {errors[0]['message']}")
                # as a user who dismissed it: the first-visit community dialog would cover every page
                self.graphql("mutation { setNuxSeen }")
                return
            time.sleep(1)
        raise TimeoutError(f"the UI did not load its code location within {timeout} s; see {self.log_path}")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
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

    def wait_backfill(self, backfill_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
            if status in BACKFILL_DONE:
                return status
            time.sleep(2)
        raise TimeoutError(f"backfill {backfill_id} not done within {timeout} s")

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
