"""Loading a run's later libraries while one of its steps waits on another process.

A run the daemon launches is a fresh process: it loads scikit-learn, skops, MLflow and
statsmodels the first time a step needs them, about 8 s of a new day's run at 50k invoices on
a busy machine (skops alone walks scikit-learn's modules to list its trusted types), where an
in-process run had them loaded already. The daily dbt step spends 15 s and more waiting on
dbt's own process, its Python thread idle: loading those libraries in a thread meanwhile takes
them off the run's path (docs/benchmarks.md, "Launched by the daemon").

The thread starts and ends inside the step (the step waits for it before it returns). Python
locks each module while it loads, and a thread importing a package's submodule while another
runs the package's ``__init__`` can be handed a half-loaded module; inside the step the only
other imports are dagster-dbt's and the platform's own, which these libraries never import,
and the steps that use the libraries find them whole.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def loading_in_background(modules: Sequence[str]) -> Iterator[threading.Thread | None]:
    """Import ``modules`` in a thread while the block runs; the block's end waits for it. No
    thread when all are loaded already (an in-process run after the first)."""
    missing = [m for m in modules if m not in sys.modules]
    thread = None
    if missing:
        thread = threading.Thread(target=_import_all, args=(missing,), name="background-imports", daemon=True)
        thread.start()
    try:
        yield thread
    finally:
        if thread is not None:
            thread.join()


def _import_all(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # the step that needs it imports it again and reports the error
            log.debug("background import of %s failed: %s", name, error)
