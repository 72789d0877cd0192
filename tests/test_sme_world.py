"""The SME world end to end: generated drops of every source through real Dagster runs, real
bronze, real dbt and DuckDB, compared with the generator's truth recomputed in pandas.

The generator keeps the final state of every entity (``World``); each KPI is recomputed
here from that truth with plain pandas, independently of the SQL, and must agree day by day.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from conftest import Platform, make_settings

from smepulse_assets.tools.generator import GeneratorConfig, WorldConfig, generate_sample_data
from smepulse_assets.tools.generator.sme_world import drop_bytes, drop_url, read_seed
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_assets.transform.project import REFERENCE_MODELS
from smepulse_assets.transform.seed_sensor import (
    CALENDAR_ENTRY,
    MACROS_DIR,
    MODELS_DIR,
    SEEDS_DIR,
    build_seed_sensor,
    seed_key,
)
from smepulse_lib import warehouse
from smepulse_lib.names import CHANGED_SEEDS_TAG, REFERENCE_JOB, SEED_SENSOR
from smepulse_lib.storage import write_bytes

pytestmark = pytest.mark.slow  # runs dbt or Dagster runs

START, END = date(2020, 1, 1), date(2020, 2, 14)  # spans Tết 2020 (25 January)
WINDOW = 30  # var working_capital_window_days
SME_TABLES = [
    "silver.stg_customers",
    "silver.stg_orders",
    "silver.stg_payments",
    "silver.stg_bank_transactions",
    "silver.ftr_customer_behavior",
    "silver.ftr_payment_pattern",
    "gold.dim_customer",
    "gold.fact_orders",
    "gold.fact_payments",
    "gold.link_order_payment",
    "gold.link_payment_bank",
    "gold.kpi_daily_revenue",
    "gold.kpi_working_capital",
    "gold.kpi_reconciliation_daily",
    "gold.kpi_ap_aging",
]


@pytest.fixture(scope="module")
def sme(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("sme"))
    platform = Platform(settings)
    invoices = GeneratorConfig(start=START, end=END, customers=15, invoices_per_day=15, seed=4)
    world_config = WorldConfig(start=START, end=END, customers=40, orders_per_day=20, seed=21)
    _, world, _ = generate_sample_data(invoices, settings.landing_url, world_config)
    run_reference(platform.defs, platform.instance)
    result = run_days(platform.defs, platform.instance, START, END)
    return platform, world, result


def table(platform: Platform, sql: str) -> pd.DataFrame:
    return warehouse.query(platform.settings.warehouse_path, sql)


def days() -> pd.DatetimeIndex:
    return pd.date_range(START, END, freq="D")


# -- independent recomputation ------------------------------------------------------------


def expected_revenue(world) -> pd.DataFrame:
    lines = world.order_lines
    daily = lines.groupby("order_date").agg(
        orders=("order_id", "nunique"), revenue_vnd=("revenue_vnd", "sum"), cost_vnd=("cost_vnd", "sum")
    )
    return daily.reindex(days().date, fill_value=0)


def expected_success(world) -> pd.DataFrame:
    payments = world.payments
    rows = []
    for day in days().date:
        settled = payments[payments.settled_date == day]
        paid, failed = (settled.status == "paid").sum(), (settled.status == "failed").sum()
        pending = payments[
            (payments.payment_date <= day) & (payments.settled_date.isna() | (payments.settled_date > day))
        ]
        rows.append((day, paid, failed, paid / (paid + failed) if paid + failed else np.nan, len(pending)))
    return pd.DataFrame(rows, columns=["day", "paid", "failed", "success_rate", "pending"]).set_index("day")


def expected_reconciliation(world) -> pd.DataFrame:
    methods = read_seed("payment_method_map").drop_duplicates("method_code").set_index("method_code")
    credits_bank = set(methods.index[methods.expects_bank_line == "true"])
    payments = world.payments
    expected = payments[(payments.status == "paid") & payments.method_code.isin(credits_bank)]
    credits = world.bank_lines[world.bank_lines.direction == "credit"]
    with_payment = credits.merge(
        expected[["payment_id", "amount_vnd"]], on="payment_id", how="left", suffixes=("", "_paid")
    )
    with_payment["matched"] = (with_payment.amount_vnd - with_payment.amount_vnd_paid).abs() < 1
    with_payment["mismatch"] = with_payment.amount_vnd_paid.notna() & ~with_payment.matched
    missing = expected[~expected.payment_id.isin(credits.payment_id.dropna())]
    rows = []
    for day in days().date:
        lines = with_payment[with_payment.txn_date == day]
        gone = missing[missing.settled_date == day]
        rows.append(
            (
                day,
                len(lines),
                lines.amount_vnd.sum(),
                lines.matched.sum(),
                lines.mismatch.sum(),
                (lines.amount_vnd - lines.amount_vnd_paid)[lines.mismatch].sum(),
                lines.amount_vnd_paid.isna().sum(),
                len(gone),
                gone.amount_vnd.sum(),
                int(lines.repeated.sum()),
            )
        )
    columns = [
        "day",
        "lines",
        "amount",
        "matched",
        "mismatch",
        "difference",
        "unmatched_bank",
        "missing",
        "missing_amount",
        "repeated",
    ]
    return pd.DataFrame(rows, columns=columns).set_index("day")


def expected_working_capital(world) -> pd.DataFrame:
    lines, payments, bills = world.order_lines, world.payments, world.bills
    first = lines.order_date.min()
    rows = []
    for day in days().date:
        since = day - timedelta(days=WINDOW - 1)
        ar = (
            lines[lines.order_date <= day].revenue_vnd.sum()
            - payments[(payments.status == "paid") & (payments.settled_date <= day)].amount_vnd.sum()
        )
        ap = (
            bills[bills.bill_date <= day].amount_vnd.sum()
            - bills[bills.paid_date.notna() & (bills.paid_date <= day)].amount_vnd.sum()
        )
        in_window = lines[(lines.order_date >= since) & (lines.order_date <= day)]
        window_days = min(WINDOW, (day - first).days + 1)
        dso = ar / (in_window.revenue_vnd.sum() / window_days)
        dpo = ap / (in_window.cost_vnd.sum() / window_days)
        rows.append((day, ar, ap, round(dso, 2), round(dpo, 2), round(dso, 2) - round(dpo, 2)))
    return pd.DataFrame(rows, columns=["day", "ar", "ap", "dso", "dpo", "ccc"]).set_index("day")


def dated(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.assign(**{column: pd.to_datetime(frame[column]).dt.date}).set_index(column).sort_index()


# -- the tests ------------------------------------------------------------------------------


def test_every_check_of_the_sme_world_passes(sme):
    _, _, result = sme
    assert result.success
    failing = [
        f"{c.asset_key.to_user_string()}:{c.check_name}" for c in result.get_asset_check_evaluations() if not c.passed
    ]
    # the invoices are small and clear in weekly batches; nothing of the SME world may fail
    assert [f for f in failing if "kaggle" not in f and "_ar_" not in f] == []


def test_daily_revenue_matches_the_order_lines(sme):
    platform, world, _ = sme
    got = dated(table(platform, "select * from gold.kpi_daily_revenue"), "revenue_date")
    want = expected_revenue(world)
    assert list(got.index) == list(want.index)  # every day, quiet ones included
    assert got.orders.tolist() == want.orders.tolist()
    assert got.revenue_vnd.tolist() == pytest.approx(want.revenue_vnd.tolist())
    assert got.cost_vnd.tolist() == pytest.approx(want.cost_vnd.tolist())
    previous = want.revenue_vnd.shift(1)
    growth = (want.revenue_vnd / previous - 1).where(previous > 0).round(4)
    assert got.growth_vs_previous_day.iloc[1:].tolist() == pytest.approx(
        growth.iloc[1:].tolist(), nan_ok=True, abs=1e-4
    )
    tet = got.loc[date(2020, 1, 25) : date(2020, 1, 29), "revenue_vnd"].mean()
    before = got.loc[date(2020, 1, 10) : date(2020, 1, 23), "revenue_vnd"].mean()
    assert tet < before / 2  # Tết empties the order book


def test_payment_success_rate_matches_the_payments(sme):
    platform, world, _ = sme
    got = dated(table(platform, "select * from gold.kpi_payment_success_rate"), "as_of_date")
    want = expected_success(world)
    got = got.reindex(want.index)
    assert got.payments_paid.tolist() == want.paid.tolist()
    assert got.payments_failed.tolist() == want.failed.tolist()
    assert got.payments_pending_at_day_end.tolist() == want.pending.tolist()
    assert got.success_rate.tolist() == pytest.approx(want.success_rate.round(4).tolist(), nan_ok=True, abs=1e-4)
    assert want.failed.sum() > 0 and want.pending.sum() > 0  # the world has both


def test_reconciliation_counts_and_amounts_match_the_bank_truth(sme):
    platform, world, _ = sme
    got = dated(table(platform, "select * from gold.kpi_reconciliation_daily"), "statement_date").reindex(days().date)
    want = expected_reconciliation(world)
    pairs = {
        "bank_credit_lines": "lines",
        "bank_credit_amount_vnd": "amount",
        "matched_lines": "matched",
        "amount_mismatch_lines": "mismatch",
        "amount_mismatch_difference_vnd": "difference",
        "unmatched_bank_lines": "unmatched_bank",
        "payments_without_bank_line": "missing",
        "amount_without_bank_line_vnd": "missing_amount",
        "repeated_deliveries_dropped": "repeated",
    }
    for column, truth in pairs.items():
        assert got[column].fillna(0).tolist() == pytest.approx(want[truth].tolist()), column
    # the world exercises every outcome
    assert want.mismatch.sum() and want.unmatched_bank.sum() and want.missing.sum() and want.repeated.sum()


def test_dso_dpo_and_ccc_match_an_independent_computation(sme):
    platform, world, _ = sme
    got = dated(table(platform, "select * from gold.kpi_working_capital"), "as_of_date").reindex(days().date)
    want = expected_working_capital(world)
    assert got.ar_outstanding_vnd.tolist() == pytest.approx(want.ar.tolist())
    assert got.ap_outstanding_vnd.tolist() == pytest.approx(want.ap.tolist())
    assert got.dso_days.tolist() == pytest.approx(want.dso.tolist(), abs=0.011)
    assert got.dpo_days.tolist() == pytest.approx(want.dpo.tolist(), abs=0.011)
    assert got.ccc_days.tolist() == pytest.approx(want.ccc.tolist(), abs=0.021)
    assert (got.inventory_days == 0).all()  # the explicit DIO term (var inventory_days)


def test_ap_aging_buckets_add_up_to_ap_outstanding(sme):
    platform, _, _ = sme
    aging = table(platform, "select as_of_date, sum(open_amount_vnd) as open from gold.kpi_ap_aging group by 1")
    wc = table(platform, "select as_of_date, ap_outstanding_vnd from gold.kpi_working_capital")
    both = aging.merge(wc, on="as_of_date")
    assert len(both) == (END - START).days + 1
    assert both.open.tolist() == pytest.approx(both.ap_outstanding_vnd.tolist())


def test_links_hold_every_fact_once_with_their_match_status(sme):
    platform, world, _ = sme
    orders = table(
        platform, "select match_status, count(*) as n from gold.link_order_payment where order_row = 1 group by 1"
    )
    statuses = dict(orders.itertuples(index=False))
    paid = world.payments[world.payments.status == "paid"].groupby("order_id").amount_vnd.sum()
    totals = world.order_lines.groupby("order_id").revenue_vnd.sum()
    fully = ((paid.reindex(totals.index, fill_value=0) - totals).abs() < 1).sum()
    partly = (
        (paid.reindex(totals.index, fill_value=0) > 0) & (paid.reindex(totals.index, fill_value=0) < totals - 1)
    ).sum()
    assert statuses["matched"] == fully and statuses["partial"] == partly
    assert sum(statuses.values()) == len(totals)
    shipments = table(
        platform, "select match_status, count(*) as n from gold.link_order_shipment where order_row = 1 group by 1"
    )
    assert set(shipments.match_status) == {"matched", "partial", "unmatched", "amount_mismatch"}


def test_customer_dimension_versions_follow_the_account_changes(sme):
    platform, world, _ = sme
    states = world.customers.drop(columns="updated_on").astype(str).agg("|".join, axis=1)
    changed = states.ne(states.groupby(world.customers.customer_code).shift())
    dim = table(
        platform,
        "select customer_code, count(*) as versions, sum(is_current::int) as current from gold.dim_customer group by 1",
    )
    want = changed.groupby(world.customers.customer_code).sum()
    assert dict(zip(dim.customer_code, dim.versions, strict=False)) == want.to_dict()
    assert (dim.current == 1).all()
    # every order line found the account version in force on its day
    assert table(platform, "select count(*) as n from gold.fact_orders where customer_key is null").n.iloc[0] == 0


def test_features_are_as_of_the_day(sme):
    platform, world, _ = sme
    features = table(platform, "select * from silver.ftr_customer_behavior where as_of_date = '2020-01-31'")
    lines = world.order_lines[(world.order_lines.order_date <= date(2020, 1, 31))]
    per_customer = lines.groupby("customer_code").agg(
        orders=("order_id", "nunique"), revenue=("revenue_vnd", "sum"), last=("order_date", "max")
    )
    got = features.set_index("customer_code").loc[per_customer.index]
    assert got.frequency_ltm.tolist() == per_customer.orders.tolist()
    assert got.monetary_ltm_vnd.tolist() == pytest.approx(per_customer.revenue.tolist())
    assert got.recency_days.tolist() == [(date(2020, 1, 31) - d).days for d in per_customer["last"]]
    season = dated(table(platform, "select * from silver.ftr_seasonality"), "as_of_date")
    assert season.loc[date(2020, 1, 25), "is_tet_holiday"] and season.loc[date(2020, 1, 20), "is_tet_season"]
    assert season.loc[date(2020, 1, 23), "days_to_tet"] == 1  # the break starts on the eve, 24 January
    macro = table(platform, "select count(*) as n, count(lending_rate_pct) as covered from silver.ftr_macroeconomic")
    assert macro.n.iloc[0] == macro.covered.iloc[0] == (END - START).days + 1


def test_an_account_change_opens_a_version_and_closes_the_old_one(sme, tmp_path):
    platform, world, _ = sme
    day = END + timedelta(days=1)
    account = world.customers.drop_duplicates("customer_code", keep="last").iloc[0].to_dict()
    changed = {**account, "segment": "distributor", "credit_limit_vnd": 3_000_000_000.0, "updated_on": day}
    write_bytes(drop_url(platform.settings.landing_url, "customers", day), drop_bytes("customers", [changed]))
    run_days(platform.defs, platform.instance, day, day)
    versions = table(
        platform,
        f"select * from gold.dim_customer where customer_code = '{account['customer_code']}' order by valid_from",
    )
    old, new = versions.iloc[-2], versions.iloc[-1]
    assert pd.Timestamp(old.valid_to).date() == day and not old.is_current
    assert pd.Timestamp(new.valid_from).date() == day and new.is_current and pd.isna(new.valid_to)
    assert new.segment == "distributor" and new.credit_limit_vnd == 3_000_000_000


def test_malformed_operational_rows_are_quarantined_with_reasons(tmp_path):
    platform = Platform(make_settings(tmp_path))
    day = date(2020, 3, 2)
    header = "payment_id,order_id,customer_code,payment_date,method,status,amount_vnd,settled_date,updated_on\n"
    body = (
        "TT0000001,DH0000001,KH00001,2020-03-02,MoMo,paid,150000,2020-03-02,2020-03-02\n"  # fine
        "TT0000002,DH0000001,KH00001,2020-03-02,momo,paid,-5000,2020-03-02,2020-03-02\n"  # negative
        "TT0000003,DH0000001,KH00001,2020-03-02,momo,paid,5000,,2020-03-02\n"  # paid, never settled
        "TT0000004,DH0000001,KH00001,02/03/2020,momo,pending,5000,,2020-03-02\n"  # not a date
        # unknown method: loads, flagged later
        "TT0000005,DH0000001,KH00001,2020-03-02,bitcoin,pending,5000,,2020-03-02\n"
    )
    write_bytes(drop_url(platform.settings.landing_url, "payments", day), (header + body).encode())
    run_reference(platform.defs, platform.instance)
    result = run_days(platform.defs, platform.instance, day, day, raise_on_error=False)
    quarantine = table(
        platform, "select source, source_line, rule, reason from ops.ops_quarantine order by source_line"
    )
    assert quarantine.source.tolist() == ["payments"] * 3
    assert quarantine.source_line.tolist() == [3, 4, 5]
    assert quarantine.rule.tolist() == [
        "rule:amount_positive",
        "rule:settled_payment_has_settled_date",
        "type:payment_date",
    ]
    payments = table(platform, "select payment_id, method_code, status from silver.stg_payments order by payment_id")
    assert payments.values.tolist() == [["TT0000001", "momo", "paid"], ["TT0000005", "unknown", "pending"]]
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    assert checks[("bronze/payments_raw", "row_conservation")].passed  # 5 read = 2 loaded + 3 quarantined
    unknown_method = [
        c for (asset, name), c in checks.items() if asset == "silver/stg_payments" and "method_code" in name
    ]
    assert unknown_method and not unknown_method[0].passed


def test_rerunning_days_leaves_the_sme_tables_identical(sme):
    platform, _, _ = sme
    before = {t: table(platform, f"select * from {t}") for t in SME_TABLES}
    run_days(platform.defs, platform.instance, date(2020, 1, 20), date(2020, 1, 22))
    after = {t: table(platform, f"select * from {t}") for t in SME_TABLES}
    for name in SME_TABLES:
        key = list(before[name].columns[:3])
        pd.testing.assert_frame_equal(
            before[name].sort_values(key, ignore_index=True), after[name].sort_values(key, ignore_index=True), obj=name
        )


def test_a_newer_seed_file_requests_the_reference_job(tmp_path, platform):
    seeds, models, macros = tmp_path / "seeds", tmp_path / "models", tmp_path / "macros"
    for source, copy in ((SEEDS_DIR, seeds), (MODELS_DIR, models), (MACROS_DIR, macros)):
        shutil.copytree(source, copy)
    job = platform.defs.resolve_job_def(REFERENCE_JOB)
    built = job.asset_layer.selected_asset_keys
    sensor = build_seed_sensor(job, platform.settings, built, seeds, models, macros)
    assert platform.defs.resolve_sensor_def(SEED_SENSOR).job_name == REFERENCE_JOB

    def tick(cursor, on=sensor):
        with dg.build_sensor_context(instance=platform.instance, cursor=cursor) as context:
            return on(context)

    first = tick(None)
    assert len(first.run_requests) == 1  # nothing loaded yet: load everything once
    assert tick(first.cursor).skip_reason.skip_message == "no seed file changed"
    macro = seeds / "macro_indicators.csv"
    macro.write_text(macro.read_text() + "2026-11-01,7.1,3.4,26350\n")
    refreshed = tick(first.cursor)
    assert refreshed.run_requests[0].tags[CHANGED_SEEDS_TAG] == "macro_indicators.csv"
    assert refreshed.run_requests[0].run_key != first.run_requests[0].run_key

    # a sensor first started after the seeds were loaded (the demo's reference run) starts from them;
    # what it looks at are the reference job's own assets (the calendar's is gold/dim_date: a key
    # the job does not build made every first start after the demo rerun the reference job)
    sql = [p.name for p in models.rglob("*.sql") if p.stem in REFERENCE_MODELS]  # alerts.sql, dim_date.sql, ...
    entries = [*(p.name for p in seeds.glob("*.csv")), *sql, CALENDAR_ENTRY]
    watched = {seed_key(name, built) for name in entries}
    assert watched <= built and dg.AssetKey(["ops", "alerts"]) in watched
    for name in entries:  # the calendar: the date dimension built
        platform.instance.report_runless_asset_event(dg.AssetMaterialization(seed_key(name, built)))
    started_late = tick(None)
    assert not started_late.run_requests and started_late.cursor == refreshed.cursor
    time.sleep(0.01)
    macro.write_text(macro.read_text() + "2026-12-01,7.1,3.4,26400\n")  # then a newer file lands
    newer = tick(started_late.cursor)
    assert newer.run_requests[0].tags[CHANGED_SEEDS_TAG] == "macro_indicators.csv"
    # data older than the partitions moves the calendar's start: the date dimension must cover it
    older = dataclasses.replace(platform.settings, partitions_start="2012-03-01")  # a replay of 2012 data
    moved = tick(newer.cursor, build_seed_sensor(job, older, built, seeds, models, macros))
    assert moved.run_requests[0].tags[CHANGED_SEEDS_TAG] == CALENDAR_ENTRY
    # an upgrade that changes an unpartitioned model's SQL (no daily run rebuilds it) rebuilds it
    alerts = next(models.rglob("alerts.sql"))
    alerts.write_text(alerts.read_text() + "\n-- a column added\n")
    upgraded = tick(newer.cursor)
    assert upgraded.run_requests[0].tags[CHANGED_SEEDS_TAG] == "alerts.sql"
    # and so does one that changes a macro their SQL calls: the surrogate keys of the seed dimensions
    keys = macros / "keys.sql"
    keys.write_text(keys.read_text() + "\n{# a key reworked #}\n")
    rekeyed = tick(upgraded.cursor)
    dims = "dim_carrier.sql,dim_channel.sql,dim_countries.sql,dim_date.sql,dim_geo.sql,dim_payment_method.sql"
    assert rekeyed.run_requests[0].tags[CHANGED_SEEDS_TAG] == dims  # dim_date: its date_key
    assert tick(rekeyed.cursor).skip_reason.skip_message == "no seed file changed"
