"""Shared fixtures: a platform on a temporary data directory, real DuckDB, real dbt, real Dagster."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from dagster._core.loader import LoadingContextForTest
from dagster._daemon.freshness import FreshnessDaemon

from smepulse_assets.definitions import build_defs
from smepulse_assets.tools.generator import GeneratorConfig
from smepulse_lib.instance.event_log import ephemeral_instance
from smepulse_lib.settings import Settings


class Platform:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.defs = build_defs(settings)
        self.instance = ephemeral_instance()  # the batched event log the benchmark and the UI use


def make_settings(tmp_path, **overrides) -> Settings:
    env = {"SMEPULSE_DATA_DIR": str(tmp_path / "data"), "SMEPULSE_PARTITIONS_START": "2019-01-01", **overrides}
    settings = Settings.from_env(env)
    settings.ensure_local_dirs()
    return settings


@pytest.fixture
def platform(tmp_path) -> Platform:
    return Platform(make_settings(tmp_path))


@pytest.fixture
def small_world() -> GeneratorConfig:
    return GeneratorConfig(start=date(2020, 1, 1), end=date(2020, 2, 29), customers=40, invoices_per_day=60, seed=11)


def evaluate_freshness(platform: Platform) -> None:
    """One iteration of Dagster's freshness daemon over the platform's assets, in process: each
    asset's policy judged and a change of its state recorded, as the UI's daemon does every 30 s
    (tests/test_operations.py reads the states the real daemon records)."""
    daemon = FreshnessDaemon()
    context = LoadingContextForTest(platform.instance)
    nodes = platform.defs.resolve_asset_graph().asset_nodes

    async def every_asset():
        return await asyncio.gather(*(daemon._evaluate_asset(context, node) for node in nodes))

    asyncio.run(every_asset())
