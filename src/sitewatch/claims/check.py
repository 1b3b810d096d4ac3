"""Check a claim against the site's own monitoring. The rules, in order:

1. **Not observable** when the claim states nothing imagery can test (no ``expects``), names a
   class the detector does not find, the site has not been monitored, or no counted view falls
   in the window.
2. **construction** (mirrored for **destruction**) is weighed on the site's stored pixel change
   (``sitewatch change``), over the pairs of dates whose span meets the window: supported when
   the new structure (regions marked *appeared*; *removed* for destruction) adds up to at least
   one small building (``MIN_STRUCTURE_M2``, or ``MIN_STRUCTURE_PX`` frame pixels where the
   pixel size is unknown); contradicted when it stays below that over pairs that span the
   whole window; else consistent. Not observable without a stored pair meeting the window.
   A change method without measured accuracy on labelled change never decides: what it would
   support or contradict is "consistent but not conclusive" (all methods today).
3. **presence**: supported if any counted view in the window (a partial one too: objects seen
   are there) has the class with a 90 % interval above zero; contradicted if every full view
   shows none with an interval below one; else consistent but not conclusive.
4. **absence**: contradicted if any counted view shows the class (interval above zero);
   supported if every full view in the window shows none (interval below one); not observable
   with partial views only (a partial view cannot show that something is absent anywhere).
5. **increase** (mirrored for **decrease**): the reference is the last full view before the
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

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sitewatch.change.stored import StoredChange
from sitewatch.claims.ledger import EXPECTS, StoredClaim, origin_key
from sitewatch.dates import day
from sitewatch.monitor.counts import Count
from sitewatch.monitor.stored import StoredMonitoring
from sitewatch.uncertainty import Accuracy, estimate, interval

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
    change: list[dict[str, Any]] = field(default_factory=list)  # the pixel change weighed
    # images dated in the window found to reuse an earlier acquisition: left out, flagged
    recycled: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return STATUSES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "label": self.label, "reasons": self.reasons,
            "caveats": self.caveats, "evidence": self.evidence, "origins": self.origins,
            "source_count": self.sources, "change_evidence": self.change,
            "recycled": self.recycled,
        }  # fmt: skip


def check_claim(claim: StoredClaim, m: StoredMonitoring) -> Verdict:
    """The claim's status against the site's stored monitoring ``m``."""
    origins = len({origin_key(s["origin"]) for s in claim.sources})
    recycled = _recycled(claim, m)
    # monitoring leaves a reused image out of the counts and the pairs compared; the
    # claim names what was left out, so a reader sees why a "new" image did not count
    left_out = [f"left out: {r['image']}, dated {r['date']}{_by(r)}, is the same acquisition "
                f"as {r['reuses']} ({r['reuses_date'] or 'undated'}): a reused image is no "
                "view of its own date" for r in recycled]  # fmt: skip
    if claim.expects in BUILT:
        status, reasons, changes = _built(claim, m)
        caveats = _change_caveats(claim, changes)
        weighed = [sha for c in changes for sha in (c["before_sha256"], c["after_sha256"])]
        status, reasons, caveats = _doubted(m, weighed, status, reasons, caveats)
        return Verdict(status, reasons + left_out, [], caveats, origins, len(claim.sources),
                       changes, recycled)  # fmt: skip
    status, reasons, evidence = _judge(claim, m, m.detectable)
    said = " ".join(reasons)  # a window with nothing else to count already names it
    reasons = reasons + [line for r, line in zip(recycled, left_out, strict=True)
                         if r["image"] not in said]  # fmt: skip
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
    status, reasons, caveats = _doubted(m, [e["sha256"] for e in evidence], status, reasons,
                                        caveats)  # fmt: skip
    return Verdict(status, reasons, evidence, caveats, origins, len(claim.sources),
                   recycled=recycled)  # fmt: skip


def _doubted(
    m: StoredMonitoring, shas: list[str], status: str, reasons: list[str], caveats: list[str]
) -> tuple[str, list[str], list[str]]:
    """A view whose own sun or metadata contradicts its claimed time or place decides
    nothing: what it would support or contradict is "consistent but not conclusive", with
    the finding as a caveat."""
    found = [(m.images[sha], f) for sha in dict.fromkeys(shas) if sha in m.images
             for f in m.images[sha].contradicted]  # fmt: skip
    if not found:
        return status, reasons, caveats
    notes = [f"{im.name}'s own {f.check} contradicts its claimed time or provenance: "
             f"{f.summary}" for im, f in found]  # fmt: skip
    if status in ("supported", "contradicted"):
        names = ", ".join(dict.fromkeys(im.name for im, _f in found))
        reasons = [f"the imagery would have {status} it, but the claimed time or place of "
                   f"{names} is contradicted by the image itself (`sitewatch verify`): not "
                   "conclusive", *reasons]  # fmt: skip
        status = "consistent"
    return status, reasons, caveats + notes


def _recycled(claim: StoredClaim, m: StoredMonitoring) -> list[dict[str, Any]]:
    """The site's images dated in the claim's window that ``sitewatch verify recycled``
    found to reuse an earlier acquisition."""
    out = []
    for rec in m.images.values():
        f = rec.reuses
        if f is None or rec.acquired_at is None:
            continue
        if not _within(rec.acquired_at.date(), claim.start, claim.end):
            continue
        out.append({
            "image": rec.name, "sha256": rec.sha256, "date": day(rec.acquired_at),
            "provider": rec.provider, "illustrative": rec.date_is_illustrative,
            "reuses": f.related_name, "reuses_sha256": f.related_sha256,
            "reuses_date": day(f.related_acquired_at), "summary": f.summary,
        })  # fmt: skip
    return sorted(out, key=lambda r: (r["date"], r["image"]))


def _by(r: dict[str, Any]) -> str:
    return f" from {r['provider']}" if r["provider"] else ""


def _judge(
    claim: StoredClaim, m: StoredMonitoring, detectable: list[str]
) -> tuple[str, list[str], list[dict[str, Any]]]:
    window = _window_text(claim.start, claim.end)
    if claim.expects is None:
        return _no("the claim states nothing imagery could test (give it an expectation: "
                   f"{', '.join(EXPECTS[:-1])} or {EXPECTS[-1]})")  # fmt: skip
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


# what construction and destruction claims weigh: the change kind and what it is in words
BUILT = {
    "construction": ("appeared", "new structure"),
    "destruction": ("removed", "structure gone"),
}
# at least one small building (a house is about 100 m²); 20 × 20 frame pixels without scale
MIN_STRUCTURE_M2 = 100.0
MIN_STRUCTURE_PX = 400.0
# change methods measured on real labelled change and on real quiet pairs (bench/change.py:
# the change model finds most buildings the Joplin tornado destroyed, and its false change on
# quiet pairs rides with each run); the training-free baselines call 23–97 % of season-only
# pairs changed and have no such figures (bench/RESULTS.md)
MEASURED_CHANGE_METHODS: frozenset[str] = frozenset({"model"})
# claims that missing change may contradict: none. The measured method finds 69 % of the
# real destroyed Joplin buildings (half the footprint called changed) and was never measured
# on real construction: a single house missed a third of the time is no contradiction
RECALL_MEASURED: frozenset[str] = frozenset()
MAX_OUTLINES = 50  # the largest regions of a pair kept as evidence


def _built(claim: StoredClaim, m: StoredMonitoring) -> tuple[str, list[str], list[dict[str, Any]]]:
    kind, words = BUILT[str(claim.expects)]
    window = _window_text(claim.start, claim.end)
    if not m.pixel_change:
        return _no(f"no pixel change is stored for {m.site}: run `sitewatch change {m.site}` "
                   "(after `sitewatch register`)")  # fmt: skip
    dated = [c for c in m.pixel_change if c.before_date and c.after_date]
    span = [c for c in dated if _meets(c, claim.start, claim.end)]
    if not span:
        seen = ", ".join(f"{_d(c.before_date)}→{_d(c.after_date)}" for c in dated) or "none dated"
        return "not_observable", [f"no compared pair of dates meets the window {window} "
                                  f"(pairs: {seen})"], []  # fmt: skip
    evidence = [_change_view(c, kind) for c in span]
    metric = span[0].metric  # one site frame: all pairs share its pixel size
    unit, floor = ("m²", MIN_STRUCTURE_M2) if metric else ("frame px", MIN_STRUCTURE_PX)
    area = sum(c.area(kind) for c in span)
    regions = sum(1 for c in span for r in c.regions if r.kind == kind)
    first, last = _d(span[0].before_date), _d(span[-1].after_date)
    whole = (claim.start is None or min(_d(c.before_date) for c in span) <= str(claim.start)) and (
        claim.end is None or max(_d(c.after_date) for c in span) >= str(claim.end)
    )
    found = f"{area:,.0f} {unit} of {words} in {regions} region(s) between {first} and {last}"
    # what the method calls changed on quiet pairs of dates, over these pairs' areas, at
    # the rate of false alarms their run stated (only where measured: the change model)
    levels = [c.quiet_level for c in span]
    quiet: float | None = None
    if all(level is not None for level in levels):
        quiet = sum((level or 0.0) * c.compared for level, c in zip(levels, span, strict=True))
    rates = sorted({c.false_alarm for c in span if c.false_alarm is not None})
    pairs = "each pair" if len(span) > 1 else "the pair"
    beyond = f"{quiet:,.0f} {unit}, the change of every kind that quiet pairs of dates " \
             f"reach once in {1 / max(rates):,.0f} ({pairs}'s compared area times that " \
             "share)" if quiet is not None and rates else None  # fmt: skip
    if area >= floor and (quiet is None or area > quiet):
        status = "supported"
        reason = f"{found}: at least one small building ({floor:,.0f} {unit})" + (
            f" and more than {beyond}" if beyond else ""
        )
    elif area >= floor:
        status = "consistent"
        reason = f"{found}: no more than {beyond}, so not beyond what seasons and light make"
    elif whole:
        status = "contradicted"
        reason = f"{found}, less than one small building ({floor:,.0f} {unit}), over dates that " \
                 f"span the whole window"  # fmt: skip
    else:
        status = "consistent"
        reason = f"{found}; the compared dates do not span the whole window {window}"
    reasons = [reason]
    methods = sorted({c.method for c in span})
    if status == "contradicted" and claim.expects not in RECALL_MEASURED:
        reasons.insert(0, f"the pixel change would have contradicted it, but its method "
                          f"misses too much real {words} for an absence to tell (a third of "
                          "the destroyed buildings measured; construction unmeasured): not "
                          "conclusive")  # fmt: skip
        status = "consistent"
    if status != "consistent" and (quiet is None or not set(methods) <= MEASURED_CHANGE_METHODS):
        # a change method that cries wolf on seasons proves nothing alone (bench/RESULTS.md)
        reasons.insert(0, f"the pixel change would have {status} it, but its method "
                          f"({', '.join(methods)}) has no measured accuracy on labelled change "
                          "and quiet pairs: not conclusive")  # fmt: skip
        status = "consistent"
    return status, reasons, evidence


def _meets(c: StoredChange, start: date | None, end: date | None) -> bool:
    """The pair's span (its two dates) meets the window."""
    assert c.before_date is not None and c.after_date is not None  # _built keeps dated pairs
    return (end is None or c.before_date.date() <= end) and (
        start is None or c.after_date.date() >= start
    )


def _change_view(c: StoredChange, kind: str) -> dict[str, Any]:
    """One pair of dates as evidence: its areas and the outlines of its largest regions of
    ``kind`` (GeoJSON geometry in lon/lat on a map frame, else in site-frame pixels)."""
    import shapely
    from shapely.geometry import mapping

    from sitewatch.formats.geojson import geometry as lonlat_geometry
    from sitewatch.formats.geojson import rounded

    mine = sorted((r for r in c.regions if r.kind == kind), key=lambda r: -r.area_px)
    outlines = []
    for r in mine[:MAX_OUTLINES]:
        area = _r(c.region_area(r))
        geometry = (
            lonlat_geometry(shapely.from_wkt(r.wgs84_wkt))  # RFC 7946
            if r.wgs84_wkt
            else rounded(mapping(shapely.from_wkt(r.frame_wkt)), 1)  # a tenth of a pixel
        )
        outlines.append({"area": area, "geometry": geometry})
    return {
        **c.summary(digits=1),
        "kind": kind,
        "kind_area": _r(c.area(kind)),
        "regions": len(mine),
        "coordinates": "lonlat" if any(r.wgs84_wkt for r in mine) else "frame_px",
        "outlines": outlines,
    }


def _change_caveats(claim: StoredClaim, ev: list[dict[str, Any]]) -> list[str]:
    notes = []
    if any(e["illustrative"] for e in ev):
        notes.append("dates are illustrative: the window test is only as real as the dates")
    if (claim.start and any(e["before_date"] < str(claim.start) for e in ev)) or (
        claim.end and any(e["after_date"] > str(claim.end) for e in ev)
    ):
        notes.append("a compared pair reaches outside the window: the change may have "
                     "happened before or after it")  # fmt: skip
    return notes


def _d(when: datetime | None) -> str:
    return "" if when is None else when.date().isoformat()


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
    # two counts of one site share the detector's place-to-place spread (a place where it
    # misses more misses more on every date): a rise or fall is weighed on the rest, the
    # sampling error, as alerts are
    acc = m.accuracy(cls)  # checked figures (None where unmeasured or impossible)
    shared = (
        " (without the place-to-place spread both counts share)" if acc and acc.dispersion else ""
    )
    ref_low, ref_high = _sampling(reference, acc)
    bounds = [_sampling(c, acc) for c in later]
    ext_low, ext_high = bounds[later.index(extreme)]
    moved = f"from {_n(reference)} ({_interval(reference)}) on {reference.date} to " \
            f"{_n(extreme)} ({_interval(extreme)}) on {extreme.date}"  # fmt: skip
    if (rise and ext_low > ref_high) or (not rise and ext_high < ref_low):
        status = "supported"
        reason = f"{cls} went {moved}: the 90 % intervals of their sampling error{shared}, " \
                 f"{ref_low:.0f}–{ref_high:.0f} and {ext_low:.0f}–{ext_high:.0f}, do not " \
                 "overlap"  # fmt: skip
    elif (rise and all(high <= _est(reference) for _, high in bounds)) or (
        not rise and all(low >= _est(reference) for low, _ in bounds)
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


def _sampling(c: Count, acc: Accuracy | None) -> tuple[float, float]:
    """A count's 90 % interval from sampling alone: made again from its detected count and
    the class's precision and recall without the dispersion (its stated one where the
    figures are unmeasured)."""
    if acc is None or c.count is None:
        return _low(c), _high(c)
    return interval(*estimate(c.count, replace(acc, dispersion=0.0)))


def _interval(c: Count) -> str:
    return (
        f"{c.low:.0f}–{c.high:.0f}" if c.low is not None and c.high is not None else "no interval"
    )


def _part(c: Count) -> str:
    return f" (partial view, {c.coverage:.0%} of the site)" if c.partial and c.coverage else ""


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 1)
