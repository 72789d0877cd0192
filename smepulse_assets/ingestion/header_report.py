"""A foreign file's header against the columns expected of it, said before anything is written:
which are missing, which are extra, which look renamed (``business_year -> buisness_year?``)."""

import difflib
from dataclasses import dataclass


class ForeignFileError(ValueError):
    """A foreign file that cannot be imported as it is; the message says what and where."""


@dataclass(frozen=True)
class HeaderReport:
    expected: tuple[str, ...]
    header: tuple[str, ...]

    @property
    def missing(self) -> list[str]:
        return [c for c in self.expected if c not in self.header]

    @property
    def extra(self) -> list[str]:
        return [c for c in self.header if c not in self.expected]

    @property
    def repeated(self) -> list[str]:
        return sorted({c for c in self.header if self.header.count(c) > 1})

    @property
    def renames(self) -> dict[str, str]:
        """Per missing column, the extra one that is most likely the same column renamed: equal but
        for case, spaces and punctuation, else the closest spelling."""
        extra, found = self.extra, {}
        for column in self.missing:
            same = [c for c in extra if _plain(c) == _plain(column)]
            close = same or difflib.get_close_matches(column, extra, n=1, cutoff=0.75)
            if close:
                found[column] = close[0]
        return found

    @property
    def ok(self) -> bool:
        return not self.missing and not self.repeated

    def describe(self, what: str) -> str:
        lines = [f"{what}: the header does not have the expected columns"]
        lines.append(f"  expected ({len(self.expected)}): {', '.join(self.expected)}")
        if self.missing:
            lines.append(f"  missing ({len(self.missing)}): {', '.join(self.missing)}")
        if self.extra:
            lines.append(f"  extra ({len(self.extra)}, not read): {', '.join(self.extra)}")
        if self.repeated:
            lines.append(f"  repeated: {', '.join(self.repeated)}")
        for column, candidate in self.renames.items():
            lines.append(f"  renamed? {column} -> {candidate}")
        return "\n".join(lines)


def _plain(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())
