"""The generator's true payment model: how a synthetic customer pays an invoice.

Kept separate and documented so that models can be measured against it: the
expected delay is the best any predictor can do, and ``noise_sd`` is the
irreducible error around it.

A customer's delay (days between due date and clearing) for one invoice is

    delay = habit.mean_delay_days + SIZE_EFFECT_PER_DECADE * log10(amount_usd / 10_000)
            + distress(due date) + dispute + noise,
    noise ~ Normal(0, habit.noise_sd)

rounded to whole days, never before the posting day, and a clearing that would
fall on a Saturday or Sunday is booked on the following Monday. A customer that pays in a
month-end payment run (a share of customers, where the world is made with them) pays instead
on the last weekday of the month that day falls in: a period-end effect a customer's median
delay blurs, which the due date's place in the month explains. ``distress`` is zero
except while the customer goes through a stretch of financial trouble: a share of
customers has one, when every invoice falling due in it is paid ``extra_days`` later,
after which the customer recovers its habit. Real ledgers drift like that; a customer's
long-run median delay does not follow, what is known about its recent and open
invoices does. ``dispute`` is zero except for an invoice its customer disputes on receipt
(a share of invoices, where the world is made with disputes): it waits for the dispute to be
settled, ``DISPUTE_DELAY_DAYS`` more, and the ledger's ``disputed`` column says so. How long
a dispute takes is drawn for each invoice, like the noise: a predictor can know that an invoice
is disputed, not how long its dispute will last, so the noise floor expects the middle of that
range (``TYPICAL_DISPUTE_DAYS``), not the invoice's own draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

# Large invoices get paid a little later: +1.5 days per tenfold amount.
SIZE_EFFECT_PER_DECADE = 1.5
# How much later a disputed invoice is paid than its customer's habit: uniform between these
DISPUTE_DELAY_DAYS = (20.0, 45.0)
# The median of that draw: with the symmetric noise, the expectation that errs least on average
TYPICAL_DISPUTE_DAYS = sum(DISPUTE_DELAY_DAYS) / 2


@dataclass(frozen=True)
class Distress:
    """A stretch of financial trouble: invoices falling due from ``start`` to ``end`` are paid
    ``extra_days`` later than the customer's habit."""

    start: date
    end: date
    extra_days: float


@dataclass(frozen=True)
class PaymentHabit:
    """A customer's paying behaviour."""

    mean_delay_days: float  # average days after the due date (negative: pays early)
    noise_sd: float  # spread of one invoice's delay around the expectation
    distress: Distress | None = None
    month_end_runs: bool = False  # pays on the last weekday of the month its payment falls in

    @property
    def kind(self) -> str:
        if self.mean_delay_days < 0:
            return "early"
        return "late" if self.mean_delay_days <= 12 else "very_late"


def draw_habit(rng: np.random.Generator) -> PaymentHabit:
    """Some customers pay early, most a few days late, a tail very late."""
    kind = rng.choice(["early", "late", "very_late"], p=[0.2, 0.6, 0.2])
    mean = {
        "early": lambda: rng.uniform(-8, -1),
        "late": lambda: rng.uniform(0, 10),
        "very_late": lambda: rng.uniform(15, 60),
    }[kind]()
    return PaymentHabit(mean_delay_days=round(float(mean), 2), noise_sd=round(float(rng.uniform(1, 6)), 2))


def draw_distress(rng: np.random.Generator, first: date, last: date) -> Distress:
    """One stretch of trouble starting somewhere from ``first`` to ``last``: 30 to 90 days long,
    paying 10 to 30 days later than usual."""
    start = first + timedelta(days=int(rng.integers(0, max((last - first).days, 0) + 1)))
    length = int(rng.integers(30, 91))
    return Distress(start, start + timedelta(days=length - 1), round(float(rng.uniform(10, 30)), 1))


def draw_dispute_days(rng: np.random.Generator) -> float:
    """How much later a disputed invoice is paid."""
    return round(float(rng.uniform(*DISPUTE_DELAY_DAYS)), 1)


def expected_delay_days(habit: PaymentHabit, amount_usd: float, due: date, dispute_days: float = 0.0) -> float:
    """The true expected delay (before rounding and weekend shifts); ``dispute_days`` for a
    disputed invoice (``InvoiceSnapshot.disputes``)."""
    extra = habit.distress.extra_days if habit.distress and habit.distress.start <= due <= habit.distress.end else 0.0
    size = SIZE_EFFECT_PER_DECADE * math.log10(max(amount_usd, 1.0) / 10_000)
    return habit.mean_delay_days + size + extra + dispute_days


def clearing_date(
    habit: PaymentHabit,
    amount_usd: float,
    posting: date,
    due: date,
    rng: np.random.Generator,
    dispute_days: float = 0.0,
) -> date:
    """Draw the day an invoice is cleared."""
    delay = expected_delay_days(habit, amount_usd, due, dispute_days) + rng.normal(0, habit.noise_sd)
    return booked_on(habit, due + timedelta(days=round(delay)), posting)


def expected_clearing_date(
    habit: PaymentHabit, amount_usd: float, posting: date, due: date, dispute_days: float
) -> date:
    """The day an invoice is cleared without the noise: what a perfect predictor would say, given
    ``dispute_days`` (``TYPICAL_DISPUTE_DAYS`` for a disputed invoice: its own draw is noise)."""
    return booked_on(
        habit, due + timedelta(days=round(expected_delay_days(habit, amount_usd, due, dispute_days))), posting
    )


def booked_on(habit: PaymentHabit, paid: date, posting: date) -> date:
    """The day a payment made on ``paid`` is booked: never before posting, a weekend's on the
    Monday after, a month-end payer's on the last weekday of the month."""
    day = max(paid, posting)
    if habit.month_end_runs:
        return last_weekday_of_month(day)
    return roll_off_weekend(day)


def roll_off_weekend(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


def last_weekday_of_month(day: date) -> date:
    last = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return last - timedelta(days=max(last.weekday() - 4, 0))
