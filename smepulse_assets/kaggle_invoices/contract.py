"""The Kaggle invoices source, as declared in ``smepulse_assets/sources/kaggle_invoices.yaml``.

The YAML is the contract (columns, types, quirks, rules); this module names
what the generator and the replay need from it.
"""

from smepulse_assets.ingestion.spec import shipped_source

SPEC = shipped_source("kaggle_invoices")
SOURCE_NAME = SPEC.name
HEADER = SPEC.base_header  # the Kaggle file's own columns
EXTRAS = tuple(c.source for c in SPEC.columns if c.optional)  # what other ledgers may add after them
