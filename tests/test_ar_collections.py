"""The AR collections forecast on small hand-made ledgers whose answer can be worked out by hand:
a steady ledger, a day's forecast that never reads after the day, and the accuracy check.

Real DuckDB with the columns the forecast reads from silver and the payment-date scores. The
end-to-end run (generated world, real Dagster runs) is in test_ml.py.
"""

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from ml_assets import outputs
from ml_assets.ar_collections import (
    COLUMNS,
    DAY_COLUMN,
    MIN_JUDGED,
    TABLE,
    WEEKS,
    ReferenceDays,
    accuracy_check,
    forecast_as_of,
)
from smepulse_lib.windows import DayWindow

FIRST, LAST = date(2024, 1, 1), date(2024, 9, 30)
PER_DAY, AMOUNT = 3, 100.0
TABLES = """
    create schema silver; create schema ml;
    create table silver.stg_ar_invoice_history (doc_id bigint, payment_date date, is_open boolean,
        is_retracted boolean, valid_from date, amount_reporting double);
    create table silver.ftr_invoice_at_posting (doc_id bigint, known_on date, amount_reporting double);
    create table ml.payment_date_scores (score_date date, doc_id bigint, open_amount double,
        predicted_payment_date date);
"""


def steady_ledger(pay_after: int = 10, predicted_after: int = 10, cleared_late_from: date | None = None):
    """PER_DAY invoices of AMOUNT posted every day FIRST..LAST, each paid ``pay_after`` days after
    posting, predicted at ``predicted_after``, and scored every day it is open. From
    ``cleared_late_from`` on, a clearing is delivered 20 days after the payment (a lagging feed)."""
    con = duckdb.connect()
    con.execute(TABLES)
    con.execute(
        """
        create temp table invoices as
        select row_number() over () as doc_id, d.day::date as posted, d.day::date + ?::integer as paid,
            d.day::date + ?::integer as predicted
        from range(?::date, ?::date + 1, interval 1 day) as d(day), range(?) as n(i)
        """,
        [pay_after, predicted_after, FIRST, LAST, PER_DAY],
    )
    late = cleared_late_from or date(9999, 1, 1)
    con.execute(f"insert into silver.ftr_invoice_at_posting select doc_id, posted, {AMOUNT} from invoices")
    con.execute(
        f"insert into silver.stg_ar_invoice_history select doc_id, null, true, false, posted, {AMOUNT} from invoices"
    )
    con.execute(
        f"""insert into silver.stg_ar_invoice_history
        select doc_id, paid, false, false, case when paid >= ? then paid + 20 else paid end, {AMOUNT}
        from invoices where paid <= ?""",
        [late, LAST],
    )
    con.execute(
        f"""insert into ml.payment_date_scores
        select d.day::date, i.doc_id, {AMOUNT}, i.predicted
        from invoices as i, range(?::date, ?::date + 1, interval 1 day) as d(day)
        where i.posted <= d.day and i.paid > d.day""",
        [FIRST, LAST],
    )
    return con


def forecasts(con, first: date, last: date) -> dict[date, object]:
    window = DayWindow(first, last)
    references = ReferenceDays.load(con, window)
    return {day: forecast_as_of(references, day) for day in window.days}


def test_a_steady_ledger_collects_a_week_of_invoices_every_week():
    """Every week 21 invoices are paid, some open today and the rest posted later: the forecast
    says 2,100 for each of the 13 weeks, and splits weeks 1 and 2 between open and new invoices as
    their posting days do."""
    con = steady_ledger()
    day = date(2024, 6, 30)
    weeks = forecasts(con, day, day)[day]
    assert weeks["week"].tolist() == list(range(1, WEEKS + 1))
    assert weeks["predicted_collections"].tolist() == pytest.approx([7 * PER_DAY * AMOUNT] * WEEKS)
    # week 1 pays invoices posted day-9..day-3 (all open); week 2 those of day-2..day+4 (3 days open)
    assert weeks["from_open_invoices"].tolist()[:3] == pytest.approx([2100.0, 900.0, 0.0])
    assert weeks["open_amount"].iloc[0] == pytest.approx(10 * PER_DAY * AMOUNT)
    assert (weeks["reference_days"] == 4).all()


def test_a_forecast_that_misplaces_payments_is_corrected_by_what_the_reference_days_saw():
    """Predictions 5 days early (every invoice 'due' in the model's eyes before it pays): summing
    predicted dates would put week 2's cash in week 1; the shares learned on the same weekdays put
    it where it was paid."""
    con = steady_ledger(pay_after=10, predicted_after=5)
    day = date(2024, 6, 30)
    weeks = forecasts(con, day, day)[day]
    assert weeks["predicted_collections"].tolist() == pytest.approx([7 * PER_DAY * AMOUNT] * WEEKS)


def test_a_day_reads_nothing_after_it_and_a_range_forecasts_its_days_as_they_would_alone():
    """The forecast as of a day, in a range run over the whole ledger, equals the one made from a
    ledger cut at that day (the payments, clearings, postings and scores after it removed); a
    lagging feed's clearings count only once delivered."""
    con = steady_ledger(pay_after=12, predicted_after=9, cleared_late_from=date(2024, 5, 1))
    in_range = forecasts(con, date(2024, 4, 1), date(2024, 8, 31))
    day = date(2024, 6, 15)
    con.execute(
        f"""
        delete from silver.stg_ar_invoice_history where valid_from > '{day}';
        delete from silver.ftr_invoice_at_posting where known_on > '{day}';
        delete from ml.payment_date_scores where score_date > '{day}';
        """
    )
    alone = forecasts(con, day, day)[day]
    assert len(alone) == WEEKS
    assert in_range[day]["predicted_collections"].tolist() == pytest.approx(alone["predicted_collections"].tolist())
    assert in_range[day]["from_open_invoices"].tolist() == pytest.approx(alone["from_open_invoices"].tolist())


def test_an_open_amount_is_collected_at_most_once_over_the_13_weeks():
    """Customers that paid in week 2 until five weeks ago and in week 1 since: week 1's reference
    days say all of it in week 1, week 2's (one of them older) a quarter in week 2. The forecast
    collects the open amount once: all in week 1, nothing after."""
    day = date(2024, 6, 30)
    paid = [(day - timedelta(weeks=k), 1, 1 if k <= 4 else 2, AMOUNT) for k in range(1, 17)]
    open_rows = pd.DataFrame([*paid, (day, 1, None, AMOUNT)], columns=["ref_day", "bucket", "week", "amount"])
    references = ReferenceDays(open_rows, pd.DataFrame(columns=["ref_day", "week", "amount"]))
    assert references.week(day, 2)[0][1] == pytest.approx(0.25)  # uncapped, week 2 alone
    weeks = forecast_as_of(references, day)
    assert weeks["from_open_invoices"].tolist() == pytest.approx([AMOUNT] + [0.0] * (WEEKS - 1))


def test_the_first_weeks_of_a_history_forecast_only_the_weeks_a_reference_day_covers():
    con = steady_ledger()
    early = forecasts(con, FIRST + timedelta(days=20), FIRST + timedelta(days=20))
    weeks = next(iter(early.values()))
    assert weeks["week"].tolist() == [1, 2]  # reference days 7 and 14 days back exist, 21 is FIRST - 1
    assert forecasts(con, FIRST, FIRST)[FIRST].empty


def _write(con, first: date, last: date) -> None:
    frames = list(forecasts(con, first, last).values())
    outputs.write_days(con, TABLE, COLUMNS, DAY_COLUMN, (first, last), frames)


def test_the_accuracy_check_judges_weeks_that_have_ended_against_seasonal_naive():
    con = steady_ledger()
    day = date(2024, 8, 31)
    _write(con, date(2024, 5, 1), day)
    check = accuracy_check(con, day)
    assert check.passed and check.metadata["forecasts_judged"].value == 91 - 56
    assert check.metadata["weekly_mape"].value == pytest.approx(0.0)
    con.execute(f"update ml.{TABLE} set predicted_collections = 2 * predicted_collections")
    worse = accuracy_check(con, day)
    assert not worse.passed and worse.severity.value == "WARN"
    assert (
        worse.metadata["weekly_mape"].value == pytest.approx(1.0) and "worse than seasonal naive" in worse.description
    )


def test_the_accuracy_check_waits_for_enough_forecasts_with_ended_weeks():
    con = steady_ledger()
    day = date(2024, 5, 1) + timedelta(days=56 + MIN_JUDGED - 2)
    _write(con, date(2024, 5, 1), day)
    check = accuracy_check(con, day)
    assert check.passed and check.description.startswith("not judged yet")
