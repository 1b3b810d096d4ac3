"""Estimative language, confidence rules and the key judgement on constructed monitor results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sitewatch.alerts import Point, detect_episodes
from sitewatch.monitor.counts import Count
from sitewatch.report import Evidence, assess_confidence, term_for
from sitewatch.report.judgement import key_judgement

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def test_probabilities_map_to_the_icd_203_scale() -> None:
    assert term_for(0.97).phrase == "almost certainly"
    assert term_for(0.95).phrase == "very likely"  # a boundary takes the weaker word
    assert term_for(0.5).phrase == "roughly even chance"
    assert term_for(0.3).phrase == "unlikely"
    assert term_for(0.0).phrase == "almost no chance"
    assert str(term_for(0.9)) == "very likely (80%–95%)"
    with pytest.raises(ValueError):
        term_for(1.2)


GOOD = Evidence(full_views=20, partial_views=1, excluded_images=0, longest_gap_days=9,
                precision=0.99, recall=0.98, dates_illustrative=False, providers=2)  # fmt: skip


def test_confidence_is_high_only_when_nothing_weakens_it() -> None:
    good = assess_confidence(GOOD)
    assert good.level == "high" and "20 full-coverage views" in good.reasons
    one_source = assess_confidence(Evidence(**{**GOOD.__dict__, "providers": 1}))
    assert one_source.level == "moderate"
    assert "one imagery source: not independently verified" in one_source.reasons
    gap = assess_confidence(Evidence(**{**GOOD.__dict__, "longest_gap_days": 45}))
    assert gap.level == "moderate" and "a 45-day gap between views" in gap.reasons
    staged = assess_confidence(Evidence(**{**GOOD.__dict__, "dates_illustrative": True}))
    assert staged.level == "low" and "illustrative" in staged.reasons[0]
    unmeasured = assess_confidence(Evidence(**{**GOOD.__dict__, "precision": None}))
    assert unmeasured.level == "low"


def counts_of(values: list[float]) -> tuple[list[Count], list[Point]]:
    counts, points = [], []
    for i, v in enumerate(values):
        t = T0 + timedelta(days=7 * i)
        counts.append(Count(f"s{i}", f"scene{i}.jpg", t, False, "aircraft", int(v), float(v),
                            1.0, v - 2, v + 2, 1.0, False, True, None))  # fmt: skip
        points.append(Point(t, float(v), 1.0))
    return counts, points


def judge(values: list[float]):
    counts, points = counts_of(values)
    steps, episodes = detect_episodes(points)
    return key_judgement("Apron", "aircraft", counts, steps, episodes, assess_confidence(GOOD))


def test_key_judgement_of_a_buildup_names_its_start_likelihood_and_numbers() -> None:
    kj = judge([40, 42, 39, 41, 40, 38, 41, 40, 39, 41, 56, 57, 55, 58, 56])
    assert kj.term is not None and kj.likelihood is not None
    start = (T0 + timedelta(days=70)).date().isoformat()
    assert kj.text.startswith(f"It is {kj.term} that Apron has held more aircraft than usual")
    assert f"since {start}" in kj.text
    assert "56 aircraft on" in kj.text and "(90 % interval 54–58)" in kj.text


def test_key_judgement_says_so_when_there_is_no_buildup_or_too_little_data() -> None:
    calm = judge([40, 42, 39, 41, 40, 38, 41, 40, 39, 41])
    assert calm.likelihood is None and "shows no buildup of aircraft" in calm.text
    few = judge([40, 42, 39])
    assert "too few to say whether it is busier than usual" in few.text


def test_before_after_shows_episode_starts_and_large_changes_only() -> None:
    from sitewatch.report.build import before_after

    def pair(day: str, stayed: int, appeared: int, departed: int) -> dict:
        return {"after_date": day, "stayed": stayed, "appeared": appeared, "departed": departed}

    changes = [pair("2025-01-08", 20, 1, 1),  # small: not shown
               pair("2025-01-15", 20, 6, 3),  # large
               pair("2025-01-22", 29, 1, 0)]  # small, but an alert episode starts here  # fmt: skip
    shown = before_after(changes, {"aircraft": [{"start": "2025-01-22"}]})
    assert [(c["after_date"], c["why"]) for c in shown] == [
        ("2025-01-15", "large change: 9 objects appeared or departed"),
        ("2025-01-22", "an alert episode starts"),
    ]
