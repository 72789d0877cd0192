"""A source declared as metadata: one YAML file says everything bronze needs.

``smepulse_assets/sources/<name>.yaml`` (and any YAML in ``SMEPULSE_SOURCES_DIR``)
gives the landing pattern, the file format, the columns and their types, the
keys and the data quality rules. ``bronze.build_bronze_assets`` turns each into
a partitioned bronze asset with its quarantine, checks and drop sensor; adding
a source is adding a YAML file (and a dbt staging model), not writing an asset.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import yaml

from smepulse_assets.quality.rules import RulesError, SourceRules, mapping, required, source_rules

SOURCES_DIR = Path(__file__).resolve().parents[1] / "sources"

# Column types a source can declare, and how bronze stores them.
TYPES = {
    "text": pa.string(),
    "currency": pa.string(),
    "integer": pa.int64(),
    "amount": pa.float64(),
    "flag": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "yyyymmdd": pa.date32(),
}
FORMATS = {"csv"}

# Columns a row rule reads beside the source's own: the day the row's file was delivered (its
# landing folder's day), for rules such as "posted no later than delivered".
RULE_COLUMNS = [("_delivered_on", pa.date32())]

# Lineage columns every bronze row carries, after the source's own.
LINEAGE = [
    ("_source_file", pa.string()),
    ("_source_line", pa.int64()),
    ("_ingested_at", pa.timestamp("us", tz="UTC")),
]

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("_source_file", pa.string()),
        ("_source_line", pa.int64()),
        ("rule", pa.string()),
        ("reason", pa.string()),
        ("raw_record", pa.string()),
        ("_ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class Column:
    source: str  # header in the file
    name: str  # column in bronze
    kind: str  # one of TYPES
    required: bool  # empty (or only spaces) is a contract violation
    minimum: int | float | date | None = None  # declared range; dates default to the supported calendar
    maximum: int | float | date | None = None
    decimals: int | None = None  # amounts: most digits after the decimal separator (VND: 0)
    # A file may leave an optional column out of its header (its values are then empty): columns
    # a source gained later, or that only some senders carry, without refusing the files before
    optional: bool = False


@dataclass(frozen=True)
class NumberFormat:
    """How a source writes amounts (its locale): the decimal separator, the thousands separator if
    it groups digits, and currency symbols to strip. A value that reads differently under another
    convention than the declared one (``572.000`` where amounts are whole) is refused, not guessed."""

    decimal: str = "."
    thousands: str | None = None
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceSpec:
    name: str
    description: str
    landing: str  # glob under <landing>/<name>/, with {day} for the business day
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    rules: SourceRules
    path: Path
    number_format: NumberFormat = NumberFormat()
    # Rows of one delivery sharing this key are copies of one record: identical ones stay (silver
    # keeps one), different ones are a conflict (quarantined, or settled by on_conflict)
    delivery_key: tuple[str, ...] = ()
    on_conflict: str = "quarantine"  # or "last_line_wins": the delivery's last line of the key loads
    # Longest field a row may carry, in bytes of UTF-8: a longer one quarantines its row (rule
    # field_too_long) whichever CSV reader read the file
    max_field_bytes: int = 16 * 2**20
    delivery: str = "replace"  # or "append": what a new delivery of a day means (delivery.py)

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(c.source for c in self.columns)

    @property
    def base_header(self) -> tuple[str, ...]:
        """The header of a file that carries none of the optional columns."""
        return tuple(c.source for c in self.columns if not c.optional)

    @property
    def typed_schema(self) -> pa.Schema:
        return pa.schema([(c.name, TYPES[c.kind]) for c in self.columns])

    @property
    def rule_schema(self) -> pa.Schema:
        """What a row rule reads: the typed columns and the file's delivery day."""
        return pa.schema(list(self.typed_schema) + [pa.field(n, t) for n, t in RULE_COLUMNS])

    @property
    def bronze_schema(self) -> pa.Schema:
        return pa.schema(list(self.typed_schema) + [pa.field(n, t) for n, t in LINEAGE])

    @property
    def raw_table(self) -> str:
        return f"{self.name}_raw"

    @property
    def quarantine_table(self) -> str:
        return f"{self.name}_quarantine"

    @property
    def raw_key(self) -> dg.AssetKey:
        return dg.AssetKey(["bronze", self.raw_table])

    @property
    def quarantine_key(self) -> dg.AssetKey:
        return dg.AssetKey(["bronze", self.quarantine_table])


def load_source_spec(path: Path) -> SourceSpec:
    where = f"{path}"
    try:
        body = mapping(yaml.safe_load(path.read_text()), where, "a mapping")
    except (OSError, yaml.YAMLError, ValueError) as err:  # ValueError: YAML's own dates (2020-13-01)
        raise RulesError(f"{path}: cannot read the source file: {err}") from err
    name = str(required(body, "name", where))
    if body.get("format", "csv") not in FORMATS:
        raise RulesError(f"{where}: format {body['format']!r} is not one of {sorted(FORMATS)}")
    columns = tuple(_column(c, f"{where}: columns[{i}]") for i, c in enumerate(required(body, "columns", where)))
    names = [c.name for c in columns]
    keys = tuple(body.get("keys") or ())
    unknown = [k for k in keys if k not in names]
    if unknown or len(set(names)) != len(names):
        raise RulesError(f"{where}: keys {unknown} are not columns" if unknown else f"{where}: column names repeat")
    landing = str(body.get("landing", "{day}/*.csv"))
    if not landing.startswith("{day}/"):
        raise RulesError(f"{where}: landing {landing!r} must start with {{day}}/ (one folder per business day)")
    quality = mapping(body.get("quality") or {"min_pass_rate": 1.0}, f"{where}: quality", "a mapping")
    rules = source_rules(name, dg.AssetKey(["bronze", f"{name}_raw"]), quality, f"{where}: quality")
    number_format = number_format_from(body.get("number_format") or {}, f"{where}: number_format")
    description = str(body.get("description", name)).strip()
    delivery_key = tuple(body.get("delivery_key") or keys)
    if [k for k in delivery_key if k not in names]:
        raise RulesError(f"{where}: delivery_key {list(delivery_key)} names columns the source does not have")
    optional_keys = sorted({c.name for c in columns if c.optional} & {*keys, *delivery_key})
    if optional_keys:
        raise RulesError(f"{where}: key columns {optional_keys} cannot be optional (every file must carry them)")
    on_conflict = str(body.get("on_conflict", "quarantine"))
    if on_conflict not in ON_CONFLICT:
        raise RulesError(f"{where}: on_conflict {on_conflict!r} is not one of {sorted(ON_CONFLICT)}")
    max_field_bytes = body.get("max_field_bytes", SourceSpec.max_field_bytes)
    if type(max_field_bytes) is not int or max_field_bytes < 1:
        raise RulesError(f"{where}: max_field_bytes {max_field_bytes!r} is not a positive whole number of bytes")
    delivery = str(body.get("delivery", SourceSpec.delivery))
    if delivery not in DELIVERY_KINDS:
        raise RulesError(f"{where}: delivery {delivery!r} is not one of {list(DELIVERY_KINDS)}")
    return SourceSpec(
        name,
        description,
        landing,
        keys,
        columns,
        rules,
        path,
        number_format,
        delivery_key,
        on_conflict,
        max_field_bytes,
        delivery,
    )


ON_CONFLICT = {"quarantine", "last_line_wins"}
DELIVERY_KINDS = ("replace", "append")  # what each means: delivery.py


def _column(body, where: str) -> Column:
    body = mapping(body, where, "a mapping")
    kind = required(body, "type", where)
    if kind not in TYPES:
        raise RulesError(f"{where}: type {kind!r} is not one of {sorted(TYPES)}")
    source = str(required(body, "source", where))
    decimals = body.get("decimals")
    if decimals is not None and (kind != "amount" or not isinstance(decimals, int) or decimals < 0):
        raise RulesError(f"{where}: decimals applies to amounts and is a whole number >= 0")
    is_required, optional = bool(body.get("required", False)), bool(body.get("optional", False))
    if is_required and optional:
        raise RulesError(f"{where}: a column cannot be both required and optional")
    return Column(
        source,
        str(body.get("name", source)),
        kind,
        is_required,
        minimum=_bound(body.get("min"), kind, f"{where}: min"),
        maximum=_bound(body.get("max"), kind, f"{where}: max"),
        decimals=decimals,
        optional=optional,
    )


BOUNDED_KINDS: dict[str, type | tuple[type, ...]] = {
    "integer": int,
    "amount": (int, float),
    "date": date,
    "datetime": date,
    "yyyymmdd": date,
}


def _bound(value, kind: str, where: str):
    if value is None:
        return None
    if kind not in BOUNDED_KINDS:
        raise RulesError(f"{where}: a {kind} column has no range")
    if BOUNDED_KINDS[kind] is date and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise RulesError(f"{where}: {value!r} is not a date YYYY-MM-DD") from None
    if isinstance(value, bool) or not isinstance(value, BOUNDED_KINDS[kind]):
        raise RulesError(f"{where}: {value!r} is not a bound for a {kind} column")
    return value


def number_format_from(body, where: str) -> NumberFormat:
    body = mapping(body, where, "a mapping")
    unknown = sorted(set(body) - {"decimal", "thousands", "symbols"})
    if unknown:
        raise RulesError(f"{where}: unknown keys {unknown} (decimal, thousands, symbols)")
    decimal, thousands = str(body.get("decimal", ".")), body.get("thousands")
    if decimal not in {".", ","} or thousands not in {None, ".", ",", " ", "'"} or decimal == thousands:
        raise RulesError(f"{where}: decimal must be '.' or ',', thousands none or another of . , space '")
    return NumberFormat(decimal, thousands, tuple(str(s) for s in body.get("symbols") or ()))


def load_source_specs(extra_dir: str | None = None) -> list[SourceSpec]:
    """Every source: the shipped ones, then those in ``extra_dir``; names must be unique."""
    folders = [SOURCES_DIR] + ([Path(extra_dir)] if extra_dir else [])
    specs = [load_source_spec(p) for folder in folders for p in sorted(folder.glob("*.yaml"))]
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RulesError(f"sources declared twice: {repeated} (in {[str(f) for f in folders]})")
    return specs


def shipped_source(name: str) -> SourceSpec:
    return load_source_spec(SOURCES_DIR / f"{name}.yaml")
