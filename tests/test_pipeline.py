"""End to end with real Dagster runs, real dbt and real DuckDB: drops -> sensor -> bronze -> silver -> gold."""

import io
import logging
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.dataset as ds
import pytest

from smepulse_assets.kaggle_invoices.replay import drop_url
from smepulse_assets.tools.generator import GeneratorConfig, generate_invoice_drops
from smepulse_assets.tools.runs import evaluate_drop_sensor, run_days, run_reference, run_sensor_requests
from smepulse_assets.transform.metadata import same_columns
from smepulse_lib import storage, warehouse
from smepulse_lib.names import DROP_SENSOR, RANGE_END_TAG, RANGE_START_TAG
from tests.conftest import Platform, make_settings
from tests.kaggle_samples import ROWS, csv_bytes
from tests.reference_ar import ar_on, load_invoices

pytestmark = pytest.mark.slow

TABLES = [
    "silver.stg_ar_invoice_history",
    "silver.stg_ar_invoices",
    "silver.ftr_invoice_risk",
    "gold.dim_ar_customer",
    "gold.fact_ar_invoices",
    "gold.kpi_ar_dso_analysis",
    "gold.kpi_ar_aging",
    "gold.kpi_ar_aging_by_customer",
    "gold.kpi_ar_customer_statement",
]


def snapshot_tables(path: str) -> dict[str, pd.DataFrame]:
    """Every table sorted on all columns; ingestion times are audit data and left out."""
    out = {}
    for table in TABLES:
        frame = warehouse.query(path, f"select * from {table}")
        frame = frame[[c for c in frame.columns if c != "_ingested_at"]]
        out[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    platform = Platform(make_settings(tmp_path_factory.mktemp("world")))
    config = GeneratorConfig(start=date(2020, 1, 1), end=date(2020, 2, 29), customers=40, invoices_per_day=60, seed=11)
    generate_invoice_drops(config, platform.settings.landing_url)
    run_reference(platform.defs, platform.instance)
    requests, cursor, runs = run_sensor_requests(platform.defs, platform.instance)
    assert all(r.success for r in runs)
    return platform, config, requests, cursor


def test_sensor_drives_the_whole_range_as_one_run(world):
    platform, _config, requests, cursor = world
    assert len(requests) == 1  # 60 contiguous days -> one range run, not 60 processes
    assert requests[0].tags[RANGE_START_TAG] == "2020-01-01"
    assert requests[0].tags[RANGE_END_TAG] == "2020-02-29"
    again, _, _ = run_sensor_requests(platform.defs, platform.instance, cursor)
    assert again == []


def test_a_clean_run_logs_no_warning(world):
    """A warning in a run's log is something to act on: a clean range run (the reference data and
    the sensor's run of 60 good days) warns only that the sources this world never delivers were
    written empty, once a source. dbt tests on the bronze sources once logged 21 warnings a run
    (Dagster records them as observations, not checks), and the models 6 a day while a young
    ledger is served by its baselines, which is by design."""
    platform = world[0]
    runs = platform.instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]), ascending=True)
    loaded = runs[:2]  # the reference run and the sensor's range run; later tests run other days
    warned = [
        (entry.step_key, entry.user_message)
        for record in loaded
        for entry in platform.instance.all_logs(record.dagster_run.run_id)
        if entry.level >= logging.WARNING
    ]
    undelivered = {"customers", "products", "orders", "payments", "shipments", "bank_transactions", "supplier_bills"}
    assert len(loaded) == 2
    assert sorted(step for step, _ in warned) == sorted(f"{source}_bronze" for source in undelivered)
    for step, message in warned:
        assert message.startswith(f"No {step.removesuffix('_bronze')} delivery for 60 day(s)")


def test_a_sensor_started_after_the_load_counts_what_was_loaded_as_seen(world):
    """The drop sensor ships running; started with no cursor after days were loaded in process (as
    `smepulse demo` does), it requests nothing for them, and a file rewritten later is a new
    delivery of its day, run with every loaded day after it."""
    platform, config, _, _ = world
    first = evaluate_drop_sensor(platform.defs, platform.instance)
    assert first.run_requests == [] and first.skip_reason is not None
    time.sleep(0.01)
    url = drop_url(platform.settings.landing_url, date(2020, 2, 10))
    storage.write_bytes(url, storage.read_bytes(url))  # the same content delivered again, later
    again = evaluate_drop_sensor(platform.defs, platform.instance, first.cursor)
    [request] = again.run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("2020-02-10", f"{config.end}")
    assert platform.defs.resolve_sensor_def(DROP_SENSOR).default_status == dg.DefaultSensorStatus.RUNNING


def test_each_day_of_a_range_run_carries_its_own_figures(world):
    """A range run's metadata would be copied into every day's event (one day showed the 60 days'
    rows and files): each day's materialization has that day's rows and file, the range's totals
    and per-day table are in the run's log once."""
    platform, config, _requests, _ = world
    instance, key = platform.instance, dg.AssetKey(["bronze", "kaggle_invoices_raw"])
    lake = platform.settings.lake_url
    for day in ("2020-01-15", "2020-02-29"):
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1, ascending=True
        ).records  # the sensor's range run's (later tests re-run days)
        event = records[0].event_log_entry
        meta = event.asset_materialization.metadata
        on_disk = ds.dataset(f"{lake}/bronze/kaggle_invoices_raw/partition_date={day}", format="parquet").count_rows()
        assert meta["dagster/row_count"].value == meta["rows_loaded"].value == on_disk > 0
        assert meta["files"].value == 1 and meta["source_files"].value == [f"invoices_{day}.csv"]
        assert "days" not in meta and "layer_summary" not in meta
        assert meta["load_records"].value.endswith("bronze/_loads/kaggle_invoices")
    logs = [e for e in instance.all_logs(event.run_id) if e.step_key == "kaggle_invoices_bronze"]
    logged = [e.user_message for e in logs if e.user_message.startswith("60 day(s):")]
    assert len(logged) == 1
    days = [line.split(" | ")[0].strip("| ") for line in logged[0].splitlines()[3:]]
    assert days == [f"{config.start + timedelta(days=n)}" for n in range(60)]

    # a dbt model over a long range: no day carries the range's rows (the per-day counts of a range
    # past PER_DAY_METADATA_DAYS cost Dagster too much to record); the newest day has the columns
    aging = dg.AssetKey(["gold", "kpi_ar_aging"])
    long_range = dbt_days(instance, aging, event.run_id)
    assert len(long_range) == 60 and not any("dagster/row_count" in m for m in long_range.values())
    assert shown_columns(platform.defs, aging, long_range["2020-02-29"])

    # a short range: each day its own rows, the columns (typed, documented) on the newest day
    run = run_days(platform.defs, platform.instance, date(2020, 2, 1), date(2020, 2, 3))
    short_range = dbt_days(instance, aging, run.run_id)
    assert {d: m["dagster/row_count"].value for d, m in short_range.items()} == {
        "2020-02-01": 4,
        "2020-02-02": 4,
        "2020-02-03": 4,  # four aging buckets a day
    }
    columns = {c.name: c for c in shown_columns(platform.defs, aging, short_range["2020-02-03"])}
    assert (columns["as_of_date"].type.lower(), columns["open_amount"].type.lower()) == ("date", "double")
    assert len(columns) == 7 and "dagster/column_schema" not in short_range["2020-02-01"]
    stg = dbt_days(instance, dg.AssetKey(["silver", "stg_ar_invoices"]), run.run_id)
    posted = warehouse.query(
        platform.settings.warehouse_path,
        "select cast(state_valid_from as date)::varchar as day, count(*) as n from silver.stg_ar_invoices "
        "where state_valid_from between '2020-02-01' and '2020-02-03' group by 1",  # its window_column
    )
    assert {d: m["dagster/row_count"].value for d, m in stg.items()} == dict(
        zip(posted["day"], posted["n"], strict=False)
    )


def shown_columns(defs: dg.Definitions, key: dg.AssetKey, newest: dict) -> list[dg.TableColumn]:
    """The columns the UI's Columns panel shows for ``key``: its newest materialization's, else its
    definition's (the data catalog's, once the docs job has run). A materialization carries them
    only when they differ from the definition's, so a daily run does not store them every day."""
    spec = next(s for s in defs.resolve_assets_def(key).specs if s.key == key)
    declared = spec.metadata.get("dagster/column_schema")
    if "dagster/column_schema" in newest:  # no catalog generated yet, or one older than the model
        built = newest["dagster/column_schema"].value
        assert declared is None or not same_columns(built, declared), "the definition's columns repeated"
        return built.columns
    assert declared is not None, "neither the materialization nor the definition has the columns"
    return getattr(declared, "schema", declared).columns


def dbt_days(instance: dg.DagsterInstance, key: dg.AssetKey, run_id: str) -> dict[str, dict]:
    """Each day's materialization metadata of ``key`` in the run."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1000).records
    return {r.asset_materialization.partition: r.asset_materialization.metadata for r in records if r.run_id == run_id}


@pytest.mark.parametrize("day", [date(2020, 1, 20), date(2020, 2, 29)])
def test_gold_matches_independent_pandas_computation(world, day):
    platform, *_ = world
    expected = ar_on(load_invoices(platform.settings.landing_url), day)
    path = platform.settings.warehouse_path
    kpi = warehouse.query(path, "select * from gold.kpi_ar_dso_analysis where as_of_date = ?", [day]).iloc[0]
    for column in ("open_invoices", "invoices_posted", "invoices_paid", "overdue_invoices"):
        assert kpi[column] == expected[column], column
    # each invoice is rounded to cents once; half-even (pandas) vs half-up (DuckDB) may differ by a cent
    cents = 0.01 * expected["open_invoices"]
    assert kpi["open_amount"] == pytest.approx(expected["open_amount"], abs=cents)
    assert kpi["dso_days"] == pytest.approx(expected["dso_days"], abs=0.01)
    aging = warehouse.query(path, "select * from gold.kpi_ar_aging where as_of_date = ? order by bucket_order", [day])
    assert aging["invoice_count"].tolist() == expected["aging_counts"]
    assert aging["open_amount"].tolist() == pytest.approx(expected["aging_amounts"], abs=cents)
    assert aging["amount_share"].sum() == pytest.approx(1.0)


def test_aging_by_customer_and_statements_tie_to_the_ledger(world):
    """Per customer: the open amount of each bucket equals an independent pandas computation from
    the drop files; each day's customer buckets add up to kpi_ar_aging; the statements' balances
    carried add up to the day's open receivables, every balance brought forward is the day
    before's balance carried, and a ledger without corrections has no adjustment."""
    platform, *_ = world
    path, day = platform.settings.warehouse_path, date(2020, 2, 29)
    expected = _open_by_customer(platform.settings.landing_url, day)
    by_customer = warehouse.query(path, "select * from gold.kpi_ar_aging_by_customer where as_of_date = ?", [day])
    got = by_customer.set_index("customer_number")["open_amount"].sort_index()
    assert got.index.tolist() == expected.index.tolist()
    assert got.tolist() == pytest.approx(expected.tolist(), abs=0.01 * 50)  # a cent per invoice at most
    aging = warehouse.query(path, "select * from gold.kpi_ar_aging where as_of_date = ? order by bucket_order", [day])
    buckets = ["amount_0_30", "amount_31_60", "amount_61_90", "amount_90_plus"]
    assert by_customer[buckets].sum().tolist() == pytest.approx(aging["open_amount"].tolist(), abs=0.01)
    assert by_customer["share_of_open_ar"].sum() == pytest.approx(1.0, abs=1e-4)

    statements = warehouse.query(path, "select * from gold.kpi_ar_customer_statement order by all")
    dso = warehouse.query(path, "select as_of_date, open_amount from gold.kpi_ar_dso_analysis order by 1")
    carried = statements.groupby("as_of_date")["closing_balance"].sum()
    assert carried.tolist() == pytest.approx(
        dso.set_index("as_of_date").loc[carried.index, "open_amount"].tolist(), abs=0.01
    )
    assert statements["adjustments"].abs().max() < 0.005
    previous = statements.assign(as_of_date=pd.to_datetime(statements["as_of_date"]) + pd.Timedelta(days=1))
    linked = statements.assign(as_of_date=pd.to_datetime(statements["as_of_date"])).merge(
        previous[["as_of_date", "customer_number", "closing_balance"]], on=["as_of_date", "customer_number"], how="left"
    )
    assert linked["opening_balance"].tolist() == pytest.approx(linked["closing_balance_y"].fillna(0).tolist(), abs=1e-6)
    assert statements["invoices_new"].sum() == len(load_invoices(platform.settings.landing_url))


def _open_by_customer(landing_url: str, day: date) -> pd.Series:
    """Each customer's open amount (USD) at the end of ``day``, straight from the drop files."""
    frames = []
    for path in sorted(Path(landing_url).glob("kaggle_invoices/*/*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["delivered_on"] = pd.Timestamp(path.parent.name)
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    numeric = rows["cust_number"].str.strip().str.fullmatch(r"\d{1,9}")
    rows["customer"] = rows["cust_number"].str.strip().where(~numeric, rows["cust_number"].str.strip().str.zfill(10))
    invoices = load_invoices(landing_url)  # doc_id -> posted, cleared_on, amount_usd
    customer = rows.assign(doc_id=rows["doc_id"].astype(float).astype("int64")).groupby("doc_id")["customer"].first()
    invoices = invoices.join(customer)
    d = pd.Timestamp(day)
    open_ = invoices[(invoices.posted <= d) & (invoices.cleared_on.isna() | (invoices.cleared_on > d))]
    return open_.groupby("customer")["amount_usd"].sum().round(2).sort_index()


def test_row_counts_add_up_and_duplicates_are_removed(world):
    platform, *_ = world
    invoices = load_invoices(platform.settings.landing_url)
    counts = warehouse.row_counts(platform.settings.warehouse_path)
    assert counts["silver.stg_ar_invoices"] == len(invoices) == counts["gold.fact_ar_invoices"]
    total = warehouse.query(
        platform.settings.warehouse_path, "select sum(amount_reporting) as s from gold.fact_ar_invoices"
    )
    assert total["s"].iloc[0] == pytest.approx(invoices.amount_usd.sum(), abs=1.0)
    lost_zero = warehouse.query(
        platform.settings.warehouse_path,
        "select count(*) as n from silver.stg_ar_invoices where regexp_full_match(customer_number, '[0-9]{1,9}')",
    )
    assert lost_zero["n"].iloc[0] == 0


def test_rematerializing_a_partition_leaves_identical_tables(world):
    platform, *_ = world
    before = snapshot_tables(platform.settings.warehouse_path)
    run_days(platform.defs, platform.instance, date(2020, 2, 10), date(2020, 2, 10))
    run_days(platform.defs, platform.instance, date(2020, 1, 1), date(2020, 2, 29))
    after = snapshot_tables(platform.settings.warehouse_path)
    for table in TABLES:
        pd.testing.assert_frame_equal(before[table], after[table], obj=table)


def test_short_windows_build_the_same_tables_as_the_backfill(world):
    """A short window takes paths whose cost does not grow with history (is_short_window in
    macros/partition_window.sql): invoice features add the customer's record before the window
    to the window's own events (medians from counts), the customer payment record continues from
    each customer's last row before the window, and the AR customer dimension continues its
    versions when the window is the newest. A day and a week in the middle and at the end of the
    history, rebuilt on their own, must equal what the backfill built, row for row."""
    platform, *_ = world
    tables = [
        "silver.ftr_invoice_at_posting",
        "silver.ftr_ar_customer_payment",
        "gold.dim_ar_customer",
        "gold.kpi_ar_customer_statement",  # the balance brought forward across a window's first day
    ]
    windows = [
        (date(2020, 2, 10), date(2020, 2, 10)),
        (date(2020, 2, 20), date(2020, 2, 26)),  # the middle
        (date(2020, 2, 23), date(2020, 2, 29)),
        (date(2020, 2, 29), date(2020, 2, 29)),
    ]  # the end

    def snapshot(table: str) -> pd.DataFrame:
        return warehouse.query(platform.settings.warehouse_path, f"select * from {table} order by all")

    backfilled = {table: snapshot(table) for table in tables}
    features = backfilled["silver.ftr_invoice_at_posting"]
    rebuilt = pd.concat(
        [features[features["known_on"].between(pd.Timestamp(first), pd.Timestamp(last))] for first, last in windows]
    )
    assert rebuilt["prior_median_days_late"].notna().sum() > 150  # the medians compared are real ones
    versions = backfilled["gold.dim_ar_customer"]
    assert (
        pd.to_datetime(versions["valid_from"]) >= pd.Timestamp(2020, 2, 23)
    ).sum() > 5  # versions the end windows continue
    for first, last in windows:
        run_days(platform.defs, platform.instance, first, last)
    for table in tables:
        pd.testing.assert_frame_equal(backfilled[table], snapshot(table), obj=table)


def test_invoices_delivered_already_paid_and_big_days_build_the_backfills_features(tmp_path):
    """The short window's per-day figures take each invoice's own opening row out (its same-day
    payment too): invoices first delivered already paid, several of one customer on one day with
    the same payment date and days late, give the same features rebuilt day by day as backfilled."""
    platform = Platform(make_settings(tmp_path))
    # 36 days: the backfill takes the framed window path (over 31 days), the days rebuilt the short one
    config = GeneratorConfig(start=date(2020, 1, 1), end=date(2020, 2, 5), customers=8, invoices_per_day=40, seed=4)
    generate_invoice_drops(config, platform.settings.landing_url)
    for day in (date(2020, 1, 20), date(2020, 1, 27)):
        url = drop_url(platform.settings.landing_url, day)
        frame = pd.read_csv(io.BytesIO(storage.read_bytes(url)), dtype=str, keep_default_na=False)
        opened = frame.index[frame["isOpen"] == "1"][:12]  # delivered paid on the day they are posted
        frame.loc[opened, "isOpen"] = "0"
        frame.loc[opened, "clear_date"] = frame.loc[opened, "posting_date"] + " 00:00:00"
        frame.loc[opened[:4], "cust_number"] = frame.loc[opened[0], "cust_number"]  # one customer, four alike
        frame.loc[opened[4], "cust_number"] = f"NEW{day:%d}"  # a first invoice: nothing known but itself
        storage.write_bytes(url, frame.to_csv(index=False).encode())
    run_reference(platform.defs, platform.instance)
    assert run_days(platform.defs, platform.instance, config.start, config.end).success
    query = "select * from silver.ftr_invoice_at_posting order by all"
    backfilled = warehouse.query(platform.settings.warehouse_path, query)
    assert backfilled["days_since_last_payment"].eq(0).sum() >= 4  # same-day payments seen by the others
    first = backfilled[backfilled["customer_number"].str.startswith("NEW")]
    assert len(first) == 2 and first["days_since_last_payment"].isna().all()  # its own payment not counted
    assert first["prior_median_days_late"].isna().all() and (first["prior_invoices"] == 0).all()
    for day in (date(2020, 1, 20), date(2020, 1, 26), date(2020, 1, 27)):
        assert run_days(platform.defs, platform.instance, day, day).success
    pd.testing.assert_frame_equal(backfilled, warehouse.query(platform.settings.warehouse_path, query))


def test_late_clearing_updates_invoice_and_adds_history_row(tmp_path):
    platform = Platform(make_settings(tmp_path))
    landing = platform.settings.landing_url
    opening = ROWS[1]  # open invoice 1930438492, posted 2020-01-26
    storage.write_bytes(drop_url(landing, date(2020, 1, 26)), csv_bytes(opening))
    run_reference(platform.defs, platform.instance)
    run_days(platform.defs, platform.instance, date(2020, 1, 26), date(2020, 1, 26))
    path = platform.settings.warehouse_path
    assert warehouse.query(path, "select is_open from silver.stg_ar_invoices")["is_open"].tolist() == [True]

    clearing = opening.replace(",,2020.0", ",2020-03-02 00:00:00,2020.0", 1)[:-1] + "0"
    storage.write_bytes(drop_url(landing, date(2020, 3, 2)), csv_bytes(clearing))
    run_days(platform.defs, platform.instance, date(2020, 3, 2), date(2020, 3, 2))
    current = warehouse.query(path, "select is_open, payment_date, state_version from silver.stg_ar_invoices")
    assert current["is_open"].tolist() == [False] and str(current["payment_date"].iloc[0])[:10] == "2020-03-02"
    history = warehouse.query(
        path, "select is_open, valid_from, valid_to, is_current from silver.stg_ar_invoice_history order by valid_from"
    )
    assert history["is_open"].tolist() == [True, False]
    assert history["is_current"].tolist() == [False, True]
    assert str(history["valid_to"].iloc[0])[:10] == "2020-03-02" and pd.isna(history["valid_to"].iloc[1])
    fact = warehouse.query(path, "select status, days_to_pay, days_late from gold.fact_ar_invoices").iloc[0]
    assert fact["status"] == "paid" and fact["days_to_pay"] == 36 and fact["days_late"] == 21


def test_unreadable_file_fails_the_run_and_leaves_partitions_untouched(tmp_path):
    platform = Platform(make_settings(tmp_path))
    landing, lake = platform.settings.landing_url, platform.settings.lake_url
    storage.write_bytes(drop_url(landing, date(2020, 1, 26)), csv_bytes(*ROWS))
    run_reference(platform.defs, platform.instance)
    run_days(platform.defs, platform.instance, date(2020, 1, 26), date(2020, 1, 26))
    bronze_file = f"{lake}/bronze/kaggle_invoices_raw/partition_date=2020-01-26/part.parquet"
    before = storage.read_bytes(bronze_file)

    storage.write_bytes(drop_url(landing, date(2020, 1, 26)), csv_bytes(*ROWS)[:-30])  # cut off mid-row
    storage.write_bytes(drop_url(landing, date(2020, 1, 27)), csv_bytes(ROWS[0]))
    result = run_days(platform.defs, platform.instance, date(2020, 1, 26), date(2020, 1, 27), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.user_failure_data.description
    assert "invoices_2020-01-26.csv" in message and "truncated" in message
    assert storage.read_bytes(bronze_file) == before
    assert not storage.filesystem(f"{lake}/bronze/kaggle_invoices_raw/partition_date=2020-01-27")[0].exists(
        f"{lake}/bronze/kaggle_invoices_raw/partition_date=2020-01-27"
    )


def test_bad_rows_are_quarantined_and_counted(tmp_path):
    platform = Platform(make_settings(tmp_path))
    bad = ROWS[0].replace("54273.28", "n/a")
    storage.write_bytes(drop_url(platform.settings.landing_url, date(2020, 1, 26)), csv_bytes(ROWS[1], bad, ROWS[2]))
    run_reference(platform.defs, platform.instance)
    result = run_days(platform.defs, platform.instance, date(2020, 1, 26), date(2020, 1, 26))
    meta = result.asset_materializations_for_node("kaggle_invoices_bronze")[0].metadata
    assert (meta["rows_read"].value, meta["rows_loaded"].value, meta["rows_quarantined"].value) == (3, 2, 1)
    assert meta["files"].value == 1 and meta["dagster/row_count"].value == 2
    quarantine = warehouse.query(platform.settings.warehouse_path, "select * from ops.ops_quarantine")
    assert quarantine[["rule", "source_line"]].values.tolist() == [["type:total_open_amount", 3]]
