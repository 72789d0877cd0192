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
    pattern = spec.landing.format(day="*").lower().split("/")
    entries = []
    for relative, url, info, link_rule in listed:
        entries.append(Entry(relative, url, info, link_rule or _name_rule(pattern, relative)))
    return sorted(entries, key=lambda e: e.relative)


def loaded_and_skipped(entries: list[Entry]) -> tuple[list[str], list[Entry]]:
    return [e.url for e in entries if e.skip is None], [e for e in entries if e.skip]


def _name_rule(pattern: list[str], relative: str) -> str | None:
    """None when the path matches the landing pattern (its parts, lower case), part by part (``*``
    never crosses a folder)."""
    parts = relative.lower().split("/")
    if any(part.startswith(".") for part in parts):
        return "hidden_file"
    if len(parts) == len(pattern) and all(fnmatchcase(p, q) for p, q in zip(parts, pattern, strict=True)):
        return None
    return "in_subfolder" if len(parts) > len(pattern) else "name_not_matching"


def _local_listing(root: str, top: str):
    """Files under ``top``, symbolic links judged without following them out of the landing zone.
    One ``scandir`` per folder and one ``stat`` per file: the drop sensor lists every source's
    folder every few seconds (thousands of files after a year), beside the runs on the same cores."""
    landing = os.path.realpath(os.path.dirname(root.rstrip("/")))
    relative_top = os.path.relpath(top, root).replace(os.sep, "/")
    yield from _scan(top, "" if relative_top == "." else f"{relative_top}/", landing)


def _scan(folder: str, relative_folder: str, landing: str):
    try:
        listed = list(os.scandir(folder))
    except FileNotFoundError:  # no folder for the source or the day yet
        return
    for entry in listed:
        relative = relative_folder + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _scan(entry.path, f"{relative}/", landing)
            continue
        # a linked folder is not walked: it is judged as a link
        status = _local_status(entry)
        rule = _link_rule(entry.path, landing) if entry.is_symlink() else None
        yield relative, entry.path, _local_info(status), rule or _kind_rule(status)


def _local_status(entry: os.DirEntry) -> os.stat_result:
    try:
        return entry.stat()
    except OSError:  # a dangling link: the link itself
        return entry.stat(follow_symlinks=False)


def _local_info(status: os.stat_result) -> dict:
    """Size and modification time, and the inode and change time (which no copy keeps: a file
    copied with its old timestamps still moves them), for the drop sensor's fingerprints."""
    return {"size": status.st_size, "mtime": status.st_mtime, "ino": status.st_ino, "ctime_ns": status.st_ctime_ns}


def _link_rule(path: str, landing: str) -> str | None:
    target = os.path.realpath(path)
    if not os.path.exists(target):
        return "dangling_symlink"
    if os.path.commonpath([target, landing]) != landing:
        return "symlink_leaves_landing"
    return "in_subfolder" if os.path.isdir(target) else None


def _kind_rule(status: os.stat_result) -> str | None:
    # a named pipe, socket or device: reading it would block
    return None if stat.S_ISREG(status.st_mode) else "not_a_regular_file"


def _object_listing(fs, root: str, top: str):
    if not fs.exists(top):
        return
    for path, info in fs.find(top, detail=True).items():
        yield path[len(root) :].lstrip("/"), storage.as_url(fs, path), info, None
