"""The alert method on constructed series: quiet when stable, fires on buildups, finds episodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sitewatch.alerts import AlertConfig, Point, detect_episodes
from sitewatch.alerts.calibration import false_alarms_per_year, threshold_for
from sitewatch.alerts.simulate import SiteModel, series

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def weekly(values: list[float], gaps: list[int] | None = None) -> list[Point]:
    days = np.cumsum([0, *(gaps or [7] * (len(values) - 1))])
    return [
        Point(T0 + timedelta(days=int(d)), float(v), 1.0) for d, v in zip(days, values, strict=True)
    ]


def test_stable_series_stays_quiet() -> None:
    rng = np.random.default_rng(0)
    values = 40 * np.exp(rng.normal(0, 0.06, 52))
    steps, episodes = detect_episodes(weekly(list(values)))
    assert episodes == []
    assert [s.state for s in steps[:4]] == ["warm-up"] * 4
    assert all(s.state == "normal" for s in steps[4:])


def test_fires_on_a_sustained_buildup_with_its_start_and_size() -> None:
    stable = [40, 42, 39, 41, 40, 38, 41, 40, 39, 41]
    values = [*stable, 56, 57, 55, 58, 56]
    steps, episodes = detect_episodes(weekly(values))
    assert len(episodes) == 1
    ep = episodes[0]
    assert ep.ongoing and ep.start == steps[10].t and ep.alarm <= steps[12].t
    assert ep.magnitude == pytest.approx(0.4, abs=0.06)
    assert 0.5 < ep.confidence <= 1.0


def test_finds_an_earlier_episode_that_ended_and_the_current_one() -> None:
    base = [30, 31, 29, 30, 31, 30, 29, 30]
    april = [44, 45, 43]  # a brief buildup
    after = [30, 29, 31, 30, 30, 31, 29, 30]
    now = [42, 44, 45, 43]
    steps, episodes = detect_episodes(weekly(base + april + after + now))
    assert len(episodes) == 2
    first, second = episodes
    assert first.start == steps[8].t and first.end == steps[11].t and not first.ongoing
    assert second.ongoing and second.start == steps[len(base + april + after)].t


def test_irregular_gaps_weaken_old_evidence() -> None:
    # two high scenes a season apart are weaker evidence than two in consecutive weeks
    values = [30, 31, 29, 30, 31, 30, 36, 36]
    close = detect_episodes(weekly(values), h=2.0)[0][-1].cusum
    far = detect_episodes(weekly(values, [7] * 6 + [120]), h=2.0)[0][-1].cusum
    assert far < close


def test_threshold_comes_from_the_stated_false_alarm_rate() -> None:
    cfg = AlertConfig()
    strict, loose = threshold_for(0.1, cfg), threshold_for(1.0, cfg)
    assert strict > loose
    assert false_alarms_per_year(strict, cfg) <= 0.1 + 1e-9
    # and the simulated stable sites agree with the table at the default rate
    rng = np.random.default_rng(42)
    alarms = sum(
        len(detect_episodes(series(rng, 365.25, SiteModel())[0], cfg)[1]) for _ in range(200)
    )
    assert alarms / 200 <= 2 * cfg.far_per_year
