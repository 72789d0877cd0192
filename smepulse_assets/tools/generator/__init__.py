"""Deterministic sample data in the formats SME Pulse ingests."""

from __future__ import annotations

from smepulse_assets.tools.generator.invoices import GeneratorConfig, InvoiceSnapshot, generate_invoice_snapshot
from smepulse_assets.tools.generator.sme_world import World, WorldConfig, generate_world, write_world


def generate_invoice_drops(config: GeneratorConfig, landing_url: str) -> tuple[InvoiceSnapshot, list[str]]:
    """Write daily Kaggle-format invoice drops for the config's range; return the snapshot and the files."""
    from smepulse_assets.kaggle_invoices.replay import split_into_drops, write_drops

    snapshot = generate_invoice_snapshot(config)
    drops, _ = split_into_drops(snapshot.rows, snapshot.header)
    return snapshot, write_drops(drops, landing_url, header=snapshot.header)


def world_config(config: GeneratorConfig, orders_per_day: float = 30.0) -> WorldConfig:
    """The SME world over the same days and seed as the invoices."""
    return WorldConfig(start=config.start, end=config.end, seed=config.seed, orders_per_day=orders_per_day)


def generate_sample_data(
    config: GeneratorConfig, landing_url: str, world: WorldConfig | None = None
) -> tuple[InvoiceSnapshot, World, list[str]]:
    """Every source's daily drops: the Kaggle invoices and the SME world's operational sources."""
    snapshot, invoice_files = generate_invoice_drops(config, landing_url)
    sme = generate_world(world or world_config(config))
    return snapshot, sme, invoice_files + write_world(sme, landing_url)


__all__ = [
    "GeneratorConfig",
    "InvoiceSnapshot",
    "World",
    "WorldConfig",
    "generate_invoice_drops",
    "generate_invoice_snapshot",
    "generate_sample_data",
    "generate_world",
    "world_config",
    "write_world",
]
