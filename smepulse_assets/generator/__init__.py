"""Deterministic sample data in the formats SME Pulse ingests."""

from __future__ import annotations

from .invoices import GeneratorConfig, InvoiceSnapshot, generate_invoice_snapshot


def generate_invoice_drops(config: GeneratorConfig, landing_url: str) -> tuple[InvoiceSnapshot, list[str]]:
    """Write daily Kaggle-format invoice drops for the config's range; return the snapshot and the files."""
    from ..kaggle_invoices.replay import split_into_drops, write_drops

    snapshot = generate_invoice_snapshot(config)
    drops, _ = split_into_drops(snapshot.rows)
    return snapshot, write_drops(drops, landing_url)


__all__ = ["GeneratorConfig", "InvoiceSnapshot", "generate_invoice_snapshot", "generate_invoice_drops"]
