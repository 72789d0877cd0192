"""What lies in a source's landing folder: the files it loads, and every other entry with the rule
that skips it.

A source loads the files matching its landing pattern (``{day}/*.csv``), names compared without
regard to case (``INVOICES.CSV`` loads). Everything else under a day's folder is *skipped*, never
ignored without a word: bronze writes the skipped files and their rules into the day's load record
and fails its ``files_accounted_for`` WARN check, which opens an alert; the drop sensor watches
skipped files too, so dropping one starts the run that reports it.
"""

import os
import stat
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase

from smepulse_assets.ingestion.spec import SourceSpec
from smepulse_lib import storage

SKIP_RULES = {
    "hidden_file": "a hidden file (its name starts with '.')",
    "in_subfolder": "in a sub-folder of the day's folder; only files directly in it are loaded",
    "name_not_matching": "its name does not match the source's pattern",
    "dangling_symlink": "a symbolic link to nothing",
    "symlink_leaves_landing": "a symbolic link to a file outside the landing zone",
    "not_a_regular_file": "not a regular file (a named pipe, socket or device, which reading would block on)",
}


@dataclass(frozen=True)
class Entry:
    relative: str  # path under <landing>/<source>/, the day's folder first
    url: str
    info: dict  # the listing's size and modification time or ETag, for fingerprints
    skip: str | None = None  # None when the source loads it, else a rule of SKIP_RULES

    @property
    def folder(self) -> str:
        return self.relative.split("/", 1)[0]

    def describe(self) -> str:
        return f"{self.relative}: {SKIP_RULES[self.skip]}" if self.skip else self.relative


def source_entries(spec: SourceSpec, landing_url: str, day: date | None = None) -> list[Entry]:
    """Every file under the source's folder (or under one day's folder), classified, in path order."""
    base = storage.join(landing_url, spec.name)
    top = storage.join(base, f"{day:%Y-%m-%d}") if day else base
    fs, root = storage.filesystem(base)
    listed = _local_listing(root, top) if storage.is_local(base) else _object_listing(fs, root, top)
    entries = []
    for relative, url, info, link_rule in listed:
        entries.append(Entry(relative, url, info, link_rule or _name_rule(spec, relative)))
    return sorted(entries, key=lambda e: e.relative)


def loaded_and_skipped(entries: list[Entry]) -> tuple[list[str], list[Entry]]:
    return [e.url for e in entries if e.skip is None], [e for e in entries if e.skip]


def _name_rule(spec: SourceSpec, relative: str) -> str | None:
    """None when the path matches the landing pattern, part by part (``*`` never crosses a folder)."""
    parts, pattern = relative.lower().split("/"), spec.landing.format(day="*").lower().split("/")
    if any(part.startswith(".") for part in parts):
        return "hidden_file"
    if len(parts) == len(pattern) and all(fnmatchcase(p, q) for p, q in zip(parts, pattern, strict=True)):
        return None
    return "in_subfolder" if len(parts) > len(pattern) else "name_not_matching"


def _local_listing(root: str, top: str):
    """Files under ``top``, symbolic links judged without following them out of the landing zone."""
    landing = os.path.realpath(os.path.dirname(root.rstrip("/")))
    for folder, subfolders, names in os.walk(top):
        linked = [d for d in subfolders if os.path.islink(os.path.join(folder, d))]
        for name in sorted(names) + linked:  # a linked folder is not walked: it is judged as a link
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            yield relative, path, _local_info(path), _link_rule(path, landing) or _kind_rule(path)


def _local_info(path: str) -> dict:
    """Size and modification time, and the inode and change time (which no copy keeps: a file
    copied with its old timestamps still moves them), for the drop sensor's fingerprints."""
    try:
        status = os.stat(path)
    except OSError:  # a dangling link: the link itself
        status = os.lstat(path)
    return {"size": status.st_size, "mtime": status.st_mtime, "ino": status.st_ino, "ctime_ns": status.st_ctime_ns}


def _link_rule(path: str, landing: str) -> str | None:
    if not os.path.islink(path):
        return None
    target = os.path.realpath(path)
    if not os.path.exists(target):
        return "dangling_symlink"
    if os.path.commonpath([target, landing]) != landing:
        return "symlink_leaves_landing"
    return "in_subfolder" if os.path.isdir(target) else None


def _kind_rule(path: str) -> str | None:
    try:
        return None if stat.S_ISREG(os.stat(path).st_mode) else "not_a_regular_file"
    except OSError:  # vanished since it was listed: reading it will say so
        return None


def _object_listing(fs, root: str, top: str):
    if not fs.exists(top):
        return
    for path, info in fs.find(top, detail=True).items():
        yield path[len(root) :].lstrip("/"), storage.as_url(fs, path), info, None
