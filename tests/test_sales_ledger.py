"""The SME's own sales on account as a receivables ledger (SMEPULSE_SALES_AS_RECEIVABLES), beside
the delivered AR files, through real Dagster runs, dbt and DuckDB. Gold's per-ledger AR figures,
the consolidated ones and the credit-limit utilisation are compared with an independent pandas
computation from the generator's own truth (its order lines, payments and account versions)."""

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smepulse_assets.tools.generator import GeneratorConfig, WorldConfig, generate_sample_data
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib import warehouse
from smepulse_lib.names import ML_JOB
from smepulse_lib.settings import Settings
from tests.conftest import Platform, make_settings
from tests.dashboard_browser import browse_dashboard
from tests.reference_ar import ar_on, load_invoices

pytestmark = pytest.mark.slow

DBT_SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"

FIRST, LAST = date(2020, 1, 1), date(2020, 4, 30)
DAYS = [date(2020, 1, 1), date(2020, 1, 20), date(2020, 2, 29), date(2020, 4, 2), LAST]
LEDGER = "SME"


def _accounts_on(customers: pd.DataFrame, days: pd.Series, codes: pd.Series) -> pd.DataFrame:
    """The account version in force on each (day, code): the last delivered on or before the day."""
    versions = customers.assign(updated_on=pd.to_datetime(customers["updated_on"])).sort_values("updated_on")
    asked = pd.DataFrame({"day": pd.to_datetime(days).values, "customer_code": codes.values}).reset_index()
    found = pd.merge_asof(asked.sort_values("day"), versions, left_on="day", right_on="updated_on", by="customer_code")
    return found.set_index("index").sort_index()


def _sales_invoices(world) -> pd.DataFrame:
    """Orders of accounts with a credit line on the order day, each cleared on the settlement of
    the payment that completed it (in settlement order), as reference_ar.ar_on reads them."""
    lines = world.order_lines
    orders = lines.groupby("order_id").agg(
        posted=("order_date", "min"), due=("due_date", "min"), customer=("customer_code", "min"),
        amount=("revenue_vnd", "sum"), channel=("channel", "min"),
    )  # fmt: skip
    account = _accounts_on(world.customers, orders["posted"], orders["customer"])
    orders = orders[account["credit_limit_vnd"].to_numpy() > 0]
    paid = world.payments[world.payments["status"] == "paid"].sort_values(["settled_date", "payment_id"])
    paid = paid[paid["order_id"].isin(orders.index)]
    received = paid.groupby("order_id")["amount_vnd"].cumsum()
    total = orders.loc[paid["order_id"], "amount"].to_numpy()
    completing = paid[received.to_numpy() >= total - 1].groupby("order_id")["settled_date"].first()
    out = orders.join(completing.rename("cleared_on"))
    for column in ("posted", "due", "cleared_on"):
        out[column] = pd.to_datetime(out[column])
    return out.assign(amount_usd=out["amount"])  # ar_on sums `amount_usd`: here the ledger's own VND


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sales_ledger")
    settings = make_settings(folder, SMEPULSE_PARTITIONS_START=f"{FIRST}", SMEPULSE_SALES_AS_RECEIVABLES="true")
    config = GeneratorConfig(start=FIRST, end=LAST, customers=30, invoices_per_day=20, seed=5)
    _, world, _ = generate_sample_data(
        config, settings.landing_url, WorldConfig(start=FIRST, end=LAST, customers=60, orders_per_day=25, seed=5)
    )
    platform = Platform(settings)
    run_reference(platform.defs, platform.instance)
    assert run_days(platform.defs, platform.instance, FIRST, LAST).success
    assert run_days(platform.defs, platform.instance, LAST, LAST, job_name=ML_JOB).success
    return platform, world, _sales_invoices(world)


def _ledger_day(path: str, day: date) -> pd.DataFrame:
    return warehouse.query(path, "select * from gold.kpi_ar_ledger_daily where as_of_date = ?", [day])


def test_the_world_has_what_the_ledger_must_handle(ledgers):
    _, world, sales = ledgers
    assert len(sales) > 1000
    assert sales["cleared_on"].isna().sum() > 20  # bad debts and invoices not yet due
    instalments = world.payments[world.payments["status"] == "paid"].groupby("order_id").size()
    assert (instalments.reindex(sales.index) > 1).sum() > 50
    retail = world.order_lines["order_id"].nunique() - len(sales)
    assert retail > 300  # sales paid at the checkout stay out of receivables


@pytest.mark.parametrize("day", DAYS)
def test_the_sales_ledger_figures_equal_an_independent_computation(ledgers, day):
    platform, _, sales = ledgers
    expected = ar_on(sales, day)
    rows = _ledger_day(platform.settings.warehouse_path, day)
    [kpi] = rows[rows["business_code"] == LEDGER].to_dict("records")
    assert kpi["currency"] == "VND"
    for column in ("open_invoices", "invoices_posted", "invoices_paid", "overdue_invoices"):
        assert kpi[column] == expected[column], column
    assert kpi["open_amount"] == pytest.approx(expected["open_amount"], abs=0.5)
    assert kpi["dso_days"] == pytest.approx(expected["dso_days"], abs=0.01)
    buckets = [kpi[c] for c in ("amount_0_30", "amount_31_60", "amount_61_90", "amount_90_plus")]
    assert buckets == pytest.approx(expected["aging_amounts"], abs=0.5)


@pytest.mark.parametrize("day", DAYS)
def test_consolidated_figures_are_the_ledgers_together_in_the_reporting_currency(ledgers, day):
    platform, _, sales = ledgers
    path = platform.settings.warehouse_path
    files = ar_on(load_invoices(platform.settings.landing_url), day)
    rows = _ledger_day(path, day)
    delivered = rows[rows["business_code"] != LEDGER]
    assert delivered["open_invoices"].sum() == files["open_invoices"]
    cents = 0.01 * files["open_invoices"]
    assert delivered["open_amount_reporting"].sum() == pytest.approx(files["open_amount"], abs=cents)

    [total] = warehouse.query(path, "select * from gold.kpi_ar_dso_analysis where as_of_date = ?", [day]).to_dict(
        "records"
    )
    assert (
        total["open_invoices"]
        == rows["open_invoices"].sum()
        == files["open_invoices"] + ar_on(sales, day)["open_invoices"]
    )
    assert total["open_amount"] == pytest.approx(rows["open_amount_reporting"].sum(), abs=0.01 * len(rows))
    usd = warehouse.query(
        path,
        "select rate from reference.fx_rates where currency = 'VND' and rate_date <= ? order by rate_date desc limit 1",
        [day],
    )
    assert usd["rate"].iloc[0] < 0.001  # VND really converted, not summed as dollars


def test_credit_utilisation_equals_the_open_items_against_each_accounts_line(ledgers):
    platform, world, sales = ledgers
    path = platform.settings.warehouse_path
    for day in DAYS[1:]:
        d = pd.Timestamp(day)
        open_ = sales[(sales.posted <= d) & (sales.cleared_on.isna() | (sales.cleared_on > d))]
        owed = open_.groupby("customer")["amount"].sum()
        lines = _accounts_on(world.customers, pd.Series([d] * len(owed)), pd.Series(owed.index))
        expected = pd.DataFrame({"open": owed.to_numpy(), "limit": lines["credit_limit_vnd"].to_numpy()}, owed.index)
        got = warehouse.query(
            path, "select * from gold.kpi_ar_credit_utilisation where as_of_date = ? order by customer_number", [day]
        ).set_index("customer_number")
        assert got.index.tolist() == sorted(owed.index)
        assert got["open_amount_vnd"].to_numpy() == pytest.approx(expected["open"].to_numpy(), abs=0.5)
        assert got["credit_limit_vnd"].tolist() == expected["limit"].tolist()
        assert got["is_breach"].tolist() == (expected["open"] > expected["limit"]).tolist()
        assert np.allclose(got["utilisation"], (expected["open"] / expected["limit"]).round(4))
    breaches = warehouse.query(path, "select count(*) as n from gold.kpi_ar_credit_utilisation where is_breach")
    assert breaches["n"].iloc[0] > 0  # the world's limits are tight enough that some accounts go over


def test_the_sales_ledger_is_scored_and_on_the_worklist_like_any_other(ledgers):
    platform, _, sales = ledgers
    path = platform.settings.warehouse_path
    d = pd.Timestamp(LAST)
    open_ = sales[(sales.posted <= d) & (sales.cleared_on.isna() | (sales.cleared_on > d))]
    scored = warehouse.query(
        path,
        """select i.invoice_id, p.predicted_payment_date, r.probability_over_30_late, i.business_code
           from silver.stg_ar_invoices as i
           left join gold.score_payment_pred as p on p.doc_id = i.doc_id and p.score_date = ?
           left join gold.score_ar_priority as r on r.doc_id = i.doc_id and r.score_date = ?
           where i.business_code = ? and i.is_open""",
        [LAST, LAST, LEDGER],
    )
    assert len(scored) == len(open_)
    assert scored["predicted_payment_date"].notna().all() and scored["probability_over_30_late"].notna().all()
    worklist = warehouse.query(
        path,
        """select w.call_order, i.business_code from gold.ar_collection_worklist as w
           join silver.stg_ar_invoices as i using (doc_id) where w.score_date = ?""",
        [LAST],
    )
    assert LEDGER in set(worklist["business_code"])  # the long-overdue sales invoices are listed (> 90 days)


def test_the_sales_invoices_carry_their_orders_channel(ledgers):
    """The one ledger extra the SME's sales know: each invoice's channel is its order's, by the
    channel map's code."""
    platform, _, sales = ledgers
    codes = pd.read_csv(DBT_SEEDS / "channel_map.csv").set_index("raw_channel")["channel_code"]
    expected = sales["channel"].str.strip().str.lower().map(codes).value_counts().sort_index()
    got = warehouse.query(
        platform.settings.warehouse_path,
        "select channel, count(*) as n from gold.fact_ar_invoices where business_code = ? group by all order by 1",
        [LEDGER],
    ).set_index("channel")["n"]
    assert got.to_dict() == expected.to_dict() and len(got) > 1


def test_invoice_sizes_follow_each_ledgers_own_amounts_known_before_the_month(ledgers):
    """A VND sales invoice is never "large" by dollar thresholds written for another business: from
    its ledger's second month, small / medium / large cut at the median and 90th percentile of the
    ledger's invoices delivered in the year before its posting month."""
    platform, _, sales = ledgers
    brackets = warehouse.query(
        platform.settings.warehouse_path,
        "select doc_id, invoice_id, amount, amount_reporting, invoice_date, invoice_size_bracket "
        "from gold.fact_ar_invoices where business_code = ?",
        [LEDGER],
    )
    assert len(brackets) == len(sales)
    april = brackets[pd.to_datetime(brackets["invoice_date"]) >= pd.Timestamp("2020-04-01")]
    before = sales[sales["posted"] < pd.Timestamp("2020-04-01")]["amount"]
    small, large = np.percentile(before, 50), np.percentile(before, 90)
    expected = np.where(april["amount"] < small, "small", np.where(april["amount"] < large, "medium", "large"))
    assert april["invoice_size_bracket"].tolist() == expected.tolist()
    assert set(expected) == {"small", "medium", "large"}
    # the ledger's first month has no history before it: the fixed brackets in USD
    january = brackets[pd.to_datetime(brackets["invoice_date"]) < pd.Timestamp("2020-02-01")]
    fixed = np.where(
        january["amount_reporting"] < 10_000,
        "small",
        np.where(january["amount_reporting"] < 100_000, "medium", "large"),
    )
    assert january["invoice_size_bracket"].tolist() == fixed.tolist()


def test_the_receivables_page_shows_the_ledgers_and_warns_of_breached_credit_lines(ledgers, tmp_path):
    platform, *_ = ledgers
    seen = browse_dashboard(platform.settings.data_dir, ("receivables",), tmp_path / "screenshots")
    breaches = warehouse.query(
        platform.settings.warehouse_path,
        "select count(*) as n from gold.kpi_ar_credit_utilisation where as_of_date = ? and is_breach",
        [LAST],
    )["n"].iloc[0]
    assert breaches > 0
    assert seen["receivables"]["notes"] == [f"{breaches} account(s) owe more than their credit line."]


def test_a_deployment_that_does_not_count_its_sales_has_no_sales_ledger(tmp_path):
    assert not Settings.from_env({"SMEPULSE_DATA_DIR": str(tmp_path)}).sales_as_receivables
    assert make_settings(tmp_path).dbt_env()["SMEPULSE_SALES_AS_RECEIVABLES"] == "false"
    with pytest.raises(ValueError, match="SMEPULSE_SALES_AS_RECEIVABLES must be true or false, not 'maybe'"):
        Settings.from_env({"SMEPULSE_DATA_DIR": str(tmp_path), "SMEPULSE_SALES_AS_RECEIVABLES": "maybe"})
