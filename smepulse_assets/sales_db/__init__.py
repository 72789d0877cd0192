"""The business's own sales database (PostgreSQL) as a source: its tables extracted by
``updated_at`` into bronze, one partition per business day (seed 001's extraction path)."""
