"""Check a claim against the site's own monitoring. The rules, in order:

1. **Not observable** when the claim states nothing imagery can test (no ``expects``), expects
   *construction* (sitewatch counts objects; it does not measure building change), names a
   class the detector does not find, the site has not been monitored, or no counted view falls
   in the window.
2. **presence**: supported if any counted view in the window (a partial one too: objects seen
   are there) has the class with a 90 % interval above zero; contradicted if every full view
   shows none with an interval below one; else consistent but not conclusive.
3. **absence**: contradicted if any counted view shows the class (interval above zero);
   supported if every full view in the window shows none (interval below one); not observable
   with partial views only (a partial view cannot show that something is absent anywhere).
4. **increase** (mirrored for **decrease**): the reference is the last full view before the
   window (else its first full view); supported when a later full view in the window lies
   above it with disjoint 90 % intervals, or an alert episode of the class overlaps the
   window; contradicted when no later view's upper bound even reaches the reference estimate;
   else consistent but not conclusive. Not observable without a reference and a later view.

Partial views never decide a change (their count covers less ground). Counts from an
experimental model never decide a claim either: what they would support or contradict is
"consistent but not conclusive", with the reason. Illustrative dates, an unmeasured detector
and few views are stated as caveats beside the status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sitewatch.claims.ledger import StoredClaim, origin_key
from sitewatch.monitor.counts import Count
from sitewatch.monitor.stored import StoredMonitoring

STATUSES = {
    "supported": "supported by imagery",
    "consistent": "consistent but not conclusive",
    "contradicted": "contradicted by imagery",
    "not_observable": "not observable with the available imagery",
}


@dataclass(frozen=True)
class Verdict:
    status: str  # a key of STATUSES
    reasons: list[str]
    evidence: list[dict[str, Any]] = field(default_factory=list)  # the views weighed
    caveats: list[str] = field(default_factory=list)
    origins: int = 0  # independent origins among the claim's sources
    sources: int = 0

    @property
    def label(self) -> str:
        return STATUSES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "label": self.label, "reasons": self.reasons,
            "caveats": self.caveats, "evidence": self.evidence, "origins": self.origins,
            "source_count": self.sources,
        }  # fmt: skip


def check_claim(claim: StoredClaim, m: StoredMonitoring) -> Verdict:
    """The claim's status against the site's stored monitoring ``m``."""
    origins = len({origin_key(s["origin"]) for s in claim.sources})
    status, reasons, evidence = _judge(claim, m, m.detectable)
    cls = claim.class_name or (m.classes[0] if len(m.classes) == 1 else None)
    caveats = _caveats(evidence, m, cls)
    detector = m.detectors.get(cls, {}) if cls is not None else {}
    if detector.get("experimental") and status in ("supported", "contradicted"):
        # an experimental model's counts are leads, not evidence (its card says why)
        reasons = [
            f"the {cls} counts would have {status} it, but they come from an experimental "
            f"model ({detector.get('name', 'unnamed')}): not conclusive",
            *reasons,
        ]
        status = "consistent"
    return Verdict(status, reasons, evidence, caveats, origins, len(claim.sources))


def _judge(
    claim: StoredClaim, m: StoredMonitoring, detectable: list[str]
) -> tuple[str, list[str], list[dict[str, Any]]]:
    window = _window_text(claim.start, claim.end)
    if claim.expects is None:
        return _no("the claim states nothing imagery could test (give it an expectation: "
                   "increase, decrease, presence or absence)")  # fmt: skip
    if claim.expects == "construction":
        return _no("sitewatch counts objects; it does not yet measure construction or other "
                   "building change, so imagery here cannot check this claim")  # fmt: skip
    if m.run_id is None:
        return _no(m.note or f"{m.site} has not been monitored")
    cls = claim.class_name or (m.classes[0] if len(m.classes) == 1 else None)
    if cls is None:
        return _no(f"the claim names no object class and {m.site} has several: "
                   f"{', '.join(m.classes)}")  # fmt: skip
    if cls not in detectable:
        found = ", ".join(detectable) or "nothing yet"
        return _no(f"the site's detectors find {found}; {cls!r} is not among them")
    dated = [c for c in m.counts if c.acquired_at is not None]
    inside = [c for c in dated if _within(_at(c).date(), claim.start, claim.end)]
    views = [c for c in inside if c.class_name == cls and c.used]
    if not inside:
        seen = ", ".join(sorted({c.date for c in dated})) or "none"
        return _no(f"no image of {m.site} {window} (images on: {seen})")
    if not views:
        why = "; ".join(sorted({f"{c.name}: {c.reason}" for c in inside
                                if not c.used and c.class_name in (None, cls)}))  # fmt: skip
        return _no(f"no image {window} could be counted ({why})")
    full = [c for c in views if not c.partial]
    evidence = [_view(c) for c in views]
    if claim.expects == "presence":
        return (*_presence(cls, views, full, window), evidence)
    if claim.expects == "absence":
        return (*_absence(cls, views, full, window), evidence)
    status, reasons, before = _change(claim, cls, m, dated, full, window)
    if before is not None and before not in views:
        evidence.insert(0, _view(before) | {"reference": True})
    elif before is not None:
        evidence[views.index(before)]["reference"] = True
    return status, reasons, evidence


def _no(reason: str) -> tuple[str, list[str], list[dict[str, Any]]]:
    return "not_observable", [reason], []


def _presence(
    cls: str, views: list[Count], full: list[Count], window: str
) -> tuple[str, list[str]]:
    seen = [c for c in views if _low(c) >= 1]
    if seen:
        best = max(seen, key=_est)
        return "supported", [f"{_n(best)} {cls} on {best.date}{_part(best)}: the 90 % interval "
                             "excludes zero"]  # fmt: skip
    if any((c.count or 0) > 0 for c in views):
        c = max(views, key=lambda c: c.count or 0)
        return "consistent", [f"{c.count} possible {cls} on {c.date}, but the interval "
                              f"({_interval(c)}) does not exclude zero"]  # fmt: skip
    if full and all(_high(c) < 1 for c in full):
        return "contradicted", [f"no {cls} in any of {len(full)} full view(s) {window}, each "
                                "with an upper bound below one"]  # fmt: skip
    return "consistent", [f"no {cls} detected {window}, but the views cannot rule them out"]


def _absence(cls: str, views: list[Count], full: list[Count], window: str) -> tuple[str, list[str]]:
    seen = [c for c in views if _low(c) >= 1]
    if seen:
        best = max(seen, key=_est)
        return "contradicted", [f"{_n(best)} {cls} on {best.date}{_part(best)} (90 % "
                                f"{_interval(best)})"]  # fmt: skip
    if not full:
        return "not_observable", [f"only partial views {window}: they cannot show that no "
                                  f"{cls} are anywhere on the site"]  # fmt: skip
    if all(_high(c) < 1 for c in full):
        return "supported", [f"no {cls} in any of {len(full)} full view(s) {window}"]
    return "consistent", [f"no {cls} confirmed {window}, but some views cannot rule them out"]


def _change(
    claim: StoredClaim, cls: str, m: StoredMonitoring, dated: list[Count], full: list[Count],
    window: str,
) -> tuple[str, list[str], Count | None]:  # fmt: skip
    rise = claim.expects == "increase"
    word = "rise" if rise else "fall"
    before_window = [
        c for c in dated
        if c.class_name == cls and c.used and not c.partial and claim.start is not None
        and _at(c).date() < claim.start
    ]  # fmt: skip
    reference = before_window[-1] if before_window else (full[0] if full else None)
    later = [c for c in full if reference is not None and _at(c) > _at(reference)]
    episodes = [
        e for e in m.episodes.get(cls, [])
        if (claim.end is None or e.start.date() <= claim.end)
        and (claim.start is None or e.end is None or e.end.date() >= claim.start)
    ]  # fmt: skip
    if rise and episodes:
        e = episodes[0]
        return (
            "supported",
            [
                f"an alert episode for {cls} from {e.start.date()} (alarm {e.alarm.date()}) "
                f"overlaps the window: peak {e.peak:.0f} against a usual {e.baseline:.0f}"
            ],
            reference,
        )
    if reference is None or not later:
        return (
            "not_observable",
            [
                f"a {word} needs a full view before or at the start of the window and a later "
                f"one within it; {window} there are {len(full)} full view(s)"
            ],
            reference,
        )
    level = [_est(c) for c in later]
    extreme = later[level.index(max(level) if rise else min(level))]
    moved = f"from {_n(reference)} ({_interval(reference)}) on {reference.date} to " \
            f"{_n(extreme)} ({_interval(extreme)}) on {extreme.date}"  # fmt: skip
    if (rise and _low(extreme) > _high(reference)) or (
        not rise and _high(extreme) < _low(reference)
    ):
        status, reason = "supported", f"{cls} went {moved}: the 90 % intervals do not overlap"
    elif (rise and all(_high(c) <= _est(reference) for c in later)) or (
        not rise and all(_low(c) >= _est(reference) for c in later)
    ):
        status = "contradicted"
        reason = (
            f"no later view {window} could be {'above' if rise else 'below'} the "
            f"{reference.date} count of {_n(reference)}: {cls} went {moved}"
        )
    else:
        status = "consistent"
        reason = f"{cls} went {moved}; the intervals overlap, so the {word} is not established"
    return status, [reason, *_object_change(m, reference, extreme)], reference


def _object_change(m: StoredMonitoring, first: Count, last: Count) -> list[str]:
    """What object matching saw between the two views, over the consecutive pairs between."""
    when = {sha: rec.acquired_at for sha, rec in m.images.items()}
    appeared = departed = pairs = 0
    for (before, after), tally in m.changes.items():
        b, a = when.get(before), when.get(after)
        if b and a and _at(first) <= b and a <= _at(last):
            appeared += tally.get("appeared", 0)
            departed += tally.get("departed", 0)
            pairs += 1
    if not pairs:
        return []
    return [f"object matching over {pairs} consecutive pair(s) between those dates: "
            f"{appeared} appeared, {departed} departed"]  # fmt: skip


def _at(c: Count) -> datetime:
    """When a view was taken; every view weighed here comes from the dated counts."""
    assert c.acquired_at is not None  # _judge keeps only dated counts
    return c.acquired_at


def _caveats(evidence: list[dict[str, Any]], m: StoredMonitoring, cls: str | None) -> list[str]:
    """What weakens the evidence: illustrative dates, and an unmeasured detector of the
    claim's class (each class is counted by its own model, with its own accuracy)."""
    notes = []
    if any(e["illustrative"] for e in evidence):
        notes.append("dates are illustrative: the window test is only as real as the dates")
    acc = m.accuracy(cls) if cls is not None else None
    if evidence and (acc is None or acc.source.startswith("unknown")):
        notes.append("the detector's precision and recall are not measured")
    return notes


def _view(c: Count) -> dict[str, Any]:
    return {
        "date": c.date, "image": c.name, "sha256": c.sha256, "count": c.count,
        "estimate": _r(c.estimate), "low": _r(c.low), "high": _r(c.high),
        "partial": c.partial, "illustrative": c.date_is_illustrative,
    }  # fmt: skip


def _within(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _window_text(start: date | None, end: date | None) -> str:
    if start and end:
        return f"between {start} and {end}"
    if start:
        return f"from {start}"
    if end:
        return f"up to {end}"
    return "at any date"


def _low(c: Count) -> float:
    return c.low if c.low is not None else float(c.count or 0)


def _est(c: Count) -> float:
    return c.estimate if c.estimate is not None else float(c.count or 0)


def _high(c: Count) -> float:
    return c.high if c.high is not None else float(c.count or 0)


def _n(c: Count) -> str:
    return f"{c.estimate:.0f}" if c.estimate is not None else str(c.count)


def _interval(c: Count) -> str:
    return (
        f"{c.low:.0f}–{c.high:.0f}" if c.low is not None and c.high is not None else "no interval"
    )


def _part(c: Count) -> str:
    return f" (partial view, {c.coverage:.0%} of the site)" if c.partial and c.coverage else ""


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 1)
