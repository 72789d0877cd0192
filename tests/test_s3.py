"""The same definitions on S3: landing zone and lake on an S3-compatible server on loopback.

moto's server mode stands in for S3 (no network here); everything else is real:
s3fs writes the drops and the bronze Parquet, DuckDB reads the lake through fsspec.
"""

import socket
import subprocess
import sys
import time
from datetime import date

import pytest
import s3fs

from smepulse_assets.tools.generator import GeneratorConfig, generate_invoice_drops
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib import warehouse
from tests.conftest import Platform, make_settings

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_server(monkeypatch):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().mkdir("smepulse")
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


def test_pipeline_runs_on_s3_by_changing_urls_only(tmp_path, s3_server):
    settings = make_settings(
        tmp_path, SMEPULSE_LANDING_URL="s3://smepulse/landing", SMEPULSE_LAKE_URL="s3://smepulse/lake"
    )
    platform = Platform(settings)
    config = GeneratorConfig(start=date(2020, 1, 1), end=date(2020, 1, 10), customers=10, invoices_per_day=20, seed=3)
    snapshot, files = generate_invoice_drops(config, settings.landing_url)
    assert files[0].startswith("s3://smepulse/landing/kaggle_invoices/2020-01-01/")
    run_reference(platform.defs, platform.instance)
    run_days(platform.defs, platform.instance, config.start, config.end)

    fs = s3fs.S3FileSystem()
    assert fs.exists("smepulse/lake/bronze/kaggle_invoices_raw/partition_date=2020-01-10/part.parquet")
    counts = warehouse.row_counts(settings.warehouse_path)
    distinct = {row[5] for row in snapshot.rows}
    assert counts["silver.stg_ar_invoices"] == len(distinct)
    assert counts["gold.kpi_ar_dso_analysis"] == 10
