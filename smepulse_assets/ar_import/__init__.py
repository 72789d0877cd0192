"""Bring your own receivables: an AR export of any shape, mapped by one YAML file onto the
ledger contract (``mapping.py``), checked before anything is written (``diagnosis.py``) and landed
as the daily deliveries the receivables source loads (``convert.py``)."""
