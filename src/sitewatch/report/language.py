"""Estimative language: probabilities in the words of ICD 203, and a confidence level with reasons.

A report says "very likely (80–95 %)", never a bare number or a bare word: the term carries
the analyst's calibrated meaning, and the range in brackets (and in the report's appendix)
keeps it checkable. Likelihood and confidence are separate, as ICD 203 asks: likelihood is
how probable the judgement is given the evidence; confidence is how good the evidence is
(coverage, detector error, revisit, sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Term:
    """One step of the estimative scale and the probability range it stands for."""

    phrase: str
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.phrase} ({self.low:.0%}–{self.high:.0%})"


# ICD 203 (2015), "Analytic Standards", section D.6.e.(2)(a)
SCALE: tuple[Term, ...] = (
    Term("almost no chance", 0.01, 0.05),
    Term("very unlikely", 0.05, 0.20),
    Term("unlikely", 0.20, 0.45),
    Term("roughly even chance", 0.45, 0.55),
    Term("likely", 0.55, 0.80),
    Term("very likely", 0.80, 0.95),
    Term("almost certainly", 0.95, 0.99),
)


def term_for(probability: float) -> Term:
    """The scale step holding ``probability`` (the ends of the scale absorb 0–1 % and 99–100 %).

    A probability on a boundary takes the step below it, so a term never claims more than
    the evidence: 0.95 is "very likely", not "almost certainly".
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"a probability lies in 0…1, not {probability}")
    for term in SCALE:
        if probability <= term.high:
            return term
    return SCALE[-1]


Level = Literal["low", "moderate", "high"]
_ORDER: tuple[Level, ...] = ("low", "moderate", "high")


@dataclass(frozen=True)
class Evidence:
    """What a site's judgement rests on, as the confidence rules need it."""

    full_views: int  # full-coverage, registered, dated observations
    partial_views: int
    excluded_images: int  # not registered, undated, not detected, outside the site
    longest_gap_days: float | None  # between consecutive full views
    precision: float | None  # detector, on held-out sites
    recall: float | None
    dates_illustrative: bool
    providers: int  # distinct imagery sources among the full views
    min_baseline: int = 4  # full views the alert method needs before it tests anything


@dataclass(frozen=True)
class Confidence:
    level: Level
    reasons: tuple[str, ...]  # each weakness that lowered it, then what supports it

    def __str__(self) -> str:
        return f"{self.level} confidence: " + "; ".join(self.reasons)


MANY_VIEWS = 8  # full views for a baseline the method has had time to settle on
LONG_GAP_DAYS = 30.0  # a revisit gap long enough to hide a brief buildup
GOOD_DETECTOR = 0.9  # precision and recall below this make counts themselves uncertain


def assess_confidence(ev: Evidence) -> Confidence:
    """Confidence in a site judgement: start high, and each weakness caps it lower.

    Low: dates that are illustrative (the time line is not evidence), too few full views to
    form a baseline, or a detector with no measured accuracy. Moderate at most: fewer than
    ``MANY_VIEWS`` full views, a revisit gap over ``LONG_GAP_DAYS``, a detector below
    ``GOOD_DETECTOR`` precision or recall, one imagery source only (not independently
    verified), or more than a quarter of the images left out.
    """
    cap: Level = "high"
    weak: list[str] = []

    def lower(level: Level, reason: str) -> None:
        nonlocal cap
        weak.append(reason)
        if _ORDER.index(level) < _ORDER.index(cap):
            cap = level

    if ev.dates_illustrative:
        lower("low", "acquisition dates are illustrative, so the time line is not evidence")
    if ev.full_views <= ev.min_baseline:
        lower("low", f"only {ev.full_views} full-coverage view(s): too few for a baseline")
    elif ev.full_views < MANY_VIEWS:
        lower("moderate", f"{ev.full_views} full-coverage views: a short baseline")
    if ev.precision is None or ev.recall is None:
        lower("low", "the detector's accuracy was never measured")
    elif min(ev.precision, ev.recall) < GOOD_DETECTOR:
        lower(
            "moderate",
            f"detector precision {ev.precision:.2f} / recall {ev.recall:.2f} on held-out sites",
        )
    if ev.longest_gap_days is not None and ev.longest_gap_days > LONG_GAP_DAYS:
        lower("moderate", f"a {ev.longest_gap_days:.0f}-day gap between views")
    if ev.providers <= 1:
        lower("moderate", "one imagery source: not independently verified")
    total = ev.full_views + ev.partial_views + ev.excluded_images
    if total and ev.excluded_images > 0.25 * total:
        lower("moderate", f"{ev.excluded_images} of {total} images could not be used")
    support = []
    if ev.full_views > ev.min_baseline:
        support.append(f"{ev.full_views} full-coverage views")
    if ev.precision is not None and ev.recall is not None:
        support.append(
            f"detector precision {ev.precision:.2f} / recall {ev.recall:.2f} on held-out sites"
        )
    reasons = tuple(dict.fromkeys(weak + support))  # a reason once, weaknesses first
    return Confidence(cap, reasons)
