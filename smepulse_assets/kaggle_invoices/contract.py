"""The data contract of the Kaggle "Payment Date Prediction for Invoices" file.

The real file is quirky and the contract accepts it as it is: the misspelled
``buisness_year``, the space in ``document type``, the ``.1`` suffix, dates in
three encodings (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS``, ``YYYYMMDD`` integers
and ``YYYYMMDD.0`` floats), identifiers written as floats, customer numbers
that must stay strings. Bronze columns get SQL-friendly names; the mapping is
this table and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_NAME = "kaggle_invoices"


@dataclass(frozen=True)
class Column:
    source: str  # header in the file
    name: str  # column in bronze
    kind: str  # parser, see parse.py
    required: bool  # empty is a contract violation


COLUMNS: tuple[Column, ...] = (
    Column("business_code", "business_code", "text", True),
    Column("cust_number", "cust_number", "text", True),
    Column("name_customer", "name_customer", "text", False),
    Column("clear_date", "clear_date", "datetime", False),
    Column("buisness_year", "business_year", "integer", False),
    Column("doc_id", "doc_id", "integer", True),
    Column("posting_date", "posting_date", "date", True),
    Column("document_create_date", "document_create_date", "yyyymmdd", False),
    Column("document_create_date.1", "document_create_date_1", "yyyymmdd", False),
    Column("due_in_date", "due_in_date", "yyyymmdd", True),
    Column("invoice_currency", "invoice_currency", "currency", True),
    Column("document type", "document_type", "text", False),
    Column("posting_id", "posting_id", "integer", False),
    Column("area_business", "area_business", "text", False),
    Column("total_open_amount", "total_open_amount", "amount", True),
    Column("baseline_create_date", "baseline_create_date", "yyyymmdd", True),
    Column("cust_payment_terms", "cust_payment_terms", "text", False),
    Column("invoice_id", "invoice_id", "integer", False),
    Column("isOpen", "is_open", "flag", True),
)

HEADER: tuple[str, ...] = tuple(c.source for c in COLUMNS)

