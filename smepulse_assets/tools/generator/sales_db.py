"""The SME world's B2B sales ledger as an OLTP database, written change by change.

``sales_db_changes`` turns a generated ``World`` into the stream of row changes a sales system
would make: invoices (one per B2B order) with their lines, money received, and allocations of
payments to invoices. It carries what makes extraction by ``updated_at`` hard:

- late updates: an invoice turns ``paid`` weeks after it was posted; unapplied cash is applied
  days after it came in;
- one payment settles several invoices (a customer's transfers of one day are one payment),
  and an invoice is paid by several payments (instalments);
- soft deletes: an invoice posted twice by mistake is voided (``deleted_at``) with its lines;
- rows updated twice within a day (cash received in the morning, applied in the afternoon);
- clock skew: the night batch that applies cash stamps its changes from its own clock just
  before midnight and commits them up to 40 minutes later, often after midnight
  (``committed_at`` > ``updated_at``).

``SalesDatabaseWriter`` applies the changes committed through a day to a PostgreSQL database,
so a run can advance it day by day and watch the extraction follow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from smepulse_assets.sales_db.tables import TABLES, TABLES_BY_NAME
from smepulse_assets.tools.generator.sme_world import World

DUPLICATE_INVOICE_SHARE = 0.03  # invoices posted twice by mistake, the copy voided later
UNAPPLIED_SHARE = 0.3  # payments received unallocated, applied by the night batch 0-3 days later
NIGHT_BATCH_LAG_MINUTES = 40  # the night batch commits up to this long after its clock's stamp
SEED_OFFSET = 26  # the database's own random stream: the world's other draws are unchanged


@dataclass(frozen=True)
class Change:
    """One row written as it stands after the change (an upsert), stamped and committed."""

    table: str
    row: dict  # every column of the table, updated_at and deleted_at included
    committed_at: datetime  # when the change became visible; updated_at may be earlier (clock skew)

    @property
    def key(self) -> tuple:
        return tuple(self.row[k] for k in TABLES_BY_NAME[self.table].keys)


class _Ledger:
    """Builds the changes; ``at(day, hour)`` is a local time of the business day as UTC."""

    def __init__(self, world: World, timezone: str):
        self.world, self.zone = world, ZoneInfo(timezone)
        self.rng = np.random.default_rng(world.config.seed + SEED_OFFSET)
        self.changes: list[Change] = []

    def at(self, day: date, hours: float) -> datetime:
        local = datetime(day.year, day.month, day.day, tzinfo=self.zone) + timedelta(hours=hours)
        return local.astimezone(UTC)

    def write(self, table: str, row: dict, stamped: datetime, committed: datetime | None = None) -> dict:
        row = {**row, "updated_at": stamped, "deleted_at": row.get("deleted_at")}
        self.changes.append(Change(table, row, committed or stamped))
        return row


def sales_db_changes(world: World, timezone: str = "Asia/Ho_Chi_Minh") -> list[Change]:
    """Every change the sales system makes over the world's days, in commit order."""
    ledger = _Ledger(world, timezone)
    _customers(ledger)
    invoices = _invoices(ledger)
    _payments(ledger, invoices)
    return sorted(ledger.changes, key=lambda c: c.committed_at)


def _customers(ledger: _Ledger) -> None:
    for version in ledger.world.customers.to_dict("records"):
        row = {
            "customer_id": version["customer_code"],
            "customer_name": version["customer_name"],
            "segment": version["segment"],
            "payment_terms_days": int(version["payment_terms_days"]),
            "credit_limit_vnd": float(version["credit_limit_vnd"]),
        }
        ledger.write("customers", row, ledger.at(version["updated_on"], 8 + ledger.rng.uniform(0, 1)))


def _invoices(ledger: _Ledger) -> dict[str, dict]:
    """One invoice per B2B order (sold on terms), posted during its day; returns them by id."""
    lines = ledger.world.order_lines
    b2b = lines[lines["channel_code"] == "sales_rep"]
    invoices = {}
    for order_id, order in b2b.groupby("order_id", sort=True):
        first = order.iloc[0]
        posted = ledger.at(first["order_date"], 8 + ledger.rng.uniform(0, 10))
        invoice = {
            "invoice_id": f"HD{order_id[2:]}",
            "customer_id": first["customer_code"],
            "invoice_date": first["order_date"],
            "due_date": first["due_date"],
            "currency": "VND",
            "total_vnd": float(order["revenue_vnd"].sum()),
            "status": "open",
        }
        invoices[order_id] = ledger.write("invoices", invoice, posted)
        _lines(ledger, invoice["invoice_id"], order, posted)
        if ledger.rng.random() < DUPLICATE_INVOICE_SHARE:
            _posted_twice(ledger, invoice, order, posted)
    return invoices


def _lines(ledger: _Ledger, invoice_id: str, order: pd.DataFrame, stamped: datetime, **deleted) -> None:
    for line in order.to_dict("records"):
        row = {
            "invoice_id": invoice_id,
            "line_no": int(line["line_no"]),
            "sku": line["sku"],
            "quantity": int(line["quantity"]),
            "unit_price_vnd": float(line["unit_price_vnd"]),
            "discount_vnd": float(line["discount_vnd"]),
            "amount_vnd": float(line["revenue_vnd"]),
            **deleted,
        }
        ledger.write("invoice_lines", row, stamped)


def _posted_twice(ledger: _Ledger, invoice: dict, order: pd.DataFrame, posted: datetime) -> None:
    """A copy posted minutes later, voided and soft-deleted within two days (its lines with it)."""
    copy = {**invoice, "invoice_id": f"{invoice['invoice_id']}-2"}
    copied = posted + timedelta(minutes=float(ledger.rng.uniform(1, 30)))
    ledger.write("invoices", copy, copied)
    _lines(ledger, copy["invoice_id"], order, copied)
    voided = copied + timedelta(hours=float(ledger.rng.uniform(1, 40)))
    ledger.write("invoices", {**copy, "status": "void", "deleted_at": voided}, voided)
    _lines(ledger, copy["invoice_id"], order, voided, deleted_at=voided)


def _payments(ledger: _Ledger, invoices: dict[str, dict]) -> None:
    """A customer's settled transfers of one day are one payment, allocated to each order it pays."""
    payments = ledger.world.payments
    settled = payments[payments["order_id"].isin(invoices) & (payments["status"] == "paid")]
    paid_so_far: dict[str, float] = {}
    for (customer, day), group in settled.groupby(["customer_code", "settled_date"], sort=True):
        payment_id = f"PT{group['payment_id'].min()[2:]}"
        received = ledger.at(day, 9 + ledger.rng.uniform(0, 6))
        amount = float(group["amount_vnd"].sum())
        unapplied = ledger.rng.random() < UNAPPLIED_SHARE
        payment = {
            "payment_id": payment_id,
            "customer_id": customer,
            "received_on": day,
            "method": "bank_transfer",
            "amount_vnd": amount,
            "unapplied_vnd": amount if unapplied else 0.0,
        }
        ledger.write("payments", payment, received)
        applied, committed = received, received
        if unapplied:  # the night batch applies it, stamping from its own clock
            applied = ledger.at(
                day + timedelta(days=int(ledger.rng.integers(0, 4))), 23 + ledger.rng.uniform(0.8, 0.99)
            )
            committed = applied + timedelta(minutes=float(ledger.rng.uniform(0, NIGHT_BATCH_LAG_MINUTES)))
            ledger.write("payments", {**payment, "unapplied_vnd": 0.0}, applied, committed)
        for n, part in enumerate(group.sort_values("payment_id").to_dict("records"), start=1):
            invoice = invoices[part["order_id"]]
            allocation = {
                "allocation_id": f"{payment_id}-{n}",
                "payment_id": payment_id,
                "invoice_id": invoice["invoice_id"],
                "allocated_on": applied.astimezone(ledger.zone).date(),
                "amount_vnd": float(part["amount_vnd"]),
            }
            ledger.write("payment_allocations", allocation, applied, committed)
            paid_so_far[invoice["invoice_id"]] = paid_so_far.get(invoice["invoice_id"], 0.0) + allocation["amount_vnd"]
            if paid_so_far[invoice["invoice_id"]] >= invoice["total_vnd"] - 0.5:
                ledger.write("invoices", {**invoice, "status": "paid"}, applied, committed)


def state_through(changes: Iterable[Change], end: datetime) -> dict[str, pd.DataFrame]:
    """Each table as it stands once every change stamped before ``end`` is in: the truth an
    extraction of the days before ``end`` must reproduce (soft-deleted rows included)."""
    latest: dict[str, dict[tuple, dict]] = {t.name: {} for t in TABLES}
    for change in changes:
        if change.row["updated_at"] < end:
            current = latest[change.table].get(change.key)
            if current is None or current["updated_at"] <= change.row["updated_at"]:
                latest[change.table][change.key] = change.row
    return {
        name: pd.DataFrame(list(rows.values()), columns=TABLES_BY_NAME[name].column_names)
        for name, rows in latest.items()
    }


class SalesDatabaseWriter:
    """Writes the changes into a PostgreSQL database, one business day at a time.

    The database remembers how far it was written (table ``smepulse_generator_clock``), so a later
    call goes on from there. Within a day, changes to one row collapse to its last: the database
    keeps only the current state, as a sales system's does."""

    def __init__(self, url: str, changes: list[Change], timezone: str = "Asia/Ho_Chi_Minh"):
        self.url, self.changes, self.zone = url, changes, ZoneInfo(timezone)

    @contextmanager
    def connect(self):
        """A connection whose transaction commits when the block ends, and which is then closed
        (psycopg2's own `with` commits but keeps the connection open)."""
        import psycopg2

        from smepulse_assets.sales_db.extract import libpq_url

        with closing(psycopg2.connect(libpq_url(self.url))) as con, con:
            yield con

    def create_schema(self) -> None:
        with self.connect() as con, con.cursor() as cur:
            for table in TABLES:
                cur.execute(table.create_statement())
            cur.execute("create table if not exists smepulse_generator_clock (written_through date not null)")

    def written_through(self) -> date | None:
        with self.connect() as con, con.cursor() as cur:
            cur.execute("select max(written_through) from smepulse_generator_clock")
            return cur.fetchone()[0]

    def advance(
        self, through: date, seconds_per_day: float = 0.0, report: Callable[[date, int], None] | None = None
    ) -> int:
        """Commit every change committed by the end of each day up to ``through``; returns how many."""
        first = self.written_through()
        day = (first + timedelta(days=1)) if first else self.changes[0].committed_at.astimezone(self.zone).date()
        since = self._midnight_after(first) if first else None
        written = 0
        while day <= through:
            end = self._midnight_after(day)
            todays = [c for c in self.changes if (since is None or c.committed_at >= since) and c.committed_at < end]
            self._commit(todays, day)
            written, since = written + len(todays), end
            if report:
                report(day, len(todays))
            day += timedelta(days=1)
            if seconds_per_day and day <= through:
                time.sleep(seconds_per_day)
        return written

    def _midnight_after(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.zone) + timedelta(days=1)

    def _commit(self, changes: list[Change], day: date) -> None:
        from psycopg2.extras import execute_values

        last: dict[tuple[str, tuple], Change] = {}
        for change in changes:  # in commit order: the last change of a row is its state
            last[(change.table, change.key)] = change
        with self.connect() as con, con.cursor() as cur:
            for table in TABLES:
                rows = [c.row for (name, _), c in last.items() if name == table.name]
                if not rows:
                    continue
                columns = table.column_names
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in table.keys)
                execute_values(
                    cur,
                    f"insert into {table.name} ({', '.join(columns)}) values %s "
                    f"on conflict ({', '.join(table.keys)}) do update set {updates}",
                    [tuple(row[c] for c in columns) for row in rows],
                    page_size=1000,
                )
            cur.execute("insert into smepulse_generator_clock values (%s)", (day,))
