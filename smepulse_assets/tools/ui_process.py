"""The platform as a team runs it: `smepulse ui` (the webserver and the daemon) in a process group
of its own, answering the GraphQL calls the UI makes (``ui_client.py``). The tests of the operated path and the
benchmark's ``--via-daemon`` drive the platform through it: sensors ticked by the daemon, runs
started by its run launcher, backfills launched as the UI's dialog launches them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
from pathlib import Path

from smepulse_assets.tools.ui_client import LOCATION_STATUS, UiClient
from smepulse_lib.programs import beside_interpreter


class UiProcess(UiClient):
    """`smepulse ui` started from the venv's bin folder with the given environment."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        super().__init__(f"http://127.0.0.1:{port}")
        self.env, self.port, self.log_path = env, port, log_path
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
