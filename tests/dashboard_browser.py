"""The dashboard as a person sees it: `smepulse dashboard` started on a data directory and its
pages loaded in headless Chromium (Debian's, installed by the project's set-up), screenshotted."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from smepulse_lib.programs import beside_interpreter

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PAGES = ("overview", "receivables", "collections", "cash", "working-capital", "reconciliation", "anomalies",
         "data-health")  # fmt: skip


def browse_dashboard(data_dir: str, paths: tuple[str, ...], shots: Path) -> dict[str, dict]:
    """Start `smepulse dashboard` on a data directory, load each page in Chromium, screenshot it, and
    return per page its metrics (label -> shown value) and the text of its info and warning notes;
    on the collections page, the worklist's Excel download is clicked and saved beside the
    screenshots' folder, in "downloads" (its path under "download")."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(
        [str(beside_interpreter("smepulse")), "dashboard", "--port", str(port)],
        env={**os.environ, "SMEPULSE_DATA_DIR": data_dir}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    shots.mkdir(parents=True, exist_ok=True)
    seen = {}
    try:
        _wait_for(f"127.0.0.1:{port}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path in paths:
                # the first page is the app's root: Streamlit serves the default page at "/" only
                page.goto(f"http://127.0.0.1:{port}/{'' if path == PAGES[0] else path}")
                page.wait_for_selector("h1", timeout=60_000)
                page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
                page.wait_for_timeout(1500)  # charts draw after the script finishes
                page.screenshot(path=str(shots / f"{path}.png"), full_page=True)
                assert page.locator('[data-testid="stException"]').count() == 0, path
                assert page.locator('[data-testid="stAlertContentError"]').count() == 0, path
                assert page.get_by_text("Page not found").count() == 0, path
                seen[path] = {
                    "metrics": {
                        m.locator('[data-testid="stMetricLabel"]').inner_text(): m.locator(
                            '[data-testid="stMetricValue"]'
                        ).inner_text()
                        for m in page.locator('[data-testid="stMetric"]').all()
                    },
                    "notes": [n.inner_text() for n in page.locator('[data-testid="stAlert"]').all()],
                }
                if path == "collections":  # what a controller takes away: the worklist as Excel
                    with page.expect_download() as download:
                        page.get_by_text("Download Excel").click()
                    seen[path]["download"] = shots.parent / "downloads" / download.value.suggested_filename
                    download.value.save_as(seen[path]["download"])
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return seen


def _wait_for(address: str, seconds: float = 60) -> None:
    host, port = address.split(":")
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, int(port))) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listening on {address} after {seconds} s")
