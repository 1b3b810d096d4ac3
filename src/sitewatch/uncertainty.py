"""Count uncertainty: a detected count turned into an estimate of the true count and its 90 %
interval, from the detector's precision and recall measured on held-out sites (and how much
they vary from scene to scene). Shared by monitoring (counts over time), the alert simulator
and model training (which measures how often the interval holds)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sitewatch.errors import BadInputError

Z90 = 1.6449  # two-sided 90 % normal quantile
# the dispersions tried when fitting one (relative sd of the true count, 0 to 100 %)
DISPERSION_GRID = tuple(round(0.01 * k, 2) for k in range(101))


@dataclass(frozen=True)
class Accuracy:
    """The detector's measured precision and recall at its operating threshold, and
    ``dispersion``: the relative standard deviation of the true count left once sampling is
    accounted for (recall and precision differ from scene to scene: a dense apron is not a
    sparse one). 0 means sampling alone."""

    precision: float
    recall: float
    source: str  # where the numbers come from
    dispersion: float = 0.0

    def __post_init__(self) -> None:
        for name in ("precision", "recall"):
            value = getattr(self, name)
            if not 0 < value <= 1:  # also refuses NaN
                raise BadInputError(self.source, f"{name} {value!r} is not in (0, 1]")
        if not 0 <= self.dispersion <= 10:
            raise BadInputError(self.source, f"dispersion {self.dispersion!r} is not in [0, 10]")


def estimate(count: int, accuracy: Accuracy) -> tuple[float, float]:
    """True-count estimate and its standard deviation from a detected count.

    With recall R and precision P measured on held-out sites, N detections hold about
    N·(1−P) false ones and find a fraction R of the real objects, so T ≈ N·P/R. Misses are
    binomial (variance T·R·(1−R)), false detections Poisson (variance N·(1−P)); both are
    divided by R² when carried to T. Scene-to-scene variation of P and R adds (d·T)² for
    the accuracy's dispersion d.
    """
    p, r = accuracy.precision, accuracy.recall
    false = count * (1 - p)
    true = count * p / r
    var = (true * r * (1 - r) + false) / (r * r) + (accuracy.dispersion * true) ** 2
    return true, math.sqrt(max(var, 0.0))


def interval(true: float, sd: float) -> tuple[float, float]:
    """The 90 % interval of a true count estimated as ``true`` with standard deviation
    ``sd``: log-normal, with the estimate as its median. A count cannot go below zero, and
    a wide relative spread (a dispersed detector) then stays a factor either way instead
    of a lower bound clipped at 0; for a narrow one it is ``true ± 1.645·sd``."""
    if true <= 0 or sd <= 0:
        return max(true, 0.0), max(true, 0.0)
    s = math.sqrt(math.log1p((sd / true) ** 2))
    return true * math.exp(-Z90 * s), true * math.exp(Z90 * s)


def sampling_sd(sd: float, true: float, dispersion: float) -> float:
    """The part of a count's standard deviation that sampling makes (binomial misses,
    Poisson false detections), without the place-to-place spread ``dispersion`` added to it.
    At one site that spread persists from date to date: two counts of one place share it,
    so comparing them (alerts, a claimed rise or fall) leaves it out."""
    return math.sqrt(max(sd * sd - (dispersion * true) ** 2, 0.0))


def sd_of_interval(true: float, high: float) -> float:
    """The standard deviation an ``interval`` was made from, given its estimate and top."""
    if true <= 0 or high <= true:
        return 0.0
    s = math.log(high / true) / Z90
    return true * math.sqrt(math.expm1(s * s))


def coverage(pairs: Sequence[tuple[int, int]], accuracy: Accuracy) -> float:
    """Share of (detected, true) count pairs whose true count lies in the 90 % interval
    stated for the detected one."""
    if not pairs:
        return 0.0
    hits = 0
    for detected, true in pairs:
        low, high = interval(*estimate(detected, accuracy))
        hits += int(low <= true <= high)
    return hits / len(pairs)


def fit_dispersion(pairs: Sequence[tuple[int, int]], precision: float, recall: float) -> float:
    """The dispersion at which the 90 % interval of a *new* scene holds at least 90 % of the
    time, by split-conformal calibration on these (detected, true) pairs: each pair's score
    is the smallest dispersion that covers it, and the fit is the ⌈0.9·(n+1)⌉-th smallest
    score. Covering 90 % of the fitting scenes themselves is not enough: that quantile is
    biased low for scenes it never saw (on two folds of airports: 80 % held out against 91 %
    in sample). The largest tried when too few pairs (under nine) or too few coverable ones
    allow a guarantee; 0 when there are none."""
    return fit_dispersion_scored([(n, t, precision, recall) for n, t in pairs])


def fit_dispersion_scored(scenes: Sequence[tuple[int, int, float, float]]) -> float:
    """``fit_dispersion`` where each (detected, true) pair comes with the precision and
    recall its interval is stated with (for a place: those measured on other places)."""
    if not scenes:
        return 0.0
    scores = sorted(_needed((n, t), p, r) for n, t, p, r in scenes)
    rank = math.ceil(0.9 * (len(scores) + 1))
    if rank > len(scores):
        return DISPERSION_GRID[-1]
    return min(scores[rank - 1], DISPERSION_GRID[-1])


def _needed(pair: tuple[int, int], precision: float, recall: float) -> float:
    """The smallest dispersion tried whose interval covers this pair (inf when none does:
    nothing detected, something there)."""
    for d in DISPERSION_GRID:
        if coverage([pair], Accuracy(precision, recall, "fit", d)) >= 1:
            return d
    return math.inf
