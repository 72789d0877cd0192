"""Whether a holdout is enough to decide a promotion, and how sure the decision is.

A candidate beats a baseline or the champion on the holdout only if the difference of their
per-row losses (absolute error in days for payment dates, squared error of the probability
for the classifiers) is below zero with 90 % confidence: a paired bootstrap of the mean
difference over the holdout's rows, resampled with a fixed seed, so a rerun decides the same.
A holdout with fewer labelled rows than ``min_holdout_rows``, or (classifiers) fewer than
``min_holdout_positives`` of either class, decides nothing: the gate says "undecided", the
champion in force goes on serving, and without one the serving baseline does. "First model"
on a holdout of 57 invoices, or of no late payer at all (ROC AUC undefined), was a promotion
on no evidence. The same test retires a champion: one whose losses are surely above a
baseline's on a holdout that can decide no longer serves (``surely_worse``), and the serving
baseline scores until a candidate surely beats the baselines.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ml_assets.tracking import Promotion

LEVEL = 0.90
RESAMPLES = 2000
SEED = 20_240_601
DRAWS_PER_BLOCK = 1_000_000  # resample indices held at a time: 8 MB, whatever the holdout's size


@dataclass(frozen=True)
class Minimum:
    rows: int = 100
    positives: int = 10  # of each class, for a classifier's holdout


@dataclass(frozen=True)
class Comparison:
    against: str
    mean_difference: float  # candidate's mean loss minus the other's: below zero is better
    low: float
    high: float

    def as_dict(self) -> dict[str, float | str | list[float]]:
        return {
            "against": self.against,
            "mean_difference": round(self.mean_difference, 4),
            "interval": [round(self.low, 4), round(self.high, 4)],
        }


@dataclass(frozen=True)
class Evidence:
    rows: int
    positives: int | None  # None for a regression
    comparisons: list[Comparison] = field(default_factory=list)
    shortfall: str | None = None  # why the holdout cannot decide, if it cannot

    def as_dict(self) -> dict:
        return {
            "holdout_rows": self.rows,
            **({"holdout_positives": self.positives} if self.positives is not None else {}),
            "level": LEVEL,
            "comparisons": [c.as_dict() for c in self.comparisons],
            **({"undecided_because": self.shortfall} if self.shortfall else {}),
        }

    def metrics(self) -> dict[str, float]:
        """The figures as MLflow metrics: each loss difference with its interval."""
        figures = {"evidence_holdout_rows": float(self.rows)}
        for c in self.comparisons:
            name = f"evidence_vs_{c.against}"
            figures |= {f"{name}_mean_difference": c.mean_difference, f"{name}_low": c.low, f"{name}_high": c.high}
        return figures


def paired_intervals(candidate: np.ndarray, others: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float, float]]:
    """For each of ``others``: the mean of candidate - other and its bootstrap interval at LEVEL.

    Every comparison is judged on the same resamples, drawn a block at a time: a 200,000-row
    holdout's resamples are 400 million indices, 3.2 GB held at once (and as much again gathered),
    which a 5-million-invoice training paid for each of its up to five comparisons (the candidate's,
    then the champion's against the baselines). The blocks draw the same indices in
    the same order, so the intervals are those of drawing them all at once."""
    candidate = np.asarray(candidate, float)
    differences = {name: candidate - np.asarray(losses, float) for name, losses in others.items()}
    rows = len(candidate)
    means = {name: np.empty(RESAMPLES) for name in differences}
    rng = np.random.default_rng(SEED)
    block = max(1, DRAWS_PER_BLOCK // max(rows, 1))
    for start in range(0, RESAMPLES, block):
        picks = rng.integers(0, rows, size=(min(block, RESAMPLES - start), rows))
        for name, difference in differences.items():
            means[name][start : start + len(picks)] = difference[picks].mean(axis=1)
    return {name: _interval(difference, means[name]) for name, difference in differences.items()}


def _interval(difference: np.ndarray, resampled_means: np.ndarray) -> tuple[float, float, float]:
    low, high = np.quantile(resampled_means, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(difference.mean()), float(low), float(high)


def weigh(
    candidate: np.ndarray,
    others: Mapping[str, np.ndarray],
    minimum: Minimum,
    labels: np.ndarray | None = None,
) -> Evidence:
    """The evidence of a holdout: its size, and the candidate's losses against each of ``others``."""
    rows = len(candidate)
    positives = int(np.sum(labels)) if labels is not None else None
    if rows < minimum.rows:
        return Evidence(rows, positives, shortfall=f"{rows} labelled holdout rows, fewer than {minimum.rows}")
    if positives is not None and min(positives, rows - positives) < minimum.positives:
        return Evidence(
            rows,
            positives,
            shortfall=f"{positives} positive and {rows - positives} negative holdout rows, "
            f"fewer than {minimum.positives} of each",
        )
    comparisons = [Comparison(name, *interval) for name, interval in paired_intervals(candidate, others).items()]
    return Evidence(rows, positives, comparisons)


def surely_worse(evidence: Evidence) -> str | None:
    """Why the model ``evidence`` weighed is surely worse than one it was compared with (its loss
    difference's interval above zero), in words; None when it is not, or the holdout cannot decide."""
    if evidence.shortfall:
        return None
    worse = [c for c in evidence.comparisons if c.low > 0]
    if not worse:
        return None
    worst = max(worse, key=lambda c: c.low)
    return (
        f"surely worse than {worst.against} (loss difference {worst.mean_difference:+.4g}, {LEVEL:.0%} interval "
        f"[{worst.low:+.4g}, {worst.high:+.4g}] on {evidence.rows} holdout rows)"
    )


def decide(evidence: Evidence, first: bool) -> Promotion:
    """Promote only on a holdout that can decide, beating every comparison with confidence."""
    if evidence.shortfall:
        return Promotion(False, f"undecided: {evidence.shortfall}; the serving model stays")
    unsure = [c for c in evidence.comparisons if c.high >= 0]
    if unsure:
        worst = max(unsure, key=lambda c: c.high)
        return Promotion(
            False,
            f"undecided: not surely better than {worst.against} (loss difference {worst.mean_difference:+.4g}, "
            f"{LEVEL:.0%} interval [{worst.low:+.4g}, {worst.high:+.4g}] on {evidence.rows} rows); "
            "the serving model stays",
        )
    names = ", ".join(c.against for c in evidence.comparisons)
    return Promotion(
        True,
        f"{'first model' if first else 'beats the champion'}: surely better than {names} "
        f"on {evidence.rows} holdout rows ({LEVEL:.0%} intervals below 0)",
    )
