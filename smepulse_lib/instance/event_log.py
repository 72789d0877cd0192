"""The event log storage the platform configures, behind a guard on the Dagster version.

The batched storages (``event_log_batching``) subclass Dagster's SQLite and in-memory event logs
and override private methods: they are tested with the Dagster versions below and with no other.
On any other version the platform uses Dagster's own storage and logs a warning: a range run's
events are then written one by one (slower), but an upgrade can never stop the webserver, the
daemon or a run because a private method moved. PostgreSQL deployments use dagster-postgres's
stock storage (deploy/dagster.postgres.yaml) and are not affected by this module.
"""

from __future__ import annotations

import logging
import os

import dagster as dg
from dagster._core.storage.event_log import SqliteEventLogStorage

from smepulse_lib.private_api import is_tested

# The batched storages are tested (tests/test_event_log.py compares them with Dagster's own storage
# event by event) on the Dagster versions smepulse_lib.private_api lists.
logger = logging.getLogger(__name__)


def batching_available() -> bool:
    """Whether this Dagster is one the batched storages were tested with, and they import."""
    if not is_tested("dagster", "the batched event log (range runs then write their events one by one)"):
        return False
    try:
        from smepulse_lib.instance import event_log_batching  # noqa: F401  (its private imports are part of the test)
    except ImportError as err:
        logger.warning("SME Pulse: the batched event log does not import (%s); using Dagster's own storage.", err)
        return False
    return True


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """The class dagster.yaml names: the batched SQLite event log on a tested Dagster, else Dagster's
    SQLite event log on the same files (DAGSTER_HOME/history/runs), so either reads the other's
    history. Never instantiated itself: ``from_config_value`` returns one of the two (Dagster wants
    the class it loads from dagster.yaml to be an event log storage)."""

    @classmethod
    def config_type(cls):
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        base_dir = config_value.get("base_dir")
        if not base_dir:
            if "DAGSTER_HOME" not in os.environ:
                raise ValueError(
                    "BatchedSqliteEventLogStorage: set its base_dir, or DAGSTER_HOME (its files go under history/runs)"
                )
            base_dir = os.path.join(os.environ["DAGSTER_HOME"], "history", "runs", "")
        if not batching_available():
            return SqliteEventLogStorage(base_dir, inst_data=inst_data)
        from smepulse_lib.instance.event_log_batching import BatchedSqliteEventLogStorage as Batched

        return Batched(base_dir, inst_data=inst_data)


def ephemeral_instance() -> dg.DagsterInstance:
    """An in-memory instance (tests, the benchmark) with the batched event log on a tested Dagster."""
    if not batching_available():
        return dg.DagsterInstance.ephemeral()
    from smepulse_lib.instance.event_log_batching import ephemeral_instance as batched_ephemeral_instance

    return batched_ephemeral_instance()
