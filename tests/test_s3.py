"""The same definitions on S3: landing zone and lake on an S3-compatible server on loopback.

moto's server mode stands in for S3 (no network here); everything else is real:
s3fs writes the drops and the bronze Parquet, DuckDB reads the lake through fsspec.
"""

import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa
import pytest
import s3fs

from smepulse_assets.serving.publish import PublishStamp, publish_table, published_counts, write_views_file
from smepulse_assets.serving.tables import ServedTable
from smepulse_assets.tools.generator import GeneratorConfig, generate_invoice_drops
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib import storage, warehouse
from smepulse_lib.windows import DayWindow
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


def test_the_serving_copy_publishes_to_s3_and_reads_back(tmp_path, s3_server):
    """Publishing by day and whole onto S3, the views file over s3:// paths, a day withdrawn."""
    root = "s3://smepulse/lake/serving"
    con = duckdb.connect()
    con.execute("create schema gold")
    con.execute("create table gold.kpi as select date '2020-01-01' + (i % 3)::int as as_of_date, i from range(30) r(i)")
    con.execute("create table gold.dim as select i as id from range(5) r(i)")
    by_day, whole = ServedTable("gold.kpi", "as_of_date"), ServedTable("gold.dim", None)
    window = DayWindow(date(2020, 1, 1), date(2020, 1, 3))
    assert publish_table(con, by_day, root, window).rows == 30
    assert publish_table(con, whole, root, window).rows == 5
    assert published_counts(root, by_day, window) == dict.fromkeys(window.days, 10)
    schemas = {t.relation: [(r[0], r[1]) for r in con.execute(f"describe {t.relation}").fetchall()]
               for t in (by_day, whole)}  # fmt: skip
    log = "s3://smepulse/lake/ops/alert_events"  # a live relation: a view over a log appended to between publishes
    storage.write_parquet(f"{log}/a.parquet", pa.table({"alert_id": ["a"]}))
    live_sql = f"create view ops.alerts as select * from read_parquet('{log}/*.parquet')"
    live = ServedTable("ops.alerts", None, view_sql=live_sql)
    serving = str(tmp_path / "serving.duckdb")
    write_views_file(serving, root, [by_day, whole, live], schemas, PublishStamp(datetime.now(UTC), window, "run"))
    with duckdb.connect(serving, read_only=True) as reader:
        reader.register_filesystem(s3fs.S3FileSystem())
        assert reader.execute("select count(*), count(distinct as_of_date) from gold.kpi").fetchall() == [(30, 3)]
        assert reader.execute("select count(*) from gold.dim").fetchall() == [(5,)]
        storage.write_parquet(f"{log}/b.parquet", pa.table({"alert_id": ["b"]}))
        assert reader.execute("select alert_id from ops.alerts order by 1").fetchall() == [("a",), ("b",)]

    con.execute("delete from gold.kpi where as_of_date = '2020-01-02'")  # a corrected day without rows
    publish_table(con, by_day, root, window)
    assert published_counts(root, by_day, window)[date(2020, 1, 2)] == 0
    con.execute("delete from gold.kpi where as_of_date = '2020-01-03'")
    publish_table(con, by_day, root, None)  # republishing every day drops the withdrawn one too
    assert published_counts(root, by_day, window) == {date(2020, 1, 1): 10, date(2020, 1, 2): 0, date(2020, 1, 3): 0}
