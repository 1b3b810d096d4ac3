"""Synthetic site histories for calibrating and testing the alert method.

A site holds ``base`` objects on average, with an annual cycle (``seasonal``), day-to-day
churn (log-normal, ``churn``), irregular revisits (a nominal interval, jitter, and scenes
lost to cloud), and a detector that misses and invents objects at its measured rates.
A buildup multiplies the true count by ``factor`` from a given day on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from sitewatch.alerts.method import Point
from sitewatch.uncertainty import Accuracy, estimate

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SiteModel:
    base_low: float = 10.0
    base_high: float = 80.0
    churn: float = 0.08
    seasonal: float = 0.10
    revisit_days: float = 7.0
    jitter_days: float = 2.0
    cloud: float = 0.15  # chance a planned scene is lost
    precision: float = 0.99
    recall: float = 0.98


def revisits(rng: np.random.Generator, days: float, model: SiteModel) -> np.ndarray:
    """Observation days in [0, days): nominal cadence, jittered, with cloudy scenes dropped."""
    planned = np.arange(0.0, days, model.revisit_days)
    jitter = rng.uniform(-model.jitter_days, model.jitter_days, len(planned))
    t = np.clip(planned + jitter, 0, days - 1e-6)
    t = t[rng.random(len(t)) >= model.cloud]
    return np.sort(t)


def series(
    rng: np.random.Generator,
    days: float,
    model: SiteModel,
    buildup: tuple[float, float] | None = None,
) -> tuple[list[Point], np.ndarray]:
    """One site's observed estimates as Points, and the days they were taken."""
    t = revisits(rng, days, model)
    base = rng.uniform(model.base_low, model.base_high)
    phase = rng.uniform(0, 2 * np.pi)
    level = base * (1 + model.seasonal * np.sin(2 * np.pi * t / 365.25 + phase))
    if buildup is not None:
        start, factor = buildup
        level = np.where(t >= start, level * factor, level)
    # parked fleets are steadier than Poisson: most objects are based there; churn is the
    # day-to-day relative variation of what is present
    true = np.round(level * np.exp(rng.normal(0, model.churn, len(t)))).astype(int)
    found = rng.binomial(true, model.recall)
    false = rng.poisson(found * (1 - model.precision) / model.precision)
    acc = Accuracy(model.precision, model.recall, "simulated")
    points = []
    for day, n in zip(t, found + false, strict=True):
        value, sd = estimate(int(n), acc)
        points.append(Point(EPOCH + timedelta(days=float(day)), value, sd))
    return points, t
