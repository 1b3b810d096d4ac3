"""Count uncertainty: a detected count turned into an estimate of the true count and its 90 %
interval, from the detector's precision and recall measured on held-out sites. Shared by
monitoring (counts over time) and the alert simulator."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z90 = 1.6449  # two-sided 90 % normal quantile


@dataclass(frozen=True)
class Accuracy:
    """The detector's measured precision and recall at its operating threshold."""

    precision: float
    recall: float
    source: str  # where the numbers come from


def estimate(count: int, accuracy: Accuracy) -> tuple[float, float]:
    """True-count estimate and its standard deviation from a detected count.

    With recall R and precision P measured on held-out sites, N detections hold about
    N·(1−P) false ones and find a fraction R of the real objects, so T ≈ N·P/R. Misses are
    binomial (variance T·R·(1−R)), false detections Poisson (variance N·(1−P)); both are
    divided by R² when carried to T.
    """
    p, r = accuracy.precision, accuracy.recall
    false = count * (1 - p)
    true = count * p / r
    var = (true * r * (1 - r) + false) / (r * r)
    return true, math.sqrt(max(var, 0.0))


def interval(true: float, sd: float) -> tuple[float, float]:
    return max(0.0, true - Z90 * sd), true + Z90 * sd
