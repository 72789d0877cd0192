"""A window of business days: what a partition or a range run covers, what a dbt build and a
source check are given. The one representation of "these days" across the platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from smepulse_lib.names import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

LABEL_SEPARATOR = "..."


@dataclass(frozen=True)
class DayWindow:
    first: date
    last: date  # inclusive

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"a window of days ends ({self.last}) before it starts ({self.first})")

    @classmethod
    def of(cls, window: dg.TimeWindow) -> DayWindow:
        """The days of a partition time window (whose end is exclusive)."""
        return cls(window.start.date(), window.end.date() - timedelta(days=1))

    @classmethod
    def parse(cls, first: str, last: str | None = None) -> DayWindow:
        return cls(date.fromisoformat(first), date.fromisoformat(last or first))

    @classmethod
    def of_run(cls, run: dg.DagsterRun) -> DayWindow | None:
        """The days a run covered: its partition, its partition range, or None (unpartitioned)."""
        tags = run.tags
        if PARTITION_TAG in tags:
            return cls.parse(tags[PARTITION_TAG])
        if tags.get(RANGE_START_TAG) and tags.get(RANGE_END_TAG):
            return cls.parse(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        return None

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def is_one_day(self) -> bool:
        return self.first == self.last

    def contains(self, other: DayWindow) -> bool:
        return self.first <= other.first and other.last <= self.last

    def label(self) -> str:
        """How alerts and check metadata name the window: "2024-01-31" or "2024-01-01...2024-01-31"."""
        return f"{self.first}" if self.is_one_day else f"{self.first}{LABEL_SEPARATOR}{self.last}"

    @classmethod
    def from_label(cls, label: str) -> DayWindow:
        first, _, last = label.partition(LABEL_SEPARATOR)
        return cls.parse(first, last or None)

    # A run of the window: a partition run for one day, else a single-run range (the range tags).
    @property
    def partition_key(self) -> str | None:
        return f"{self.first}" if self.is_one_day else None

    def run_tags(self) -> dict[str, str]:
        return {} if self.is_one_day else {RANGE_START_TAG: f"{self.first}", RANGE_END_TAG: f"{self.last}"}

    def run_request(self, run_key: str, tags: dict[str, str] | None = None) -> dg.RunRequest:
        return dg.RunRequest(
            run_key=run_key, partition_key=self.partition_key, tags={**(tags or {}), **self.run_tags()}
        )
