"""The sales database's tables as the platform expects them: names, keys and typed columns.

An OLTP database keeps each row's current state and stamps every change in ``updated_at``;
a removed row is kept with ``deleted_at`` set (a soft delete), so an extraction by
``updated_at`` sees removals as it sees updates. ``create_statements`` is the schema the sample
generator writes (``smepulse generate --to-postgres``); a real database needs at least these
columns (more are allowed and left out).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# How each declared kind is stored in PostgreSQL and in bronze. Amounts are exact decimals
# (whole dong and cents alike), as the database keeps them.
KINDS = {
    "text": ("text", pa.string()),
    "integer": ("integer", pa.int64()),
    "amount": ("numeric(18,2)", pa.decimal128(18, 2)),
    "date": ("date", pa.date32()),
    "timestamp": ("timestamptz", pa.timestamp("us", tz="UTC")),
}
# Every table carries these: the change stamp the extraction follows, and the soft delete.
STAMPS = (("updated_at", "timestamp", False), ("deleted_at", "timestamp", True))


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    columns: tuple[tuple[str, str, bool], ...]  # (name, kind, nullable), stamps excluded
    description: str

    @property
    def all_columns(self) -> tuple[tuple[str, str, bool], ...]:
        return (*self.columns, *STAMPS)

    @property
    def column_names(self) -> list[str]:
        return [name for name, _, _ in self.all_columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, KINDS[kind][1]) for name, kind, _ in self.all_columns])

    @property
    def bronze_table(self) -> str:
        return f"sales_db_{self.name}"

    def create_statement(self) -> str:
        columns = [
            f"{name} {KINDS[kind][0]}{'' if nullable else ' not null'}" for name, kind, nullable in self.all_columns
        ]
        return (
            f"create table if not exists {self.name} ({', '.join(columns)}, primary key ({', '.join(self.keys)}));\n"
            f"create index if not exists {self.name}_updated_at on {self.name} (updated_at)"
        )


TABLES = (
    Table(
        "customers",
        ("customer_id",),
        (
            ("customer_id", "text", False),
            ("customer_name", "text", False),
            ("segment", "text", False),
            ("payment_terms_days", "integer", False),
            ("credit_limit_vnd", "amount", False),
        ),
        "Customer accounts: name, segment, payment terms and credit limit.",
    ),
    Table(
        "invoices",
        ("invoice_id",),
        (
            ("invoice_id", "text", False),
            ("customer_id", "text", False),
            ("invoice_date", "date", False),
            ("due_date", "date", False),
            ("currency", "text", False),
            ("total_vnd", "amount", False),
            ("status", "text", False),  # open, paid, void
        ),
        "Sales invoices on terms: customer, invoice and due dates, total, status (open, paid, void).",
    ),
    Table(
        "invoice_lines",
        ("invoice_id", "line_no"),
        (
            ("invoice_id", "text", False),
            ("line_no", "integer", False),
            ("sku", "text", False),
            ("quantity", "integer", False),
            ("unit_price_vnd", "amount", False),
            ("discount_vnd", "amount", False),
            ("amount_vnd", "amount", False),
        ),
        "Invoice lines: SKU, quantity, unit price, discount and line amount.",
    ),
    Table(
        "payments",
        ("payment_id",),
        (
            ("payment_id", "text", False),
            ("customer_id", "text", False),
            ("received_on", "date", False),
            ("method", "text", False),
            ("amount_vnd", "amount", False),
            ("unapplied_vnd", "amount", False),  # received and not yet allocated to an invoice
        ),
        "Money received from customers; what is not yet allocated to invoices is unapplied cash.",
    ),
    Table(
        "payment_allocations",
        ("allocation_id",),
        (
            ("allocation_id", "text", False),
            ("payment_id", "text", False),
            ("invoice_id", "text", False),
            ("allocated_on", "date", False),
            ("amount_vnd", "amount", False),
        ),
        "Payments applied to invoices: one payment may settle several invoices, an invoice may be paid "
        "by several payments (instalments); a reversed allocation is soft-deleted.",
    ),
)
TABLES_BY_NAME = {table.name: table for table in TABLES}
