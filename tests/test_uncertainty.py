"""Count uncertainty: the interval's width follows the detector's measured accuracy, and the
fitted dispersion makes it cover what sampling alone does not."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.detect.evaluate import SceneResult, interval_fit
from sitewatch.errors import BadInputError
from sitewatch.uncertainty import Accuracy, coverage, estimate, fit_dispersion, interval


def test_dispersion_widens_the_interval_in_proportion_to_the_count() -> None:
    plain = Accuracy(0.9, 0.9, "t")
    spread = Accuracy(0.9, 0.9, "t", dispersion=0.2)
    t0, sd0 = estimate(100, plain)
    t1, sd1 = estimate(100, spread)
    assert t0 == t1  # the estimate itself does not move
    assert sd1 == pytest.approx(np.hypot(sd0, 0.2 * t0))
    assert estimate(0, spread) == (0.0, 0.0)  # nothing detected: no spread to scale
    low, high = interval(t1, sd1)
    assert low < t0 - 1.6449 * sd0 and high > t0 + 1.6449 * sd0


@pytest.mark.parametrize(
    ("p", "r", "d"),
    [(0.0, 0.9, 0.0), (0.9, 0.0, 0.0), (1.2, 0.9, 0.0), (float("nan"), 0.9, 0.0), (0.9, 0.9, -1)],
)
def test_an_impossible_accuracy_is_refused_naming_its_source(p, r, d) -> None:
    with pytest.raises(BadInputError, match=r"card\.json"):
        Accuracy(p, r, "card.json", d)


def _scenes(rng: np.random.Generator, n: int, spread: float) -> list[tuple[int, int]]:
    """(detected, true) pairs where recall itself varies from scene to scene."""
    pairs = []
    for _ in range(n):
        true = int(rng.integers(20, 120))
        recall = float(np.clip(rng.normal(0.9, spread), 0.3, 1.0))
        pairs.append((int(rng.binomial(true, recall)), true))
    return pairs


def test_fitted_dispersion_covers_over_dispersed_counts_that_sampling_misses() -> None:
    rng = np.random.default_rng(3)
    fit_on, check_on = _scenes(rng, 300, 0.12), _scenes(rng, 300, 0.12)
    sampling = Accuracy(1.0, 0.9, "t")
    assert coverage(check_on, sampling) < 0.6  # binomial misses alone: far too narrow
    d = fit_dispersion(fit_on, 1.0, 0.9)
    assert 0.05 < d < 0.3
    assert 0.85 <= coverage(check_on, Accuracy(1.0, 0.9, "t", d)) <= 0.97
    # counts that really are binomial need none
    steady = _scenes(rng, 300, 0.0)
    assert fit_dispersion(steady, 1.0, 0.9) <= 0.02


def _results(rng: np.random.Generator, n: int, recall: float) -> list[SceneResult]:
    out = []
    for i in range(n):
        true = int(rng.integers(5, 60))
        gt = np.array([[10 * k, 0, 10 * k + 8, 8] for k in range(true)], float)
        found = rng.random(true) < recall
        boxes = gt[found]
        out.append(SceneResult(f"s{i}", gt, boxes, np.full(len(boxes), 0.9)))
    return out


def test_interval_coverage_is_measured_on_folds_the_interval_never_saw() -> None:
    rng = np.random.default_rng(5)
    # one fold's places are much harder than the others': fitted in-sample the interval
    # would look fine, out of fold it does not
    folds = {
        "a": _results(rng, 30, 0.95),
        "b": _results(rng, 30, 0.95),
        "c": _results(rng, 30, 0.6),
    }
    fit = interval_fit(folds, 0.5)
    assert fit["interval_coverage_basis"].startswith("each fold's places")
    assert fit["count_dispersion"] > 0
    one = interval_fit({"all": [r for rs in folds.values() for r in rs]}, 0.5)
    assert one["interval_coverage_basis"].startswith("in-sample")
    assert one["count_dispersion"] == fit["count_dispersion"]
    assert fit["interval_coverage_90"] < one["interval_coverage_90"]
    assert fit["interval_coverage_90_sampling_only"] <= fit["interval_coverage_90"]
    assert interval_fit({"a": _results(rng, 3, 0.0)}, 0.5) == {}  # nothing found: no fit
