"""Dagster metadata read back as the values written: a stored event's or a check result's values are
MetadataValue objects (``IntMetadataValue(3)``), while metadata built in the same step may still be
plain."""

from collections.abc import Mapping
from typing import Any


def plain_value(value: Any) -> Any:
    """One metadata value as written."""
    return getattr(value, "value", value)


def plain_values(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every value of a metadata mapping as written (None: no metadata)."""
    return {name: plain_value(value) for name, value in (metadata or {}).items()}
