"""Waiting for the warehouse when another process holds it.

Runs the daemon launches queue for the ``warehouse`` pool, so two of them never write the DuckDB
file at once. A run started outside the queue (cron, a second ``dagster job execute``, a notebook
left open) finds the file locked: DuckDB allows one writing process. Rather than fail at the
first try, the dbt step waits for the lock, up to ``SMEPULSE_WAREHOUSE_WAIT_SECONDS``, saying what
it waits for; past that it fails naming the holder and what the run leaves behind.
"""

import os
import re
import time

import dagster as dg
import duckdb

POLL_SECONDS = 2.0


def wait_for_warehouse(path: str, timeout: float, log, leaves_behind: str) -> None:
    """Return once ``path`` can be opened for writing; ``dg.Failure`` after ``timeout`` seconds.
    ``leaves_behind`` says what of the run is written already (bronze, before the dbt step)."""
    started = time.monotonic()
    holder = _holder(path)
    if holder is None:
        return
    log.warning(f"The warehouse {path} is held by {holder}; waiting up to {timeout:.0f} s for it")
    while holder is not None:
        waited = time.monotonic() - started
        if waited >= timeout:
            raise dg.Failure(
                description=f"The warehouse {path} was held by {holder} for {waited:.0f} s "
                f"(SMEPULSE_WAREHOUSE_WAIT_SECONDS={timeout:.0f}); {leaves_behind}. Run them again once "
                "it ends: runs launched by the daemon queue for the warehouse instead of colliding.",
                metadata={"holder": holder, "waited_seconds": round(waited, 1)},
            )
        time.sleep(min(POLL_SECONDS, timeout - waited))
        holder = _holder(path)
    log.info(f"The warehouse was freed after {time.monotonic() - started:.0f} s")


def _holder(path: str) -> str | None:
    """Who holds the warehouse's lock (DuckDB's words: program and PID), or None when it is free."""
    if not os.path.exists(path):  # the first build creates it
        return None
    try:
        duckdb.connect(path).close()
    except duckdb.IOException as err:
        found = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", f"{err}")
        if found is None:
            raise  # not a lock: a full disk, a damaged file; dbt would fail on it the same way
        return f"{found.group(1)} (PID {found.group(2)})"
    return None
