"""Data quality guardrails: the rules file, the checks built from it, freshness, alerts, run summaries."""
