"""Dagster resources: where the landing zone, lake and warehouse are."""

from __future__ import annotations

import dagster as dg

from . import storage
from .settings import Settings


class PlatformPaths(dg.ConfigurableResource):
    """Locations of the landing zone, the lake and the warehouse (local paths or s3:// URLs)."""

    landing_url: str
    lake_url: str
    warehouse_path: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "PlatformPaths":
        return cls(
            landing_url=settings.landing_url,
            lake_url=settings.lake_url,
            warehouse_path=settings.warehouse_path,
        )

    def landing(self, *parts: str) -> str:
        return storage.join(self.landing_url, *parts)

    def lake(self, *parts: str) -> str:
        return storage.join(self.lake_url, *parts)
