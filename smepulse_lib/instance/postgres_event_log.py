"""dagster-postgres's event log, holding its connection between events.

Outside the webserver, dagster-postgres opens a new connection for every use of its event log
(SQLAlchemy's NullPool), and every PostgreSQL connection is a new server process: a run storing a
new day's ~1,300 events spent about 10 of its 13 s of storing connecting (measured against a
server on the same machine; docs/benchmarks.md, "PostgreSQL again"). The webserver avoids
that through the storage's public ``optimize_for_webserver``, which gives it a pooled engine; this
class does the same in every process that opens the instance (the daemon, the code server, each
run). It builds dagster-postgres's own storage from the same config and only swaps its engine, so
what is stored, and how, is dagster-postgres's. The webserver still sets its own pool and statement
timeout on top.

The run and schedule storages stay as dagster-postgres ships them. Pooled the same way, the
connections held by an idle `smepulse ui` grew from 17 to 37 in four minutes: the daemon and the
code server open an instance for many of their ticks, and each pool keeps its connection until
the instance is collected. With the event log alone pooled they stayed at 12-14; the cost left is
~17 short sessions a second while idle (measured; a pooler such as PgBouncer in front of the
server absorbs it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_postgres import PostgresEventLogStorage

# One connection kept per process, up to 20 more opened while threads (the daemon's) use it at once
# and closed after, recycled hourly: the webserver's defaults. No statement timeout, since a run's
# or the daemon's statements are not a page waiting to load.
POOL_MAX_OVERFLOW = 20
POOL_RECYCLE_SECONDS = 3600
NO_STATEMENT_TIMEOUT = 0


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    """The class deploy/dagster.postgres.yaml names: dagster-postgres's event log with a pooled engine."""

    # returns dagster-postgres's own class, not this one: this class only names the factory
    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: Any, config_value: Mapping[str, Any]
    ) -> PostgresEventLogStorage:
        storage = PostgresEventLogStorage.from_config_value(inst_data, config_value)
        storage.optimize_for_webserver(NO_STATEMENT_TIMEOUT, POOL_RECYCLE_SECONDS, POOL_MAX_OVERFLOW)
        return storage
