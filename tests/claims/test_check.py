"""Each claim status, on constructed monitoring records whose numbers are chosen by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from sitewatch.alerts import AlertConfig
from sitewatch.alerts.method import Episode
from sitewatch.claims import check_claim
from sitewatch.claims.ledger import StoredClaim
from sitewatch.monitor.counts import Count
from sitewatch.monitor.stored import StoredMonitoring
from sitewatch.uncertainty import Accuracy

ACC = Accuracy(0.97, 0.96, "held-out airports")


def view(day: str, est: float, low: float, high: float, partial: bool = False,
         used: bool = True, cls: str = "aircraft", reason: str | None = None) -> Count:  # fmt: skip
    when = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return Count(
        f"sha-{day}", f"{day}.jpg", when, False, cls, round(est), est, 1.0, low, high,
        0.5 if partial else 1.0, partial, used, reason,
    )  # fmt: skip


def detector(cls: str, acc: Accuracy | None) -> dict:
    """The detector record monitoring keeps for one class (``counts.detector_record``)."""
    return {"class": cls, "name": f"sitewatch-{cls}", "classes": [cls],
            "precision": acc.precision if acc else None, "recall": acc.recall if acc else None,
            "accuracy_source": acc.source if acc else None}  # fmt: skip


def site(*counts: Count, episodes: list[Episode] | None = None, **kw) -> StoredMonitoring:  # type: ignore[no-untyped-def]
    return StoredMonitoring(
        "base", 1, AlertConfig(), list(counts),
        kw.get("detectors", {"aircraft": detector("aircraft", kw.get("accuracy", ACC))}),
        episodes={"aircraft": episodes or []},
    )  # fmt: skip


def claim(expects: str | None, start: str | None = None, end: str | None = None,
          cls: str | None = None, sources: list[dict] | None = None) -> StoredClaim:  # fmt: skip
    return StoredClaim(
        1, "base", "a claim", date.fromisoformat(start) if start else None,
        date.fromisoformat(end) if end else None, expects, cls, None, None,
        datetime.now(UTC), sources or [],
    )  # fmt: skip


SERIES = (
    view("2024-03-01", 20, 18, 22),
    view("2024-03-15", 21, 19, 23),
    view("2024-04-05", 34, 31, 37),  # a clear rise
    view("2024-04-20", 25, 22, 28, partial=True),  # less ground: never decides a change
    view("2024-05-02", 22, 20, 24),
)


@pytest.mark.parametrize(
    ("expects", "start", "end", "status", "says"),
    [
        (
            "increase",
            "2024-04-01",
            "2024-04-10",
            "supported",
            "from 21 (19–23) on 2024-03-15 to 34",
        ),
        ("increase", "2024-03-10", "2024-03-31", "consistent", "the intervals overlap"),
        ("increase", "2024-04-15", "2024-05-10", "contradicted", "could be above"),
        ("decrease", "2024-04-01", "2024-04-10", "contradicted", "could be below"),
        (
            "decrease",
            "2024-04-15",
            "2024-05-10",
            "supported",
            "from 34 (31–37) on 2024-04-05 to 22",
        ),
        ("increase", "2024-06-01", "2024-06-30", "not_observable", "no image of base between"),
        ("increase", None, "2024-03-01", "not_observable", "a full view before"),
        ("presence", "2024-03-01", "2024-03-31", "supported", "21 aircraft on 2024-03-15"),
        ("absence", "2024-03-01", "2024-03-31", "contradicted", "21 aircraft on 2024-03-15"),
        ("construction", None, None, "not_observable", "no pixel change is stored"),
        (None, None, None, "not_observable", "states nothing imagery could test"),
    ],
)
def test_status_follows_the_rules(expects, start, end, status, says) -> None:  # type: ignore[no-untyped-def]
    verdict = check_claim(claim(expects, start, end), site(*SERIES))
    assert verdict.status == status, verdict.reasons
    assert says in " ".join(verdict.reasons)


def test_a_rise_against_the_window_is_contradicted_when_no_view_could_be_higher() -> None:
    falling = site(view("2024-01-01", 30, 28, 32), view("2024-02-01", 24, 22, 26),
                   view("2024-02-15", 20, 18, 29))  # fmt: skip
    verdict = check_claim(claim("increase", "2024-01-15", "2024-02-28"), falling)
    assert verdict.status == "contradicted" and "could be above" in verdict.reasons[0]
    assert [e["date"] for e in verdict.evidence] == ["2024-01-01", "2024-02-01", "2024-02-15"]
    assert verdict.evidence[0]["reference"]


def test_an_alert_episode_in_the_window_supports_a_buildup() -> None:
    t = datetime(2024, 4, 5, tzinfo=UTC)
    episode = Episode(t, t, None, 21, 34, 0.6, 0.97, 1.0, 2, 9.0)
    flat = site(view("2024-03-15", 21, 19, 23), view("2024-04-05", 23, 19, 27),
                episodes=[episode])  # fmt: skip
    verdict = check_claim(claim("increase", "2024-04-01", "2024-04-30"), flat)
    assert verdict.status == "supported" and "alert episode" in verdict.reasons[0]
    before = check_claim(claim("increase", "2024-03-01", "2024-03-31"), flat)
    assert before.status != "supported"  # the episode starts after that window


def test_partial_views_show_presence_but_never_absence_or_change() -> None:
    partial_only = site(view("2024-03-01", 20, 18, 22),
                        view("2024-04-05", 6, 4, 8, partial=True),
                        view("2024-04-20", 0, 0, 0.4, partial=True))  # fmt: skip
    seen = check_claim(claim("presence", "2024-04-01", "2024-04-30"), partial_only)
    assert seen.status == "supported" and "partial view, 50% of the site" in seen.reasons[0]
    gone = check_claim(claim("absence", "2024-04-15", "2024-04-30"), partial_only)
    assert gone.status == "not_observable" and "only partial views" in gone.reasons[0]
    fell = check_claim(claim("decrease", "2024-04-01", "2024-04-30"), partial_only)
    assert fell.status == "not_observable"  # a partial count covers less ground
    assert [e["partial"] for e in fell.evidence] == [False, True, True]


def test_absence_and_presence_on_an_empty_site() -> None:
    empty = site(view("2024-03-01", 0, 0, 0.5), view("2024-03-20", 0, 0, 0.6))
    assert check_claim(claim("absence"), empty).status == "supported"
    assert check_claim(claim("presence"), empty).status == "contradicted"
    doubtful = site(view("2024-03-01", 1, 0, 2.5))
    assert check_claim(claim("absence"), doubtful).status == "consistent"
    assert check_claim(claim("presence"), doubtful).status == "consistent"


def test_not_observable_when_the_class_cannot_be_detected_or_nothing_was_counted() -> None:
    verdict = check_claim(claim("presence", cls="tank"), site(*SERIES))
    assert verdict.status == "not_observable"
    assert "detectors find aircraft; 'tank' is not among them" in verdict.reasons[0]
    excluded = site(view("2024-03-01", 20, 18, 22),
                    view("2024-04-05", 0, 0, 0, used=False, reason="not registered"))  # fmt: skip
    verdict = check_claim(claim("increase", "2024-04-01", "2024-04-30"), excluded)
    assert verdict.status == "not_observable" and "not registered" in verdict.reasons[0]
    unmonitored = StoredMonitoring("base", None, AlertConfig(), [], note="not monitored yet")
    assert check_claim(claim("presence"), unmonitored).reasons == ["not monitored yet"]


def test_caveats_and_independent_origins() -> None:
    sources = [
        {"origin": "Maxar imagery"}, {"origin": "maxar  IMAGERY"}, {"origin": "US officials"},
    ]  # fmt: skip
    illustrative = replace(view("2024-03-15", 21, 19, 23), date_is_illustrative=True)
    verdict = check_claim(claim("presence", sources=sources), site(illustrative, accuracy=None))
    assert (verdict.origins, verdict.sources) == (2, 3)
    assert any("illustrative" in c for c in verdict.caveats)
    assert any("not measured" in c for c in verdict.caveats)
