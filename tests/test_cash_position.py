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

from ml_assets.cash_position import (
    COLUMNS,
    MIN_ERRORS,
    WEEKS,
    CashPolicy,
    PastErrors,
    calibrated,
    position_as_of,
    positions_for,
    spread_by_week,
    write_positions,
)
from smepulse_lib.windows import DayWindow

DAY = date(2024, 6, 30)  # the as-of day; the statement starts 90 days before it
FIRST = DAY - timedelta(days=89)
TABLES = f"""
    create schema silver; create schema ml;
    create table silver.stg_bank_transactions (txn_date date, direction varchar, amount_vnd double,
        signed_amount_vnd double, payment_ref varchar, bill_ref varchar, counterparty varchar);
    create table silver.stg_supplier_bills (bill_date date, due_date date, amount_vnd double, paid_date date);
    create table silver.stg_payments (status varchar, settled_date date, amount_vnd double);
    create table ml.cashflow_forecast (stream varchar, forecast_date timestamp, horizon_days bigint,
        predicted_cash_in double, model_version varchar);
    create table ml.cash_position ({COLUMNS});
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


def _steady_customers(con, per_day: float = 1e6, bank_share: float = 1.0, forecast_days=(DAY,)) -> None:
    """A customer payment every day (settled; ``bank_share`` of it on the statement) and a flat forecast
    made on each of ``forecast_days``."""
    for n in range(90):
        day = FIRST + timedelta(days=n)
        con.execute("insert into silver.stg_payments values ('paid', ?, ?)", [day, per_day])
        _line(con, day, "credit", per_day * bank_share, "customer", payment_ref=f"TT{n:07d}")
    for day in forecast_days:
        con.execute(
            "insert into ml.cashflow_forecast select 'sme_payments', ?, h, ?, '3' from range(1, 183) as t(h)",
            [day, per_day],
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
    _line(ledger, DAY - timedelta(days=10), "credit", 30e6, "lumpy")  # one lumpy week: noise, not a new level
    weeks = _position(ledger).weeks
    width = (weeks["balance_high_80"] - weeks["balance_low_80"]).to_numpy()
    assert width[0] > 0
    np.testing.assert_allclose(width, width[0] * np.sqrt(np.arange(1, WEEKS + 1)))


def test_a_wandering_level_of_credits_widens_the_band_faster_than_noise():
    """Credits whose level moves and stays (a random walk) pile up error week after week; credits
    that jump and come back (noise) only add their own. The same size of weekly change."""
    steps = np.array([1, -1, 1, 1, -1, 1, 1, 1, -1, -1, 1, -1]) * 5e6
    wandering = spread_by_week(100e6 + np.concatenate([[0], np.cumsum(steps)]))
    jumping = spread_by_week(100e6 + np.array([0, 5e6] * 6 + [0]))
    weeks = np.arange(1, WEEKS + 1)
    np.testing.assert_allclose(jumping, jumping[0] * np.sqrt(weeks))
    assert wandering[0] == pytest.approx(jumping[0], rel=0.5)
    assert wandering[-1] > 5 * jumping[-1]
    assert wandering[-1] / wandering[0] > 2 * np.sqrt(WEEKS)  # far faster than independent weeks


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


def _past_position(con, as_of: date, week: int, predicted_change: float) -> None:
    """An earlier day's prediction of week ``week``: its balance change from the as-of day."""
    con.execute(
        "insert into ml.cash_position (as_of_date, week, week_start, week_end, opening_balance, balance) "
        "values (?, ?, ?, ?, 0, ?)",
        [as_of, week, as_of + timedelta(days=7 * week - 6), as_of + timedelta(days=7 * week), predicted_change],
    )


def test_the_band_is_the_past_positions_errors_once_there_are_enough(ledger):
    """40 earlier positions missed week 1 by 0, -0.1, ..., -3.9 million (the statement rose 7 million
    a week each time); 10 predicted week 2. Week 1's band is their errors' 10th-90th percentiles;
    week 2's, with too few, stays the spread's (nil: the credits never vary) widened to week 1's. A
    position whose week had not ended is not evidence."""
    _steady_customers(ledger)  # 1 million a day reaches the bank
    errors = -np.arange(40) * 1e5
    for k, error in enumerate(errors):
        _past_position(ledger, DAY - timedelta(days=50 - k), 1, 7e6 - error)
    for k in range(10):
        _past_position(ledger, DAY - timedelta(days=40 - k), 2, 14e6)
    _past_position(ledger, DAY - timedelta(days=3), 1, 1e12)  # its week 1 ends after DAY
    window = DayWindow(DAY, DAY)
    found = PastErrors.load(ledger, window).by_week(DAY)
    assert sorted(found) == [1, 2] and len(found[2]) == 10 < MIN_ERRORS
    np.testing.assert_allclose(np.sort(found[1]), np.sort(errors))
    assert (_position(ledger).weeks["balance_high_80"] == _position(ledger).weeks["balance"]).all()  # steady: no spread
    weeks = calibrated(_position(ledger, floor=0.0), found).weeks
    low, high = np.quantile(errors, [0.1, 0.9])
    assert weeks.loc[0, "band_errors"] == 40
    assert weeks.loc[0, "balance_low_80"] == pytest.approx(weeks.loc[0, "balance"] + low)
    assert weeks.loc[0, "balance_high_80"] == pytest.approx(weeks.loc[0, "balance"] + max(high, 0.0))
    assert weeks.loc[1:, "band_errors"].eq(0).all()
    # the later weeks' spread band is nil, but none is narrower than week 1's
    np.testing.assert_allclose(weeks.loc[1:, "balance_low_80"], weeks.loc[1:, "balance"] + low)
    # the floor is judged on the calibrated low end: just under week 1's expected balance
    floor = weeks.loc[0, "balance"] - 1e6
    weeks = calibrated(_position(ledger, floor=floor), found).weeks
    assert weeks.loc[0, "below_floor"] and weeks.loc[0, "balance_low_80"] < floor < weeks.loc[0, "balance"]


def test_a_range_calibrates_its_bands_as_its_days_one_by_one_would(ledger):
    """Days whose bands learn from positions of the same range: computed as one range, and day by
    day with each day written before the next, the positions are the same."""
    days = [DAY - timedelta(days=n) for n in range(40, -1, -1)]
    _steady_customers(ledger, forecast_days=days)
    for n in range(0, 90, 3):  # lumpy weeks, so errors differ from day to day
        _line(ledger, FIRST + timedelta(days=n), "credit", (n % 7) * 1e6, "deposit")
    policy = CashPolicy()
    whole = positions_for(ledger, DayWindow(days[0], DAY), policy)
    one_by_one = []
    for day in days:
        one_by_one += positions_for(ledger, DayWindow(day, day), policy)
        write_positions(ledger, DayWindow(day, day), one_by_one[-1:])
    columns = ["balance", "balance_low_80", "balance_high_80", "band_errors"]
    for a, b in zip(whole, one_by_one, strict=True):
        np.testing.assert_allclose(a.weeks[columns].to_numpy(float), b.weeks[columns].to_numpy(float))
    assert whole[-1].weeks.loc[0, "band_errors"] >= MIN_ERRORS  # the last days' week 1 was calibrated
