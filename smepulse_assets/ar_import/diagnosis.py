"""What is wrong with an export's values, said before anything is written: per column the first
values that do not read (its header is judged by ``ingestion/header_report.py``)."""

from dataclasses import dataclass, field


@dataclass
class ColumnReport:
    """The values of one column that do not read, with their line numbers (the first few kept)."""

    column: str
    meaning: str
    bad: int = 0
    filled: int = 0  # rows with a value (after defaults and constants)
    examples: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, why)

    SHOWN = 3

    def add(self, line: int, value: str, why: str) -> None:
        self.bad += 1
        if len(self.examples) < self.SHOWN:
            self.examples.append((line, value, why))

    @property
    def unreadable(self) -> bool:
        """Most of the column does not read: the mapping (a format, a separator) is wrong, not a row."""
        return self.bad > 0 and self.bad * 2 > self.filled

    def describe(self) -> str:
        shown = "; ".join(f"line {line}: {value!r} {why}" for line, value, why in self.examples)
        return f"  {self.column} ({self.meaning}): {self.bad} of {self.filled} values do not read, e.g. {shown}"
