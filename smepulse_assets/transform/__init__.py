"""The dbt project as Dagster assets: project and manifest, translator, CLI resource, builds, metadata, seed sensor."""
