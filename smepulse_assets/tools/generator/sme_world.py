"""A consistent, deterministic SME world: the operational sources SME Pulse ingests.

One Vietnamese SME selling through marketplaces, its website, a store and B2B
sales reps. From a seed, ``generate_world`` draws customers (with account
changes over time), products (with price changes), orders at line grain,
shipments, payments allocated to orders (partial, failed and pending ones
included), the bank statement (transfers matching payments, fees deducted,
unknown credits, missing and repeated lines) and supplier bills. Everything is
in VND and consistent: a payment belongs to an order that exists, a bank line
matches a payment unless it is meant not to, a shipment ships an order.

The reference data is the platform's own: provinces, holidays and the raw
channel / method / carrier spellings come from the dbt seeds, so the generator
never produces a value the maps do not know. Seasonality follows the
Vietnamese calendar: orders swell in the weeks before Tết and all but stop
during it. ``World`` keeps the final truth of every entity so tests can
recompute the KPIs independently.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from smepulse_assets.ingestion.spec import shipped_source
from smepulse_lib import storage
from smepulse_lib.settings import DBT_PROJECT_DIR

SOURCES = ("customers", "products", "orders", "payments", "shipments", "bank_transactions", "supplier_bills")
SEGMENTS = {"retail": 0.6, "wholesale": 0.3, "distributor": 0.1}
TERMS = {"retail": [0], "wholesale": [15, 30], "distributor": [30, 45, 60]}
CREDIT_LIMIT = {"retail": 0, "wholesale": 200_000_000, "distributor": 1_000_000_000}
RETAIL_CHANNELS = {"shopee": 0.3, "lazada": 0.15, "tiki": 0.1, "website": 0.2, "social": 0.1, "store": 0.15}
RETAIL_METHODS = {"momo": 0.25, "zalopay": 0.1, "vnpay": 0.1, "card": 0.2, "cod": 0.3, "bank_transfer": 0.05}
CARRIERS = {"ghn": 0.3, "ghtk": 0.3, "viettel_post": 0.15, "jt_express": 0.15, "ninja_van": 0.1}
STATUS_SPELLINGS = {
    "paid": ["paid", "PAID", "success"],
    "failed": ["failed", "declined"],
    "pending": ["pending", "processing"],
}
CATEGORIES = {
    "Cà phê": ["Cà phê rang xay", "Cà phê hòa tan", "Cà phê hạt Arabica", "Cà phê phin giấy"],
    "Trà": ["Trà Thái Nguyên", "Trà ô long", "Trà sen Tây Hồ", "Trà gừng"],
    "Bánh kẹo": ["Bánh pía", "Kẹo dừa Bến Tre", "Bánh đậu xanh", "Mứt Tết"],
    "Gia vị": ["Nước mắm Phú Quốc", "Tiêu đen", "Muối tôm", "Tương ớt"],
    "Quà Tết": ["Hộp quà Tết cao cấp", "Giỏ quà doanh nghiệp", "Hộp quà mini"],
}
NAME_PARTS = [
    "An Phát",
    "Minh Long",
    "Hoàng Gia",
    "Phú Thịnh",
    "Thành Công",
    "Đại Việt",
    "Sao Mai",
    "Bình Minh",
    "Hưng Thịnh",
    "Tân Tiến",
    "Kim Ngân",
    "Trường Sơn",
    "Hải Âu",
    "Ngọc Lan",
    "Việt Tín",
    "Phước Lộc",
]
BANK_FEE_VND = 11_000


@dataclass
class WorldConfig:
    start: date
    end: date
    customers: int = 80
    products: int = 40
    suppliers: int = 10
    orders_per_day: float = 30.0
    seed: int = 7
    partial_payment_share: float = 0.2  # B2B orders paid in two instalments
    bad_debt_share: float = 0.03  # B2B orders never paid
    failed_attempt_share: float = 0.06  # instant payments that fail once before a retry
    bank_fee_share: float = 0.04  # transfers arriving with a bank fee deducted (amount mismatch)
    missing_bank_line_share: float = 0.02  # payments the bank statement never shows
    unknown_credits_per_day: float = 0.3  # credits with no payment reference
    repeated_bank_line_share: float = 0.02  # lines the next statement repeats
    split_shipment_share: float = 0.1
    unshipped_share: float = 0.02
    over_shipped_share: float = 0.01
    returned_share: float = 0.03
    account_change_per_day: float = 1 / 200  # chance an account changes on a given day
    churner_share: float = 0.4  # accounts that stop ordering at some point
    mean_lifetime_days: float = 150.0  # a churner's days from opening to its last order (exponential)
    cooling_days: int = 30  # before it stops, a churner orders less (weight x cooling_factor)
    cooling_factor: float = 0.35
    rent_vnd: float = 300_000_000  # debited on the 5th of every month
    payroll_vnd: float = 1_200_000_000  # debited on the 25th, a little more or less each month


@dataclass
class World:
    """The final truth of every entity, and the daily drops that deliver it."""

    config: WorldConfig
    customers: pd.DataFrame  # every account version as delivered
    products: pd.DataFrame  # every catalogue version as delivered
    order_lines: pd.DataFrame
    payments: pd.DataFrame  # final state; status paid / failed / pending
    shipments: pd.DataFrame  # final state
    bank_lines: pd.DataFrame  # one row per distinct line, with the payment or bill it pays (truth)
    bills: pd.DataFrame  # final state
    drops: dict[tuple[str, date], list[dict]] = field(default_factory=dict)
    lapses_on: dict[str, date | None] = field(default_factory=dict)  # churners' first day without orders


def read_seed(name: str) -> pd.DataFrame:
    return pd.read_csv(DBT_PROJECT_DIR / "seeds" / f"{name}.csv", dtype=str, keep_default_na=False)


class _Reference:
    """Seeds the generator draws from, so every value it writes is one the platform maps."""

    def __init__(self):
        provinces = read_seed("provinces")
        self.province_codes = provinces["province_code"].tolist()
        weights = provinces["business_weight"].astype(float).to_numpy()
        self.province_weights = weights / weights.sum()
        holidays = read_seed("vn_holidays")
        self.holidays = {
            date.fromisoformat(d): g for d, g in zip(holidays["holiday_date"], holidays["holiday_group"], strict=False)
        }
        self.tet_days = sorted(
            d for d, g in self.holidays.items() if g == "tet" and d - timedelta(days=1) not in self.holidays
        )
        self.channel_spellings = _spellings(read_seed("channel_map"), "raw_channel", "channel_code")
        self.method_spellings = _spellings(read_seed("payment_method_map"), "raw_method", "method_code")
        self.carrier_spellings = _spellings(read_seed("carrier_map"), "raw_carrier", "carrier_code")
        methods = read_seed("payment_method_map").drop_duplicates("method_code").set_index("method_code")
        self.expects_bank_line = (methods["expects_bank_line"] == "true").to_dict()

    def demand_factor(self, day: date) -> float:
        """Orders per day relative to a normal weekday."""
        if self.holidays.get(day) == "tet":
            return 0.15
        factor = 0.6 if day in self.holidays else (0.75 if day.weekday() == 6 else 1.0)
        if any(0 < (tet - day).days <= 21 for tet in self.tet_days):
            factor *= 1.6  # the Tết shopping season
        if (day + timedelta(days=3)).month != day.month:
            factor *= 1.15  # B2B month-end ordering
        return factor


def _spellings(seed: pd.DataFrame, raw: str, code: str) -> dict[str, list[str]]:
    """The raw spellings of each code, with the casing sources use in the wild."""
    out: dict[str, list[str]] = {}
    for value, standard in zip(seed[raw], seed[code], strict=False):
        out.setdefault(standard, []).extend([value, value.title(), value.upper()])
    return out


class _Drops:
    def __init__(self):
        self.rows: dict[tuple[str, date], list[dict]] = {}

    def add(self, source: str, day: date, row: dict) -> None:
        self.rows.setdefault((source, day), []).append(row)


def generate_world(config: WorldConfig) -> World:
    rng = np.random.default_rng(config.seed)
    ref = _Reference()
    drops = _Drops()
    customers = _draw_customers(config, rng, ref)
    _draw_lifetimes(config, customers)
    products = _draw_products(config, rng)
    world = _Simulation(config, rng, ref, drops, customers, products).run()
    world.drops = drops.rows
    return world


def _draw_customers(config: WorldConfig, rng: np.random.Generator, ref: _Reference) -> list[dict]:
    span = (config.end - config.start).days
    customers = []
    for i in range(config.customers):
        segment = str(rng.choice(list(SEGMENTS), p=list(SEGMENTS.values())))
        abroad = segment == "distributor" and rng.random() < 0.3
        opened = (
            config.start
            if rng.random() < 0.7 or span < 2
            else config.start + timedelta(days=int(rng.integers(1, span)))
        )
        customers.append(
            {
                "customer_code": f"KH{i + 1:05d}",
                "customer_name": f"Công ty {rng.choice(['TNHH', 'CP'])} {rng.choice(NAME_PARTS)} {i + 1}",
                "province_code": "" if abroad else str(rng.choice(ref.province_codes, p=ref.province_weights)),
                "country_code": str(rng.choice(["KH", "LA", "TH", "SG"])) if abroad else "VN",
                "segment": segment,
                "credit_limit_vnd": CREDIT_LIMIT[segment] * int(rng.choice([1, 2, 5])),
                "payment_terms_days": int(rng.choice(TERMS[segment])),
                "updated_on": opened,
                # behaviour, never delivered
                "weight": float(rng.pareto(1.5) + 0.3) * (4 if segment != "retail" else 1),
                "delay_mean": float(rng.choice([-3, 2, 10, 25], p=[0.25, 0.4, 0.25, 0.1])),
            }
        )
    return customers


def _draw_lifetimes(config: WorldConfig, customers: list[dict]) -> None:
    """Which accounts churn and when (never delivered; the churn model's truth).

    Drawn from their own random stream so the rest of the world draws as before.
    """
    rng = np.random.default_rng([config.seed, 2])
    for customer in customers:
        churns = rng.random() < config.churner_share
        lifetime = int(rng.exponential(config.mean_lifetime_days)) + 1
        customer["lapses_on"] = customer["updated_on"] + timedelta(days=lifetime) if churns else None


def _order_weight(customer: dict, day: date, config: WorldConfig) -> float:
    """How much a customer orders on a day: nothing once lapsed, less while cooling down."""
    lapses_on = customer.get("lapses_on")
    if lapses_on is None or (lapses_on - day).days > config.cooling_days:
        return customer["weight"]
    return customer["weight"] * config.cooling_factor if day < lapses_on else 0.0


def _draw_products(config: WorldConfig, rng: np.random.Generator) -> list[dict]:
    names = [(category, name) for category, items in CATEGORIES.items() for name in items]
    products = []
    for i in range(config.products):
        category, name = names[i % len(names)]
        price = round(float(np.exp(rng.normal(np.log(180_000), 0.8))), -3) + 1000
        products.append(
            {
                "sku": f"SP{i + 1:04d}",
                "product_name": f"{name} {i // len(names) + 1}",
                "category": category,
                "unit_price_vnd": price,
                "unit_cost_vnd": round(price * float(rng.uniform(0.55, 0.8)), -2),
                "updated_on": config.start,
            }
        )
    return products


class _Simulation:
    """Walks the days once; every event is written to the day it becomes known."""

    def __init__(self, config, rng, ref, drops, customers, products):
        self.config, self.rng, self.ref, self.drops = config, rng, ref, drops
        self.current = {c["customer_code"]: dict(c) for c in customers}
        self.products = {p["sku"]: dict(p) for p in products}
        self.customer_versions = [_delivered(c, "customers") for c in customers]
        self.product_versions = [_delivered(p, "products") for p in products]
        self.lines, self.payments, self.shipments, self.bank, self.bills = [], [], [], [], []
        self.counters = {"order": 0, "payment": 0, "shipment": 0, "bank": 0, "bill": 0}
        for c in customers:
            drops.add("customers", c["updated_on"], _delivered(c, "customers"))
        for p in products:
            drops.add("products", p["updated_on"], _delivered(p, "products"))

    def next_id(self, kind: str, prefix: str) -> str:
        self.counters[kind] += 1
        return f"{prefix}{self.counters[kind]:07d}"

    def run(self) -> World:
        day = self.config.start
        while day <= self.config.end:
            self.change_accounts(day)
            self.change_prices(day)
            self.take_orders(day)
            self.unknown_credits(day)
            day += timedelta(days=1)
        self.recurring_debits()
        return World(
            config=self.config,
            customers=pd.DataFrame(self.customer_versions),
            products=pd.DataFrame(self.product_versions),
            order_lines=pd.DataFrame(self.lines),
            payments=pd.DataFrame(self.payments),
            shipments=pd.DataFrame(self.shipments),
            bank_lines=pd.DataFrame(self.bank),
            bills=pd.DataFrame(self.bills),
            lapses_on={code: c.get("lapses_on") for code, c in self.current.items()},
        )

    # -- reference entities -------------------------------------------------------

    def change_accounts(self, day: date) -> None:
        for _code, customer in self.current.items():
            if customer["updated_on"] >= day or self.rng.random() > self.config.account_change_per_day:
                continue
            change = self.rng.choice(["credit", "segment", "province", "terms"])
            if change == "credit":
                customer["credit_limit_vnd"] = int(
                    max(customer["credit_limit_vnd"], 50_000_000) * self.rng.choice([0.5, 1.5, 2])
                )
            elif change == "segment" and customer["segment"] == "retail":
                customer.update(segment="wholesale", payment_terms_days=15)
            elif change == "province" and customer["country_code"] == "VN":
                customer["province_code"] = str(self.rng.choice(self.ref.province_codes, p=self.ref.province_weights))
            else:
                customer["payment_terms_days"] = int(self.rng.choice([0, 15, 30, 45]))
            customer["updated_on"] = day
            row = _delivered(customer, "customers")
            self.customer_versions.append(row)
            self.drops.add("customers", day, row)

    def change_prices(self, day: date) -> None:
        for product in self.products.values():
            if product["updated_on"] >= day or self.rng.random() > 1 / 120:
                continue
            factor = float(self.rng.choice([0.9, 0.95, 1.05, 1.1]))
            product.update(
                unit_price_vnd=round(product["unit_price_vnd"] * factor, -3),
                unit_cost_vnd=round(product["unit_cost_vnd"] * (1 + (factor - 1) / 2), -2),
                updated_on=day,
            )
            row = _delivered(product, "products")
            self.product_versions.append(row)
            self.drops.add("products", day, row)

    # -- orders and what follows them ----------------------------------------------

    def take_orders(self, day: date) -> None:
        open_accounts = [
            c for c in self.current.values() if c["updated_on"] <= day and _order_weight(c, day, self.config) > 0
        ]
        if not open_accounts:
            return
        weights = np.array([_order_weight(c, day, self.config) for c in open_accounts])
        count = int(self.rng.poisson(self.config.orders_per_day * self.ref.demand_factor(day)))
        for index in self.rng.choice(len(open_accounts), size=count, p=weights / weights.sum()):
            self.order(day, open_accounts[int(index)])

    def order(self, day: date, customer: dict) -> None:
        rng = self.rng
        retail = customer["segment"] == "retail"
        order_id = self.next_id("order", "DH")
        channel = str(rng.choice(list(RETAIL_CHANNELS), p=list(RETAIL_CHANNELS.values()))) if retail else "sales_rep"
        channel_raw = str(rng.choice(self.ref.channel_spellings[channel]))
        due = day + timedelta(days=customer["payment_terms_days"])
        skus = rng.choice(list(self.products), size=int(rng.integers(1, 5)), replace=False)
        total, cost, units = 0.0, 0.0, 0
        for line_no, sku in enumerate(skus, start=1):
            product = self.products[str(sku)]
            quantity = int(rng.integers(1, 4)) if retail else int(rng.integers(5, 60))
            gross = quantity * product["unit_price_vnd"]
            discount = round(gross * 0.05, -2) if not retail and quantity >= 30 else 0.0
            row = {
                "order_id": order_id,
                "line_no": line_no,
                "order_date": day,
                "customer_code": customer["customer_code"],
                "sku": product["sku"],
                "channel": channel_raw,
                "quantity": quantity,
                "unit_price_vnd": product["unit_price_vnd"],
                "discount_vnd": discount,
                "revenue_vnd": gross - discount,
                "cost_vnd": quantity * product["unit_cost_vnd"],
                "due_date": due,
            }
            self.lines.append({**row, "channel_code": channel})
            self.drops.add("orders", day, row)
            total += row["revenue_vnd"]
            cost += row["cost_vnd"]
            units += quantity
        delivered = self.ship(order_id, day, units)
        self.bill_supplier(day, cost)
        if retail:
            self.pay_retail(order_id, customer, day, total, delivered)
        else:
            self.pay_b2b(order_id, customer, day, due, total)

    def ship(self, order_id: str, day: date, units: int) -> date | None:
        """Ship the order; return the day it reached the customer (None if it never did)."""
        rng, cfg = self.rng, self.config
        if rng.random() < cfg.unshipped_share:
            return None
        if units > 1 and rng.random() < cfg.split_shipment_share:
            parcels = [units // 2, units - units // 2]
        else:
            parcels = [units + (1 if rng.random() < cfg.over_shipped_share else 0)]
        carrier = str(rng.choice(list(CARRIERS), p=list(CARRIERS.values())))
        reached = None
        for n, parcel in enumerate(parcels):
            shipped = day + timedelta(days=int(rng.integers(0, 2)) + 2 * n)
            arrived = shipped + timedelta(days=int(rng.integers(1, 5)))
            status = "returned" if rng.random() < cfg.returned_share else "delivered"
            if shipped > cfg.end:
                continue  # not shipped yet within the world's days
            row = {
                "shipment_id": self.next_id("shipment", "VD"),
                "order_id": order_id,
                "carrier": str(rng.choice(self.ref.carrier_spellings[carrier])),
                "units": parcel,
                "shipped_date": shipped,
                "shipping_fee_vnd": float(rng.choice([16_500, 22_000, 30_000, 45_000])),
            }
            in_transit = {**row, "status": "in_transit", "delivered_date": None, "updated_on": shipped}
            self.drops.add("shipments", shipped, in_transit)
            final = {**row, "status": status, "delivered_date": arrived, "updated_on": arrived}
            if arrived > cfg.end:
                self.shipments.append({**in_transit, "carrier_code": carrier})
                continue
            self.drops.add("shipments", arrived, final)
            self.shipments.append({**final, "carrier_code": carrier})
            if status == "delivered":
                reached = max(reached or arrived, arrived)
        return reached

    def pay_retail(self, order_id: str, customer: dict, day: date, total: float, delivered: date | None) -> None:
        method = str(self.rng.choice(list(RETAIL_METHODS), p=list(RETAIL_METHODS.values())))
        if method == "cod":
            if delivered is not None:  # cash collected by the carrier on delivery
                self.payment(order_id, customer, method, delivered, delivered, "paid", total)
            return
        if method != "bank_transfer" and self.rng.random() < self.config.failed_attempt_share:
            self.payment(order_id, customer, method, day, day, "failed", total)
        settles = day if method != "bank_transfer" else day + timedelta(days=int(self.rng.integers(0, 2)))
        self.payment(order_id, customer, method, day, settles, "paid", total)

    def pay_b2b(self, order_id: str, customer: dict, ordered: date, due: date, total: float) -> None:
        rng, cfg = self.rng, self.config
        if rng.random() < cfg.bad_debt_share:
            return
        paid_on = max(ordered, due + timedelta(days=round(rng.normal(customer["delay_mean"], 4))))
        if rng.random() < cfg.partial_payment_share:
            first = round(total * float(rng.choice([0.3, 0.5])), -3)
            self.transfer(order_id, customer, max(ordered, paid_on - timedelta(days=int(rng.integers(5, 15)))), first)
            self.transfer(order_id, customer, paid_on, total - first)
        else:
            self.transfer(order_id, customer, paid_on, total)

    def transfer(self, order_id: str, customer: dict, initiated: date, amount: float) -> None:
        """A bank transfer: pending when initiated (never before the order), paid a day or two later."""
        settles = initiated + timedelta(days=int(self.rng.integers(1, 3)))
        self.payment(order_id, customer, "bank_transfer", initiated, settles, "paid", amount)

    def payment(self, order_id, customer, method, initiated: date, settles: date, status: str, amount: float) -> None:
        payment_id = self.next_id("payment", "TT")
        row = {
            "payment_id": payment_id,
            "order_id": order_id,
            "customer_code": customer["customer_code"],
            "payment_date": initiated,
            "method": str(self.rng.choice(self.ref.method_spellings[method])),
            "amount_vnd": float(amount),
        }
        known = settles <= self.config.end
        if initiated > self.config.end:
            return  # not yet initiated within the world's days
        if settles > initiated or not known:
            self.drops.add(
                "payments",
                initiated,
                {**row, "status": self.spell("pending"), "settled_date": None, "updated_on": initiated},
            )
        final_status = status if known else "pending"
        if known:
            self.drops.add(
                "payments",
                settles,
                {**row, "status": self.spell(status), "settled_date": settles, "updated_on": settles},
            )
        self.payments.append(
            {**row, "method_code": method, "status": final_status, "settled_date": settles if known else None}
        )
        if known and status == "paid" and self.ref.expects_bank_line[method]:
            self.bank_credit(payment_id, customer, settles, amount)

    def spell(self, status: str) -> str:
        return str(self.rng.choice(STATUS_SPELLINGS[status]))

    # -- the bank statement and the suppliers ---------------------------------------

    def bank_credit(self, payment_id: str, customer: dict, day: date, amount: float) -> None:
        rng, cfg = self.rng, self.config
        if rng.random() < cfg.missing_bank_line_share:
            return
        fee = BANK_FEE_VND if rng.random() < cfg.bank_fee_share else 0
        description = str(rng.choice(["TT {p}", "CK {p} thanh toan", "{p} chuyen tien hang", "Thanh toan {p}"])).format(
            p=payment_id
        )
        self.bank_line(day, "credit", amount - fee, description, customer["customer_name"], payment_id=payment_id)

    def unknown_credits(self, day: date) -> None:
        for _ in range(int(self.rng.poisson(self.config.unknown_credits_per_day))):
            amount = round(float(self.rng.uniform(200_000, 20_000_000)), -3)
            self.bank_line(
                day, "credit", amount, str(self.rng.choice(["NOP TIEN MAT", "HOAN TIEN", "CHUYEN TIEN"])), ""
            )

    def bank_row(self, day: date, direction: str, amount: float, description: str, counterparty: str) -> dict:
        return {
            "bank_txn_id": self.next_id("bank", "FT"),
            "txn_date": day,
            "direction": direction,
            "amount_vnd": float(amount),
            "description": description,
            "counterparty": counterparty,
        }

    def bank_line(self, day: date, direction: str, amount: float, description: str, counterparty: str, **truth) -> None:
        row = self.bank_row(day, direction, amount, description, counterparty)
        repeated = self.rng.random() < self.config.repeated_bank_line_share and day < self.config.end
        self.drops.add("bank_transactions", day, row)
        if repeated:  # the next statement starts with this line again
            self.drops.add("bank_transactions", day + timedelta(days=1), row)
        self.bank.append(
            {**row, "payment_id": truth.get("payment_id"), "bill_id": truth.get("bill_id"), "repeated": repeated}
        )

    def recurring_debits(self) -> None:
        """Rent and payroll, the monthly debits a cash position must foresee. Drawn after the days
        with their own generator, so adding them left every other line of a seeded world as it was."""
        rng, cfg = np.random.default_rng(self.config.seed + 101), self.config
        day = cfg.start
        while day <= cfg.end:
            if day.day == 5:
                self.recurring_line(
                    day, cfg.rent_vnd, f"TIEN THUE MAT BANG T{day:%m/%Y}", "Công ty Bất động sản An Phú"
                )
            if day.day == 25:
                payroll = round(cfg.payroll_vnd * float(rng.uniform(0.95, 1.05)), -3)
                self.recurring_line(day, payroll, f"LUONG NHAN VIEN T{day:%m/%Y}", "Bảng lương nhân viên")
            day += timedelta(days=1)

    def recurring_line(self, day: date, amount: float, description: str, counterparty: str) -> None:
        row = self.bank_row(day, "debit", amount, description, counterparty)
        self.drops.add("bank_transactions", day, row)
        self.bank.append({**row, "payment_id": None, "bill_id": None, "repeated": False})

    def bill_supplier(self, day: date, cost: float) -> None:
        """Restocking: about every fifth order is followed by a supplier bill for the goods sold."""
        rng, cfg = self.rng, self.config
        if rng.random() > 0.2:
            return
        supplier = int(rng.integers(1, cfg.suppliers + 1))
        amount = round(cost * 5 * float(rng.uniform(0.8, 1.2)), -3)
        due = day + timedelta(days=int(rng.choice([30, 45, 60])))
        paid = max(day, due + timedelta(days=round(rng.normal(2, 6))))
        row: dict[str, Any] = {
            "bill_id": self.next_id("bill", "HD"),
            "supplier_code": f"NCC{supplier:03d}",
            "supplier_name": f"Nhà cung cấp {NAME_PARTS[supplier % len(NAME_PARTS)]}",
            "bill_date": day,
            "due_date": due,
            "amount_vnd": amount,
        }
        self.drops.add("supplier_bills", day, {**row, "status": "open", "paid_date": None, "updated_on": day})
        known = paid <= cfg.end
        if known:
            self.drops.add("supplier_bills", paid, {**row, "status": "paid", "paid_date": paid, "updated_on": paid})
            self.bank_line(
                paid, "debit", amount, f"TT HD {row['bill_id']}", row["supplier_name"], bill_id=row["bill_id"]
            )
        self.bills.append({**row, "status": "paid" if known else "open", "paid_date": paid if known else None})


@cache
def source_header(source: str) -> tuple[str, ...]:
    return shipped_source(source).base_header  # what a sender writes: no optional columns


def _delivered(entity: dict, source: str) -> dict:
    """The columns a source delivers (behaviour fields stay in the simulation)."""
    return {column: entity[column] for column in source_header(source)}


# -- writing the drops ---------------------------------------------------------------


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
    return f"{value}"


def drop_bytes(source: str, rows: list[dict]) -> bytes:
    header = source_header(source)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_value(row[column]) for column in header] for row in rows])
    return out.getvalue().encode("utf-8")


def drop_url(landing_url: str, source: str, day: date) -> str:
    return storage.join(landing_url, source, f"{day:%Y-%m-%d}", f"{source}_{day:%Y-%m-%d}.csv")


def write_world(world: World, landing_url: str) -> list[str]:
    """Every source delivers a file every day, header-only when nothing happened."""
    written = []
    day = world.config.start
    while day <= world.config.end:
        for source in SOURCES:
            url = drop_url(landing_url, source, day)
            storage.write_bytes(url, drop_bytes(source, world.drops.get((source, day), [])))
            written.append(url)
        day += timedelta(days=1)
    return written
