"""An AR export mapping: which column of a business's own export (or which constant) gives each
field of the receivables ledger contract, and how the export writes dates and amounts.

The contract is the receivables source (``sources/kaggle_invoices.yaml``, whose bronze columns
every AR model reads); the Kaggle file is one export that needs no mapping. ``FIELDS`` says what
each field becomes there. A mapping is one YAML file, for example::

    name: acme_erp
    delimiter: ";"
    number_format: {decimal: ",", thousands: "."}
    fields:
      invoice: {column: Rechnung}
      customer: {column: Kunde}
      company: {constant: ACME}
      currency: {column: Waehrung, default: EUR}
      posting_date: {column: Belegdatum, format: "%d.%m.%Y"}
      due_date: {column: Faellig, format: "%d.%m.%Y"}
      amount: {column: Betrag}
      clear_date: {column: Bezahlt, format: "%d.%m.%Y"}
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from smepulse_assets.ingestion.spec import NumberFormat, number_format_from
from smepulse_assets.quality.rules import RulesError, mapping, required


@dataclass(frozen=True)
class Field:
    """A field of the ledger contract: its kind and whether an export must give it."""

    kind: str  # id, text, currency, date, amount, flag
    required: bool
    meaning: str


# The receivables ledger contract. One row of an export is one invoice in its current state:
# paid (a clear date) or open.
FIELDS = {
    "invoice": Field("id", True, "invoice or document number; a whole number is kept, other text gets a stable id"),
    "customer": Field("text", True, "customer account number"),
    "customer_name": Field("text", False, "customer name"),
    "company": Field("text", True, "the company (ledger) the invoice belongs to"),
    "currency": Field("currency", True, "3-letter currency code of the amount"),
    "posting_date": Field("date", True, "date the invoice was posted"),
    "due_date": Field("date", True, "date payment is due"),
    "baseline_date": Field("date", False, "date the payment terms count from (default: posting_date)"),
    "amount": Field("amount", True, "invoice amount in its currency"),
    "clear_date": Field("date", False, "date the invoice was paid (cleared); empty while open"),
    "terms": Field("text", False, "payment terms code"),
    "document_type": Field("text", False, "document type (default RV, an invoice)"),
    "area": Field("text", False, "business area"),
    # extras: carried to the invoice history, the facts and the ML features where a ledger has them
    "disputed": Field("flag", False, "the customer disputes the invoice (yes/no, true/false, 1/0, y/n, x or empty)"),
    "paperless": Field("flag", False, "the invoice was sent electronically (yes/no as for disputed)"),
    "channel": Field("text", False, "sales channel of the invoice"),
    "sales_rep": Field("text", False, "the sales representative responsible"),
}
DEFAULTS = {"document_type": "RV"}
INVOICE_IDS = ("kept", "per_ledger")  # what a field not mapped is written as


@dataclass(frozen=True)
class FieldSource:
    column: str | None  # the export's header, or None for a constant
    constant: str | None = None
    default: str | None = None  # written where the column is empty
    format: str = "%Y-%m-%d"  # dates: strptime format of the export


@dataclass(frozen=True)
class ArMapping:
    name: str
    path: Path
    fields: dict[str, FieldSource]
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    number_format: NumberFormat = field(default_factory=NumberFormat)
    # "kept": whole invoice numbers stay the ids; "per_ledger": every id comes from the mapping's
    # name and the invoice number, for ledgers whose numbers collide with another's
    invoice_ids: str = "kept"

    @property
    def columns(self) -> dict[str, str]:
        """The export's columns the mapping reads, each with the field it gives."""
        return {s.column: f for f, s in self.fields.items() if s.column is not None}


def load_mapping(path: str | Path) -> ArMapping:
    path = Path(path)
    where = str(path)
    try:
        body = mapping(yaml.safe_load(path.read_text(encoding="utf-8")), where, "a mapping")
    except (OSError, yaml.YAMLError) as err:
        raise RulesError(f"{path}: cannot read the mapping: {err}") from err
    keys = {"name", "description", "delimiter", "encoding", "number_format", "invoice_ids", "fields"}
    unknown = sorted(set(body) - keys)
    if unknown:
        raise RulesError(f"{where}: unknown keys {unknown} ({', '.join(sorted(keys))})")
    fields_body = mapping(required(body, "fields", where), f"{where}: fields", "a mapping of field: source")
    not_fields = sorted(set(fields_body) - set(FIELDS))
    if not_fields:
        raise RulesError(f"{where}: {not_fields} are not fields of the ledger contract; the fields are {list(FIELDS)}")
    fields = {name: _source(fields_body[name], f"{where}: fields.{name}") for name in fields_body}
    missing = [name for name, spec in FIELDS.items() if spec.required and name not in fields]
    if missing:
        raise RulesError(f"{where}: the required fields {missing} have no column or constant")
    name = str(required(body, "name", where))
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):  # it names the drop files
        raise RulesError(f"{where}: name {name!r} may hold only letters, digits, _ and -")
    delimiter = str(body.get("delimiter", ","))
    if len(delimiter) != 1:
        raise RulesError(f"{where}: delimiter {delimiter!r} is not one character")
    invoice_ids = str(body.get("invoice_ids", "kept"))
    if invoice_ids not in INVOICE_IDS:
        raise RulesError(f"{where}: invoice_ids {invoice_ids!r} is not one of {INVOICE_IDS}")
    return ArMapping(
        name=name,
        path=path,
        fields=fields,
        delimiter=delimiter,
        encoding=str(body.get("encoding", "utf-8-sig")),
        number_format=number_format_from(body.get("number_format") or {}, f"{where}: number_format"),
        invoice_ids=invoice_ids,
    )


def _source(body, where: str) -> FieldSource:
    if isinstance(body, str):  # the short form: the column's name
        return FieldSource(column=body)
    body = mapping(body, where, "a column name or a mapping with column or constant")
    unknown = sorted(set(body) - {"column", "constant", "default", "format"})
    if unknown:
        raise RulesError(f"{where}: unknown keys {unknown} (column, constant, default, format)")
    if ("column" in body) == ("constant" in body):
        raise RulesError(f"{where}: give exactly one of column and constant")
    fmt = str(body.get("format", FieldSource.format))
    if "%" not in fmt:
        raise RulesError(f"{where}: format {fmt!r} is not a strptime format such as %d.%m.%Y")
    return FieldSource(
        column=_text(body.get("column")),
        constant=_text(body.get("constant")),
        default=_text(body.get("default")),
        format=fmt,
    )


def _text(value) -> str | None:
    return None if value is None else str(value)
