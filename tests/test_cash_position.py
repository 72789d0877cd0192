"""The cash position's arithmetic on small hand-made ledgers: what counts as a recurring debit,
when a bill is expected, how the band is made, and why a day has no position.

Real DuckDB with the silver tables' and the forecast's columns; each case is a few rows whose
answer can be worked out by hand. The end-to-end run (generated world, real Dagster runs, the
floor alert) is in test_ml.py.
"""

from datetime import date, timedelta

import duckdb
import numpy as np
import pytest

from ml_assets.cash_position import WEEKS, CashPolicy, position_as_of

DAY = date(2024, 6, 30)  # the as-of day; the statement starts 90 days before it
FIRST = DAY - timedelta(days=89)
TABLES = """
    create schema silver; create schema ml;
    create table silver.stg_bank_transactions (txn_date date, direction varchar, amount_vnd double,
        signed_amount_vnd double, payment_ref varchar, bill_ref varchar, counterparty varchar);
    create table silver.stg_supplier_bills (bill_date date, due_date date, amount_vnd double, paid_date date);
    create table silver.stg_payments (status varchar, settled_date date, amount_vnd double);
    create table ml.cashflow_forecast (stream varchar, forecast_date timestamp, horizon_days bigint,
        predicted_cash_in double, model_version varchar);
"""


@pytest.fixture
def ledger():
    con = duckdb.connect()
    con.execute(TABLES)
    yield con
    con.close()


def _line(con, day: date, direction: str, amount: float, counterparty: str = "", payment_ref=None, bill_ref=None):
    signed = amount if direction == "credit" else -amount
    con.execute(
        "insert into silver.stg_bank_transactions values (?, ?, ?, ?, ?, ?, ?)",
        [day, direction, amount, signed, payment_ref, bill_ref, counterparty or None],
    )


def _steady_customers(con, per_day: float = 1e6, bank_share: float = 1.0) -> None:
    """A customer payment every day (settled; ``bank_share`` of it on the statement) and a flat forecast."""
    for n in range(90):
        day = FIRST + timedelta(days=n)
        con.execute("insert into silver.stg_payments values ('paid', ?, ?)", [day, per_day])
        _line(con, day, "credit", per_day * bank_share, "customer", payment_ref=f"TT{n:07d}")
    con.execute(
        "insert into ml.cashflow_forecast select 'sme_payments', ?, h, ?, '3' from range(1, 183) as t(h)",
        [DAY, per_day],
    )


def _position(con, opening: float = 0.0, floor: float = 0.0):
    return position_as_of(con, DAY, CashPolicy(opening_balance_vnd=opening, floor_vnd=floor))


def test_a_monthly_debit_recurs_on_its_day_with_its_latest_amount_and_a_one_off_does_not(ledger):
    _steady_customers(ledger)
    for month, amount in ((4, 9e6), (5, 9e6), (6, 10e6)):
        _line(ledger, date(2024, month, 25), "debit", amount, "payroll")
    _line(ledger, date(2024, 6, 3), "debit", 50e6, "one-off repair")
    _line(ledger, date(2024, 5, 10), "debit", 4e6, "twice in May")
    _line(ledger, date(2024, 5, 20), "debit", 4e6, "twice in May")
    _line(ledger, date(2024, 6, 12), "debit", 7e6, "supplier", bill_ref="HD0000001")  # a bill's payment
    weeks = _position(ledger).weeks
    paid = weeks.loc[weeks["recurring_debits"] > 0, ["week", "recurring_debits"]]
    # July 25 .. December 25, 2024: 25, 56, 87, 117, 148 and 178 days after June 30
    assert paid["week"].tolist() == [4, 8, 13, 17, 22, 26]
    assert (paid["recurring_debits"] == 10e6).all()


def test_open_bills_are_expected_on_their_due_day_moved_by_the_payables_habit(ledger):
    _steady_customers(ledger)
    # the habit: paid 3, 5 and 7 days after due (median 5)
    for n, late in enumerate((3, 5, 7)):
        due = date(2024, 5, 1) + timedelta(days=n)
        ledger.execute(
            "insert into silver.stg_supplier_bills values (?, ?, ?, ?)",
            [due - timedelta(days=30), due, 1e6, due + timedelta(days=late)],
        )
    ledger.execute(
        "insert into silver.stg_supplier_bills values (?, ?, 8e6, null)", [date(2024, 6, 20), date(2024, 7, 10)]
    )
    ledger.execute(
        "insert into silver.stg_supplier_bills values (?, ?, 2e6, null)", [date(2024, 5, 1), date(2024, 6, 1)]
    )
    weeks = _position(ledger).weeks
    # due July 10 + 5 days = July 15: week 3; the bill already late is expected in week 1
    assert weeks.loc[weeks["supplier_bills_open"] > 0, "week"].tolist() == [1, 3]
    assert weeks.loc[2, "supplier_bills_open"] == 8e6 and weeks.loc[0, "supplier_bills_open"] == 2e6
    # bills still to come: none received in the last 8 weeks but the open one (8e6 on June 20), each paid
    # 20 (its terms) + 5 days after arriving; over 26 weeks the rate times the share paid within the horizon
    assert weeks["supplier_bills_not_received"].iloc[0] == 0
    assert weeks["supplier_bills_not_received"].iloc[-1] == pytest.approx(8e6 / 8)


def test_customer_cash_counts_what_reaches_the_bank_and_the_balance_adds_up(ledger):
    _steady_customers(ledger, per_day=1e6, bank_share=0.75)  # a quarter paid in cash at the till
    for k in range(13):  # a deposit each week: other credits, 7e6 a week
        _line(ledger, DAY - timedelta(days=7 * k), "credit", 7e6, "deposit")
    weeks = _position(ledger, opening=100e6, floor=150e6).weeks
    assert weeks["customer_cash_in"].iloc[0] == pytest.approx(7e6 * 0.75)
    assert weeks["other_cash_in"].iloc[0] == pytest.approx(7e6)
    opening = 100e6 + 90 * 1e6 * 0.75 + 13 * 7e6
    assert weeks["opening_balance"].iloc[0] == pytest.approx(opening)
    np.testing.assert_allclose(weeks["balance"], opening + np.arange(1, WEEKS + 1) * (7e6 * 0.75 + 7e6))
    # credits identical every week: no spread, so the band is the expected path itself
    np.testing.assert_allclose(weeks["balance_low_80"], weeks["balance"])
    assert weeks["floor"].eq(150e6).all() and not weeks["below_floor"].any()
    assert weeks["cash_in_model_version"].eq("3").all()


def test_the_band_widens_with_the_spread_of_weekly_credits(ledger):
    _steady_customers(ledger)
    _line(ledger, DAY - timedelta(days=10), "credit", 30e6, "lumpy")  # one lumpy week
    weeks = _position(ledger).weeks
    width = (weeks["balance_high_80"] - weeks["balance_low_80"]).to_numpy()
    assert width[0] > 0
    np.testing.assert_allclose(width, width[0] * np.sqrt(np.arange(1, WEEKS + 1)))


@pytest.mark.parametrize(
    ("statement_days", "with_forecast", "reason"),
    [
        (0, True, "0 days of bank statement"),
        (20, True, "20 days of bank statement through 2024-06-30; need 28"),
        (90, False, "no customer-payment forecast was made on 2024-06-30"),
    ],
)
def test_a_day_without_a_position_says_why(ledger, statement_days, with_forecast, reason):
    for n in range(statement_days):
        _line(ledger, DAY - timedelta(days=n), "credit", 1e6, "customer", payment_ref=f"TT{n:07d}")
    if with_forecast:
        ledger.execute("insert into ml.cashflow_forecast values ('sme_payments', ?, 1, 1e6, '1')", [DAY])
    position = _position(ledger)
    assert position.weeks.empty and reason in position.reason
