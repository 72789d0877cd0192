"""The invoice generator's world: customers whose paying habit drifts, recorded in its truth."""

from dataclasses import replace
from datetime import date, datetime

import numpy as np
import pytest

from smepulse_assets.kaggle_invoices.contract import HEADER
from smepulse_assets.tools.generator import GeneratorConfig, generate_invoice_snapshot
from smepulse_assets.tools.generator.payment_model import (
    TYPICAL_DISPUTE_DAYS,
    expected_clearing_date,
    expected_delay_days,
    last_weekday_of_month,
)

CONFIG = GeneratorConfig(start=date(2020, 1, 1), end=date(2020, 9, 30), customers=40, invoices_per_day=30, seed=5)


def _cleared(row: list[str]) -> date | None:
    value = row[HEADER.index("clear_date")]
    return datetime.strptime(value[:10], "%Y-%m-%d").date() if value else None


def test_distressed_customers_pay_later_while_in_trouble_and_nothing_else_moves():
    """A share of customers goes through one stretch of late paying: invoices falling due in it
    are paid about its extra days later, every other draw of the world is the seed's, and the
    truth's expected delay says so (the noise floor of the models stays computable)."""
    drifted = generate_invoice_snapshot(CONFIG)
    calm = generate_invoice_snapshot(replace(CONFIG, distressed_share=0.0))
    stretches = {c.cust_number: c.habit.distress for c in drifted.customers if c.habit.distress}
    assert 2 <= len(stretches) <= 15 and all(30 <= (s.end - s.start).days + 1 <= 90 for s in stretches.values())
    assert [c.cust_number for c in drifted.customers] == [c.cust_number for c in calm.customers]
    unchanged = [i for i, column in enumerate(HEADER) if column not in ("clear_date", "isOpen")]
    assert [[r[i] for i in unchanged] for r in drifted.rows] == [[r[i] for i in unchanged] for r in calm.rows]

    shifts, extras = [], []
    habits = {c.cust_number: c.habit for c in drifted.customers}
    for moved, still in zip(drifted.rows, calm.rows, strict=True):
        customer, amount, _, due = drifted.truth[int(float(moved[HEADER.index("doc_id")]))]
        stretch = stretches.get(customer)
        in_trouble = stretch is not None and stretch.start <= due <= stretch.end
        if not in_trouble:
            assert (_cleared(moved), moved[-1]) == (_cleared(still), still[-1])
            continue
        truth_extra = expected_delay_days(habits[customer], amount, due) - expected_delay_days(
            replace(habits[customer], distress=None), amount, due
        )
        assert truth_extra == pytest.approx(stretch.extra_days)
        if _cleared(moved) and _cleared(still):
            shifts.append((_cleared(moved) - _cleared(still)).days)
            extras.append(stretch.extra_days)
    assert len(shifts) > 50
    assert abs(np.mean(shifts) - np.mean(extras)) < 2.0  # rounding and weekends move a day or two


def test_disputed_invoices_are_flagged_paid_later_and_nothing_else_moves():
    """A world made with disputes: the files carry the optional `disputed` column, about the share
    asked for is flagged, a flagged invoice is paid about its dispute's days later than in the
    same world without disputes, and every other value of every row is the seed's."""
    plain = generate_invoice_snapshot(CONFIG)
    disputed = generate_invoice_snapshot(replace(CONFIG, disputed_share=0.05))
    assert plain.header == HEADER and disputed.header == (*HEADER, "disputed")
    flags = [row[-1] for row in disputed.rows]
    doc_ids = [int(float(row[HEADER.index("doc_id")])) for row in disputed.rows]
    assert set(flags) == {"0", "1"} and 0.03 < flags.count("1") / len(flags) < 0.07
    assert {d for d, flag in zip(doc_ids, flags, strict=True) if flag == "1"} == set(disputed.disputes)
    unchanged = [i for i, column in enumerate(HEADER) if column not in ("clear_date", "isOpen")]
    assert [[r[i] for i in unchanged] for r in disputed.rows] == [[r[i] for i in unchanged] for r in plain.rows]

    shifts, extras = [], []
    for doc_id, moved, still in zip(doc_ids, disputed.rows, plain.rows, strict=True):
        days = disputed.disputes.get(doc_id)
        if days is None:
            assert _cleared(moved) == _cleared(still)
        elif _cleared(moved) and _cleared(still):
            shifts.append((_cleared(moved) - _cleared(still)).days)
            extras.append(days)
    assert len(shifts) > 20 and all(20 <= e <= 45 for e in extras)
    assert abs(np.mean(shifts) - np.mean(extras)) < 2.0  # rounding and weekends move a day or two


def test_the_noise_floor_expects_a_disputes_typical_length_not_its_own_draw():
    """How long a dispute lasts is drawn per invoice, like the noise, so the floor of a disputed
    invoice expects the typical length: its errors centre on the actual clearings, and no other
    length errs less on average. Knowing each invoice's own draw would err far less than any
    predictor can (benchmarks/ml.py prints that stricter floor beside)."""
    world = generate_invoice_snapshot(replace(CONFIG, disputed_share=0.2))
    habits = {c.cust_number: c.habit for c in world.customers}
    cases = []
    for row in world.rows:
        doc_id = int(float(row[HEADER.index("doc_id")]))
        if doc_id in world.disputes and _cleared(row):
            customer, amount, posting, due = world.truth[doc_id]
            cases.append((habits[customer], amount, posting, due, world.disputes[doc_id], _cleared(row)))
    assert len(cases) > 200

    def errors(length: float | None) -> np.ndarray:  # None: each invoice's own draw
        return np.array(
            [
                (expected_clearing_date(h, amount, posting, due, own if length is None else length) - cleared).days
                for h, amount, posting, due, own, cleared in cases
            ]
        )

    typical = errors(TYPICAL_DISPUTE_DAYS)
    assert abs(np.median(typical)) <= 1
    assert all(np.abs(typical).mean() < np.abs(errors(TYPICAL_DISPUTE_DAYS + shift)).mean() for shift in (-4, 4))
    assert np.abs(errors(None)).mean() < np.abs(typical).mean() - 3


def test_month_end_payers_pay_on_the_last_weekday_of_the_month_and_nothing_else_moves():
    """A world with month-end payment runs: the customers picked clear every paid invoice on the
    last weekday of a month, the others exactly as in the world without, and the truth's expected
    clearing day is a month's last weekday too (the noise floor stays computable)."""
    plain = generate_invoice_snapshot(CONFIG)
    runs = generate_invoice_snapshot(replace(CONFIG, month_end_share=0.3))
    payers = {c.cust_number for c in runs.customers if c.habit.month_end_runs}
    assert 5 <= len(payers) <= 20 and plain.header == runs.header
    habits = {c.cust_number: c.habit for c in runs.customers}
    month_end = 0
    for moved, still in zip(runs.rows, plain.rows, strict=True):
        customer, amount, posting, due = runs.truth[int(float(moved[HEADER.index("doc_id")]))]
        cleared = _cleared(moved)
        if customer not in payers:
            assert cleared == _cleared(still)
            continue
        expected = expected_clearing_date(habits[customer], amount, posting, due, 0.0)
        assert expected == last_weekday_of_month(expected)
        if cleared:
            assert cleared == last_weekday_of_month(cleared) and cleared.weekday() < 5
            month_end += 1
    assert month_end > 100


@pytest.mark.parametrize(
    ("day", "last"),
    [
        (date(2020, 1, 3), date(2020, 1, 31)),
        (date(2020, 2, 29), date(2020, 2, 28)),
        (date(2020, 5, 31), date(2020, 5, 29)),
    ],
)
def test_the_last_weekday_of_a_month(day, last):
    assert last_weekday_of_month(day) == last
