"""Keeping dbt's target folder useful and bounded across runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from smepulse_assets.transform.project import DBT_STEPS
from smepulse_lib.settings import DBT_PROJECT_DIR

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# dagster-dbt gives every invocation its own folder under target/ (<step>-<run>-<id>: its
# compiled SQL, manifest and run_results: megabytes each). Two or three a day would fill a disk over
# months; the newest are kept for looking into recent runs.
KEPT_INVOCATION_FOLDERS = 50


def keep_parse_state(invocation_target: Path) -> None:
    """Make this invocation's parse state the one the next invocation starts from.

    dagster-dbt gives each invocation its own target folder and seeds it with the project's
    target/partial_parse.msgpack; dbt discards that state when the profile it was parsed under
    differs (another warehouse path). Copying the fresh state back means only the first
    invocation after such a change parses the whole project (a full parse takes about twice a
    partial one).
    The copy is atomic, so concurrent runs never read half a file."""
    fresh = invocation_target / PARTIAL_PARSE_FILE
    if not fresh.exists():
        return
    kept = DBT_PROJECT_DIR / "target" / PARTIAL_PARSE_FILE
    staging = kept.with_name(f"{PARTIAL_PARSE_FILE}.{os.getpid()}")
    shutil.copyfile(fresh, staging)
    os.replace(staging, kept)


def prune_invocation_folders(target: Path, keep: int = KEPT_INVOCATION_FOLDERS) -> list[Path]:
    """Remove all but the ``keep`` newest invocation folders of the dbt steps; returns the removed."""
    folders = [p for p in target.iterdir() if p.is_dir() and p.name.startswith(tuple(f"{s}-" for s in DBT_STEPS))]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)  # another run may be removing it too
    return folders[keep:]
