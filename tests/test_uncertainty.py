"""Count uncertainty: the interval's width follows the detector's measured accuracy, and the
fitted dispersion makes it cover what sampling alone does not."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.detect.evaluate import SceneResult, interval_fit
from sitewatch.errors import BadInputError
from sitewatch.uncertainty import (
    DISPERSION_GRID,
    Accuracy,
    coverage,
    estimate,
    fit_dispersion,
    interval,
    sd_of_interval,
)


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


def test_the_interval_is_a_factor_either_way_never_below_zero_and_gives_its_sd_back() -> None:
    # narrow: the familiar estimate ± 1.645 sd
    low, high = interval(500.0, 10.0)
    assert low == pytest.approx(500 - 16.449, abs=0.5) and high == pytest.approx(516.449, abs=0.5)
    # wide: a factor either way around the estimate (its median), not clipped at zero
    low, high = interval(100.0, 80.0)
    assert 0 < low < 40 and high > 200 and low * high == pytest.approx(100.0**2)
    assert interval(0.0, 0.0) == (0.0, 0.0) and interval(7.0, 0.0) == (7.0, 7.0)
    for true, sd in [(500.0, 10.0), (100.0, 80.0), (3.2, 1.1)]:
        assert sd_of_interval(true, interval(true, sd)[1]) == pytest.approx(sd)


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


def test_dispersion_is_fitted_for_scenes_it_never_saw() -> None:
    """Split-conformal: the fit covers the ⌈0.9·(n+1)⌉ best-covered fitting scenes, more
    than the 90 % of them a plain quantile would (biased low on new scenes); too few scenes
    guarantee nothing and get the widest."""
    rng = np.random.default_rng(11)
    pairs = _scenes(rng, 40, 0.15)
    d = fit_dispersion(pairs, 1.0, 0.9)
    covered = round(coverage(pairs, Accuracy(1.0, 0.9, "t", d)) * 40)
    assert covered >= 37  # ⌈0.9 · 41⌉, where 36 would be 90 % of the 40
    if d > 0:  # and no smaller dispersion tried would do
        assert round(coverage(pairs, Accuracy(1.0, 0.9, "t", round(d - 0.01, 2))) * 40) < 37
    assert fit_dispersion(pairs[:8], 1.0, 0.9) == DISPERSION_GRID[-1]
    assert fit_dispersion(pairs[:9], 1.0, 0.9) < DISPERSION_GRID[-1]


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
    # looks fine, on places it never saw it does not
    folds = {
        "a": _results(rng, 30, 0.95),
        "b": _results(rng, 30, 0.95),
        "c": _results(rng, 30, 0.6),
    }
    fit = interval_fit(folds, "fold", 0.5)
    assert fit["interval_coverage_basis"].startswith("each fold's scenes")
    assert fit["count_dispersion"] > 0 and fit["interval_coverage_scenes"] == 90
    assert fit["interval_coverage_90_in_sample"] >= 0.9  # what the fit aims at, in-sample
    assert fit["interval_coverage_90"] < fit["interval_coverage_90_in_sample"]
    assert fit["interval_coverage_90_sampling_only"] <= fit["interval_coverage_90"]
    # one fold holds no unseen place: in-sample only, never under the held-out name
    one = interval_fit({"all": [r for rs in folds.values() for r in rs]}, "fold", 0.5)
    # the stated dispersion is fitted group-wise: each scene against the other groups'
    # precision and recall, as a new place will be; in one group it is the in-sample fit,
    # which the hard fold's place-to-place shift does not widen
    assert one["count_dispersion"] < fit["count_dispersion"]
    assert "interval_coverage_90" not in one and "interval_coverage_basis" not in one
    # an empty fold is no fold: it neither counts as one nor scores as misses
    assert "interval_coverage_90" not in interval_fit({"a": folds["a"], "b": []}, "fold", 0.5)
    assert interval_fit({"a": _results(rng, 3, 0.0)}, "fold", 0.5) == {}  # nothing found: no fit


def test_scenes_group_by_place_where_every_place_is_known() -> None:
    pytest.importorskip("torch", reason="cross-fitting is training's (the `train` extra)")
    from sitewatch.detect.train.export import _groups

    rng = np.random.default_rng(2)
    folds = {"f0": _results(rng, 4, 0.9), "f1": _results(rng, 4, 0.9)}
    folds["f1"] = [SceneResult(f"t{i}", r.gt, r.boxes, r.scores) for i, r in enumerate(folds["f1"])]
    place_of = {**{f"s{i}": "north" if i < 2 else "south" for i in range(4)},
                **{f"t{i}": "east" for i in range(4)}}  # fmt: skip
    groups, unit = _groups(folds, place_of)
    assert unit == "place" and {k: len(v) for k, v in groups.items()} == {
        "north": 2, "south": 2, "east": 4,
    }  # fmt: skip
    del place_of["t3"]  # one scene of unknown place: fold by fold, as before
    assert _groups(folds, place_of) == (folds, "fold")
    fit = interval_fit(groups, unit, 0.5)
    assert fit["interval_coverage_basis"].startswith("each place's scenes")


def test_scenes_no_interval_can_cover_are_counted_and_a_capped_fit_is_flagged() -> None:
    rng = np.random.default_rng(7)
    blind = [
        SceneResult(f"b{i}", np.array([[0, 0, 8, 8]] * 20, float), np.zeros((0, 4)), np.zeros(0))
        for i in range(20)
    ]
    fit = interval_fit({"a": _results(rng, 80, 0.95) + blind}, "fold", 0.5)
    assert fit["scenes_missed_entirely"] == 20
    assert fit["count_dispersion_capped"] is True  # no dispersion covers [0, 0]
    assert fit_dispersion([], 0.9, 0.9) == 0.0 and coverage([], Accuracy(0.9, 0.9, "t")) == 0.0


def test_alerts_use_the_sampling_spread_so_a_dispersed_detector_still_alerts() -> None:
    """The dispersion widens the stated interval (places differ), but a site's own
    persistent bias cancels against its baseline: a vehicle buildup must still alert."""
    from datetime import datetime, timedelta

    from sitewatch.alerts import AlertConfig
    from sitewatch.monitor.counts import Count
    from sitewatch.monitor.stage import alert_scan

    rng = np.random.default_rng(11)
    acc, spread = Accuracy(0.67, 0.36, "card"), Accuracy(0.67, 0.36, "card", 0.69)
    counts = []
    for week in range(60):
        level = 200 * (1.5 if week >= 40 else 1.0)
        n = int(rng.binomial(int(level), 0.36) / 0.67)
        true, sd = estimate(n, spread)
        low, high = interval(true, sd)
        when = datetime(2024, 1, 1) + timedelta(days=7 * week)
        counts.append(Count(f"s{week}", f"w{week}.jpg", when, False, "vehicle", n, true, sd,
                            low, high, 1.0, False, True, None))  # fmt: skip
    assert counts[0].high > 2.5 * counts[0].estimate > 6 * counts[0].low  # stated: wide
    cfg = AlertConfig()
    _, with_d = alert_scan(counts, ["vehicle"], cfg, {"vehicle": {"count_dispersion": 0.69}})
    assert with_d["vehicle"] and with_d["vehicle"][0].start >= counts[40].acquired_at
    # the same as a detector with no dispersion at all
    plain = [
        Count(**{**c.__dict__, "sd": estimate(c.count, acc)[1]})  # type: ignore[arg-type]
        for c in counts
    ]
    _, without = alert_scan(plain, ["vehicle"], cfg)
    assert [e.start for e in with_d["vehicle"]] == [e.start for e in without["vehicle"]]
    # counting the dispersion as date-to-date noise would have silenced it
    _, silenced = alert_scan(counts, ["vehicle"], cfg)
    assert not silenced["vehicle"]
