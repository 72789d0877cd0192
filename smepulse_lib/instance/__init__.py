"""Dagster instance plug-ins named in dagster.yaml: the batched event log and the run launcher."""
