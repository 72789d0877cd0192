"""The one gate in front of every use of a library's private API.

Four places reach past a library's public surface: the batched event log
(smepulse_lib/instance/event_log.py), the dbt CLI resource (smepulse_assets/transform/cli_resource.py)
and the hook that ends a run's MLflow run (ml_assets/run_hooks.py), for speed, and the drop
sensor's fingerprints in the instance's key-value store (smepulse_assets/ingestion/sensor_state.py),
for the size of every stored tick. Each asks here whether the
installed library is a version it was tested with; on any other it takes the library's public
path instead and logs why, so an upgrade is slower at worst, never broken.
tests/test_private_api.py fails when a pinned version changes, so whoever upgrades re-runs the
tests that cover each use and adds the new version here.
"""

from __future__ import annotations

import importlib.metadata
import logging

logger = logging.getLogger("smepulse")

# package -> versions the private uses of it were tested with
TESTED_VERSIONS = {
    "dagster": ("1.13.27",),
    "dagster-dbt": ("0.29.27",),
}


def installed_version(package: str) -> str:
    return importlib.metadata.version(package)


def is_tested(package: str, use: str) -> bool:
    """Whether the installed ``package`` is one ``use`` (what reaches into it) was tested with;
    when not, a warning names the public path taken instead."""
    installed, tested = installed_version(package), TESTED_VERSIONS[package]
    if installed in tested:
        return True
    logger.warning(
        "SME Pulse: %s %s is not a version %s was tested with (%s); using %s's public API instead.",
        package,
        installed,
        use,
        ", ".join(tested),
        package,
    )
    return False
