"""What a new delivery of a day means, per source (``delivery`` in its YAML).

- ``replace`` (the default, for daily drops): the files in a day's folder are the full state of
  that day's postings and updates. A changed, added or removed file is a new delivery of the day
  that replaces the earlier one: bronze rewrites the day's partition, and the models built on it
  withdraw what the earlier delivery carried and this one does not (dbt macros/redelivery.sql).
- ``append``: a delivered file is never rewritten or taken back; a later delivery for the same
  day is a new file beside it. A run that finds a loaded file changed or gone refuses the day,
  naming the file, instead of withdrawing rows the source promised to keep.

Each load record keeps a digest of every file it loaded, so a rerun can tell.
"""

import hashlib
from datetime import date

import dagster as dg

from smepulse_assets.ingestion.spec import DELIVERY_KINDS, SourceSpec
from smepulse_lib import storage

REPLACE, APPEND = DELIVERY_KINDS


def content_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def loaded_before(record_url: str) -> dict[str, str]:
    """{file: digest} of a day's last load (files of a record from before digests: none)."""
    fs, path = storage.filesystem(record_url)
    if not fs.exists(path):
        return {}
    record = storage.read_parquet(record_url)
    if "digests" not in record.column_names:
        return {}
    files, digests = record.column("files")[0].as_py(), record.column("digests")[0].as_py() or []
    return dict(zip(files, digests, strict=False))


def refuse_rewritten(spec: SourceSpec, earlier: dict[date, dict[str, str]], current: dict[date, list[str]]) -> None:
    """For an append-only source: every file an earlier load of a window day read is still there
    with the same content, or dg.Failure names the first that is not (before anything is written)."""
    for day in sorted(earlier):
        for url, digest in sorted(earlier[day].items()):
            if url not in current.get(day, []):
                _refuse(spec, url, "was loaded before and is gone")
            elif content_digest(storage.read_bytes(url)) != digest:
                _refuse(spec, url, "was loaded before and its content has changed since")


def _refuse(spec: SourceSpec, url: str, what: str) -> None:
    raise dg.Failure(
        description=f"{spec.name} is append-only (delivery: append): {url} {what}. An append-only source "
        "adds files and never rewrites or removes one; put the file back as it was and deliver the "
        "change as a new file, or declare the source `delivery: replace`. Nothing of the window was written.",
        metadata={"file": url, "problem": what},
        allow_retries=False,
    )
