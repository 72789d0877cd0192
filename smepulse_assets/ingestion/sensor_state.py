"""Where the drop sensor keeps what it has seen: a fingerprint of every delivered file.

Dagster stores a sensor's cursor with every tick, skipped ones too (a tick every few seconds,
kept for days). A cursor holding a fingerprint per file (642 kB for the 4,160 files of 520 days
of eight sources) stored that with every tick: ~3.7 GB a day at a tick every 15 s. The fingerprints are kept
instead in the instance's key-value store, one row rewritten only when a delivery changes, and
the cursor is their digest. A cursor that is not the stored fingerprints' digest (set or reset
in the UI, or a tick whose result was never committed) counts as no cursor: the sensor starts
again from what bronze has materialized (sensor.starting_cursor), so nothing is skipped.

The process evaluating the sensor remembers the last fingerprints it saved with their digest: a
tick whose cursor is that digest (every tick while nothing lands) reads nothing from the instance.

The key-value store is Dagster's storage API for its own daemons' cursors, not a public one
(smepulse_lib.private_api): on a Dagster version it was not tested with, the fingerprints go in
the cursor itself, as they did before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import dagster as dg

from smepulse_lib.names import DROP_SENSOR
from smepulse_lib.private_api import is_tested

KEY = f"smepulse/{DROP_SENSOR}/fingerprints"
PREFIX = "fingerprints:"


def _in_key_value_store() -> bool:
    return is_tested("dagster", "the drop sensor's fingerprints in the instance's key-value store")


def _stored(instance: dg.DagsterInstance) -> dict | None:
    value = instance.run_storage.get_cursor_values({KEY}).get(KEY)
    return json.loads(value) if value else None


# the last fingerprints this process saved or read, with their digest: (digest, state)
_remembered: tuple[str, dict] | None = None


def load_state(instance: Callable[[], dg.DagsterInstance], cursor: str | None) -> dict | None:
    """The fingerprints ``cursor`` stands for (source name -> files, reported, markers), None when
    there are none to trust. ``instance``: opens the instance, only when they are not remembered."""
    if not cursor:
        return None
    if cursor.startswith("{"):  # the fingerprints themselves (an older cursor, or the fallback)
        return json.loads(cursor)
    if not _in_key_value_store():
        return None
    if _remembered is not None and _remembered[0] == cursor:
        return _remembered[1]
    stored = _stored(instance())
    if not stored or stored["digest"] != cursor:
        return None
    _remember(cursor, stored["state"])
    return stored["state"]


def save_state(instance: Callable[[], dg.DagsterInstance], state: dict, cursor: str | None) -> str:
    """Keeps ``state`` and returns the cursor that stands for it; writes only when it changed.
    The sensor does not change a state it loaded or saved: it builds a new one each tick."""
    text = json.dumps(state, sort_keys=True)
    if not _in_key_value_store():
        return text
    digest = PREFIX + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()
    if digest != cursor:
        instance().run_storage.set_cursor_values({KEY: json.dumps({"digest": digest, "state": state})})
    _remember(digest, state)
    return digest


def _remember(digest: str, state: dict) -> None:
    global _remembered
    _remembered = (digest, state)
