"""The shared library: settings, storage, the warehouse, names, day windows, the Dagster
instance plug-ins. Imports no domain package."""
