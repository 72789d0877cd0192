"""The programs the platform starts (dbt, dagster), found beside this interpreter.

A project installed in a virtual environment must work from ``.venv/bin/smepulse`` without
the environment being activated: its ``dbt`` and ``dagster`` are then beside the interpreter
but not on PATH. A program found in neither place is a clear error naming it, not an
``[Errno 2]`` from the process call.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

BIN_DIR = Path(sys.executable).parent


class ProgramNotFound(RuntimeError):
    pass


def beside_interpreter(name: str) -> Path:
    return BIN_DIR / name


def program(name: str, package: str) -> str:
    """The path of ``name``: beside this interpreter first (this project's install), then on PATH."""
    local = beside_interpreter(name)
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise ProgramNotFound(
        f"`{name}` was not found beside {sys.executable} nor on PATH. It comes with the `{package}` "
        f"package, which this project installs: run `make install` (or `{BIN_DIR / 'pip'} install -e .`)."
    )
