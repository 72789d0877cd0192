"""Synthetic AR invoices in the exact format of the Kaggle invoices file.

``generate_invoice_snapshot`` returns what the real download looks like on the
last day of a range: one row per invoice (two for the few exact duplicates),
cleared ones with ``clear_date``, the rest open. ``replay.split_into_drops``
then turns it into daily deliveries, exactly as it does for the real file.
Everything is deterministic from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np

from smepulse_assets.kaggle_invoices.contract import HEADER
from smepulse_assets.tools.generator.payment_model import (
    PaymentHabit,
    clearing_date,
    draw_dispute_days,
    draw_distress,
    draw_habit,
)

# Business codes of the real file, with roughly its mix; CA02 bills in CAD.
BUSINESS_CODES = {"U001": 0.75, "CA02": 0.08, "U013": 0.08, "U002": 0.05, "U005": 0.02, "U007": 0.02}
# Payment-term codes and the net days they grant from the baseline date.
PAYMENT_TERMS = {"NAA8": 30, "NAH4": 15, "NAC6": 45, "NAM4": 60, "NAD1": 30, "NAU5": 20, "NA32": 32}
CA_TERMS = {"CA10": 10, "CA30": 30}
CAD_PER_USD = 1.33
NAME_STEMS = [
    "WAL-MAR",
    "BEN E",
    "MDV/",
    "SYSCO",
    "KROGER",
    "PUBLIX",
    "GIANT",
    "HEB",
    "SAFEW",
    "TARG",
    "C&S WH",
    "UNITED",
    "AHOLD",
    "DOLLAR",
    "WINCO",
    "COSTCO",
    "SMART",
    "ALBERT",
    "LOBLAW",
    "SOBEYS",
]
NAME_SUFFIXES = ["corp", "llc", "co", "us", "in", "associates", "foundation", "trust", "systems"]


@dataclass(frozen=True)
class Customer:
    cust_number: str
    name: str
    business_code: str
    payment_terms: str
    habit: PaymentHabit
    amount_log_mean: float  # log of the customer's typical invoice amount (USD)
    weight: float  # share of invoice volume


@dataclass
class GeneratorConfig:
    start: date
    end: date
    customers: int = 60
    invoices_per_day: float = 100.0
    seed: int = 7
    duplicate_share: float = 0.003  # exact duplicate rows, as in the real file
    lost_zero_share: float = 0.02  # numeric customer numbers written without the leading zero
    missing_invoice_id_share: float = 0.002
    distressed_share: float = 0.15  # customers going through one stretch of late paying (payment_model.py)
    # Invoices disputed on receipt and paid later (payment_model.py). Above 0, the files carry the
    # receivables contract's optional `disputed` column; at 0 they are the Kaggle file's shape.
    disputed_share: float = 0.0
    month_end_share: float = 0.0  # customers paying in month-end payment runs (payment_model.py)


@dataclass
class InvoiceSnapshot:
    rows: list[list[str]]  # Kaggle columns, as strings, in HEADER order
    customers: list[Customer] = field(default_factory=list)
    # doc_id -> (customer number, amount in USD, posting, due) for measuring models later
    truth: dict[int, tuple[str, float, date, date]] = field(default_factory=dict)
    disputes: dict[int, float] = field(default_factory=dict)  # doc_id -> the days a dispute adds
    header: tuple[str, ...] = HEADER  # the columns of ``rows``


def draw_customers(config: GeneratorConfig, rng: np.random.Generator) -> list[Customer]:
    customers = []
    used: set[str] = set()
    for _ in range(config.customers):
        code = str(rng.choice(list(BUSINESS_CODES), p=list(BUSINESS_CODES.values())))
        number = _customer_number(code, rng, used)
        terms = CA_TERMS if code == "CA02" else PAYMENT_TERMS
        customers.append(
            Customer(
                cust_number=number,
                name=_customer_name(rng),
                business_code=code,
                payment_terms=str(rng.choice(list(terms))),
                habit=draw_habit(rng),
                amount_log_mean=float(rng.normal(np.log(15_000), 1.0)),
                weight=float(rng.pareto(1.5) + 0.2),
            )
        )
    return customers


def with_distress(customers: list[Customer], config: GeneratorConfig) -> list[Customer]:
    """A ``distressed_share`` of the customers, each with one stretch of trouble in the range. Drawn
    from a stream of its own, so every other draw of the world (its invoices, amounts, noise)
    stays what the seed made it."""
    rng = np.random.default_rng([config.seed, 1])
    picked = rng.random(len(customers)) < config.distressed_share
    return [
        replace(c, habit=replace(c.habit, distress=draw_distress(rng, config.start, config.end))) if pick else c
        for c, pick in zip(customers, picked, strict=True)
    ]


def with_month_end_runs(customers: list[Customer], config: GeneratorConfig) -> list[Customer]:
    """A ``month_end_share`` of the customers pay in month-end runs; a stream of its own, as above."""
    rng = np.random.default_rng([config.seed, 3])
    picked = rng.random(len(customers)) < config.month_end_share
    return [
        replace(c, habit=replace(c.habit, month_end_runs=True)) if pick else c
        for c, pick in zip(customers, picked, strict=True)
    ]


def _customer_number(code: str, rng: np.random.Generator, used: set[str]) -> str:
    while True:
        if rng.random() < 0.1:  # letter-style accounts such as CCU001
            number = "CC" + "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"), 4))
        else:
            prefix = "0140" if code == "CA02" else "0200"
            number = prefix + f"{int(rng.integers(0, 1_000_000)):06d}"
        if number not in used:
            used.add(number)
            return number


def _customer_name(rng: np.random.Generator) -> str:
    name = f"{rng.choice(NAME_STEMS)} {rng.choice(NAME_SUFFIXES)}"
    roll = rng.random()
    if roll < 0.15:
        name = name.replace(" ", "  ", 1)  # doubled space, as in the real file
    elif roll < 0.35:
        name += " "  # trailing space
    return name


def generate_invoice_snapshot(config: GeneratorConfig) -> InvoiceSnapshot:
    rng = np.random.default_rng(config.seed)
    customers = with_month_end_runs(with_distress(draw_customers(config, rng), config), config)
    weights = np.array([c.weight for c in customers])
    weights /= weights.sum()
    snapshot = InvoiceSnapshot(
        rows=[], customers=customers, header=HEADER + (("disputed",) if config.disputed_share else ())
    )
    # disputes from a stream of their own, so a world with them is the seed's world otherwise
    disputes = np.random.default_rng([config.seed, 2])
    next_doc_id = 1_929_000_000 + int(rng.integers(0, 500_000))
    day = config.start
    while day <= config.end:
        volume = config.invoices_per_day * (0.35 if day.weekday() >= 5 else 1.0)
        for index in rng.choice(len(customers), size=int(rng.poisson(volume)), p=weights):
            customer = customers[int(index)]
            dispute = draw_dispute_days(disputes) if disputes.random() < config.disputed_share else 0.0
            row = _invoice_row(customer, next_doc_id, day, config, rng, snapshot, dispute)
            snapshot.rows.append(row)
            if rng.random() < config.duplicate_share:
                snapshot.rows.append(list(row))
            next_doc_id += int(rng.integers(1, 40))
        day += timedelta(days=1)
    return snapshot


def _invoice_row(
    customer: Customer,
    doc_id: int,
    posting: date,
    config: GeneratorConfig,
    rng: np.random.Generator,
    snapshot: InvoiceSnapshot,
    dispute_days: float,
) -> list[str]:
    amount_usd = round(float(np.exp(rng.normal(customer.amount_log_mean, 1.0))), 2)
    currency = "CAD" if customer.business_code == "CA02" else "USD"
    amount = round(amount_usd * CAD_PER_USD, 2) if currency == "CAD" else amount_usd
    net_days = {**PAYMENT_TERMS, **CA_TERMS}[customer.payment_terms]
    due = posting + timedelta(days=net_days)
    cleared = clearing_date(customer.habit, amount_usd, posting, due, rng, dispute_days)
    is_open = cleared > config.end
    snapshot.truth[doc_id] = (customer.cust_number, amount_usd, posting, due)
    if dispute_days:
        snapshot.disputes[doc_id] = dispute_days

    number = customer.cust_number
    if number.isdigit() and rng.random() < config.lost_zero_share:
        number = number.lstrip("0")  # the real file sometimes loses the leading zero
    invoice_id = "" if rng.random() < config.missing_invoice_id_share else f"{doc_id}.0"
    created = posting - timedelta(days=int(rng.choice([0, 0, 0, 1, 2])))
    values = {
        "business_code": customer.business_code,
        "cust_number": number,
        "name_customer": customer.name,
        "clear_date": "" if is_open else f"{cleared:%Y-%m-%d} 00:00:00",
        "buisness_year": f"{posting.year}.0",
        "doc_id": f"{doc_id}.0",
        "posting_date": f"{posting:%Y-%m-%d}",
        "document_create_date": f"{created:%Y%m%d}",
        "document_create_date.1": f"{posting:%Y%m%d}",
        "due_in_date": f"{due:%Y%m%d}.0",
        "invoice_currency": currency,
        "document type": "RV" if rng.random() > 0.001 else "X2",
        "posting_id": "1.0",
        "area_business": "",
        "total_open_amount": f"{amount:.2f}",
        "baseline_create_date": f"{posting:%Y%m%d}.0",
        "cust_payment_terms": customer.payment_terms,
        "invoice_id": invoice_id,
        "isOpen": "1" if is_open else "0",
        "disputed": "1" if dispute_days else "0",
    }
    return [values[column] for column in snapshot.header]
