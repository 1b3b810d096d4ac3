"""The key judgement: one or two sentences a report opens with, tied to the measured numbers.

The likelihood of a buildup is the alert episode's confidence: the chance that a stable site
would *not* have reached the episode's peak CUSUM within a year, read from the simulated
false-alarm table (``alerts.calibration``). It is put in ICD 203 words with its range. When
no episode is open the report says what was measured instead of a probability of absence,
which the method does not estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sitewatch.alerts.method import Episode, Step
from sitewatch.dates import day
from sitewatch.monitor.counts import Count
from sitewatch.report.language import Confidence, Term, term_for


@dataclass(frozen=True)
class KeyJudgement:
    text: str
    likelihood: float | None  # of the current buildup, when one is open
    term: Term | None
    confidence: Confidence


def key_judgement(
    site: str,
    class_name: str,
    counts: list[Count],
    steps: list[Step],
    episodes: list[Episode],
    confidence: Confidence,
    min_baseline: int = 4,
) -> KeyJudgement:
    """The opening judgement for one class at one site, from its monitor results."""
    full = [c for c in counts if c.used and not c.partial and c.class_name == class_name]
    if not full:
        text = (
            f"No image covers the whole of {site}, so its {class_name} cannot be counted or "
            "compared over time."
        )
        return KeyJudgement(text, None, None, confidence)
    first, last = full[0], full[-1]
    latest = (
        f"{last.estimate:.0f} {class_name} on {last.date} "
        f"(90 % interval {last.low:.0f}–{last.high:.0f})"
    )
    tested = [s for s in steps if s.baseline is not None]
    if not tested:
        text = (
            f"{len(full)} full-coverage view(s) of {site} between {first.date} and {last.date} "
            f"are too few to say whether it is busier than usual (the method needs more than "
            f"{min_baseline}). Latest: {latest}."
        )
        return KeyJudgement(text, None, None, confidence)
    usual = f"a usual {tested[-1].baseline:.0f}"
    ended = [e for e in episodes if not e.ongoing]
    earlier = "".join(
        f" An earlier elevated period ran from {_day(e.start)} until {_day(e.end)} "
        f"({e.magnitude:+.0%})."
        for e in ended
    )
    current = next((e for e in episodes if e.ongoing), None)
    if current is None:
        text = (
            f"Imagery of {site} from {first.date} to {last.date} shows no buildup of "
            f"{class_name} beyond its usual variation: {latest} against {usual}.{earlier}"
        )
        return KeyJudgement(text, None, None, confidence)
    term = term_for(current.confidence)
    text = (
        f"It is {term} that {site} has held more {class_name} than usual since "
        f"{_day(current.start)}: {latest} against a usual {current.baseline:.0f} before the rise "
        f"({current.magnitude:+.0%}).{earlier}"
    )
    return KeyJudgement(text, current.confidence, term, confidence)


def _day(t: datetime | None) -> str:
    return day(t, "now")
