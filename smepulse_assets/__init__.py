"""SME Pulse: accounts-receivable and cash-flow assets on Dagster, dbt and DuckDB."""
