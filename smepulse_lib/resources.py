"""Dagster resources: where the landing zone, lake and warehouse are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from smepulse_lib import storage
from smepulse_lib.settings import Settings


class PlatformPaths(dg.ConfigurableResource):
    """Locations of the landing zone, the lake and the warehouse (local paths or s3:// URLs)."""

    landing_url: str
    lake_url: str
    warehouse_path: str
    serving_path: str
    # the reference data bronze checks rows against, as dbt will see it (Settings.reference_env)
    reference_env: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformPaths:
        return cls(
            landing_url=settings.landing_url,
            lake_url=settings.lake_url,
            warehouse_path=settings.warehouse_path,
            serving_path=settings.serving_path,
            reference_env=settings.reference_env(),
        )

    def landing(self, *parts: str) -> str:
        return storage.join(self.landing_url, *parts)

    def lake(self, *parts: str) -> str:
        return storage.join(self.lake_url, *parts)


class WarehouseResource(DuckDBResource):
    """The warehouse connection, closed however the body ends.

    dagster-duckdb's ``get_connection`` closes the connection only when the body succeeds; a
    step that raises would keep it open, and with it the warehouse file's lock, so the next
    dbt step of an in-process run could not open the warehouse."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as connection:
            try:
                yield connection
            finally:
                connection.close()  # closing twice (here, then on success by the parent) is harmless
