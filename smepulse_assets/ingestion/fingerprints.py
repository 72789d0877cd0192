"""How the drop sensor knows a delivered file changed: by its content, read as rarely as possible.

A local file's fingerprint is its size and modification time plus a digest of its content; on S3
the ETag already changes with the content and is used alone. The digest is computed when a file is
first seen or its size or modification time changed, and otherwise only when its inode or change
time moved while size and modification time stayed: a corrected file copied with ``cp -p`` or
``rsync -t`` keeps the old timestamps (and often the size), and only its content tells. The inode
and change time are kept beside the fingerprints (the cursor's ``markers``), not in them, so a
``chmod`` or a copy of identical bytes starts no run.
"""

import hashlib
from dataclasses import dataclass, field

from smepulse_assets.ingestion.landing import Entry
from smepulse_lib import storage

READ_CHUNK = 8 * 2**20


@dataclass
class Fingerprints:
    files: dict[str, str] = field(default_factory=dict)  # relative path -> fingerprint, compared by the sensor
    markers: dict[str, str] = field(default_factory=dict)  # relative path -> inode:change time (local files)
    bytes_read: int = 0  # content read to decide, this tick


def fingerprints(entries: list[Entry], seen: dict[str, str], seen_markers: dict[str, str]) -> Fingerprints:
    """The entries' fingerprints, given those of the last tick (``seen``, ``seen_markers``)."""
    result = Fingerprints()
    for entry in entries:
        quick, marker = storage.file_fingerprint(entry.info), _marker(entry.info)
        previous = seen.get(entry.relative)
        if marker is None or entry.skip:  # an object store's ETag, or a file that is not loaded
            result.files[entry.relative] = quick
            continue
        result.markers[entry.relative] = marker
        unmoved = seen_markers.get(entry.relative) in (None, marker)  # None: a cursor from before markers
        if previous is not None and previous.split("|")[0] == quick and unmoved:
            result.files[entry.relative] = previous
            continue
        # new, rewritten, or moved with its timestamps kept: the content decides (the same bytes give
        # the same fingerprint as before, so nothing is requested for them)
        result.files[entry.relative] = f"{quick}|{_digest(entry.url, result)}"
    return result


def _marker(info: dict) -> str | None:
    return f"{info['ino']}:{info['ctime_ns']}" if "ino" in info else None


def _digest(url: str, result: Fingerprints) -> str:
    """The content's digest, or ``unreadable``: the file still starts a run, whose bronze refuses
    it naming the file and the error (the sensor itself must not stop on one file)."""
    fs, path = storage.filesystem(url)
    digest = hashlib.blake2b(digest_size=8)
    try:
        with fs.open(path, "rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                digest.update(chunk)
                result.bytes_read += len(chunk)
    except OSError:
        return "unreadable"
    return digest.hexdigest()
