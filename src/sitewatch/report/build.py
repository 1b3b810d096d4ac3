"""The report's content as plain data: the machine-readable twin (``report.json``) of the HTML.

Every number the HTML shows comes from this dictionary, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from sitewatch import __version__
from sitewatch.alerts.calibration import threshold_for
from sitewatch.change.stored import StoredChange
from sitewatch.claims.check import check_claim
from sitewatch.claims.exchange import claim_dict
from sitewatch.claims.ledger import StoredClaim
from sitewatch.dates import day, day_or_none, iso
from sitewatch.monitor.stored import StoredMonitoring
from sitewatch.report.data import judge
from sitewatch.report.language import SCALE, term_for
from sitewatch.report.verification import finding_dict, verification


def report_dict(
    m: StoredMonitoring,
    start: date | None = None,
    end: date | None = None,
    claims: Sequence[StoredClaim] = (),
) -> dict[str, Any]:
    """The report of a site's monitoring, limited to ``start``…``end`` (inclusive), with
    ``claims`` about the site checked against it.

    The baseline and alerts still use the whole history before ``end``: a period's first
    weeks are judged against what came before them, not against nothing. Claims are checked
    against the whole record, whatever the period shown.
    """

    def within(t: datetime | None, lower: bool = True) -> bool:
        if t is None:
            return True  # undated images are listed (as excluded), never dropped silently
        d = t.date()
        return (start is None or not lower or d >= start) and (end is None or d <= end)

    counts = [c for c in m.counts if within(c.acquired_at, lower=False)]
    shown = [c for c in counts if within(c.acquired_at)]
    out: dict[str, Any] = {
        "sitewatch": __version__,
        "generated_at": iso(datetime.now(UTC)),
        "site": m.site,
        "period": {
            "from": day_or_none(start),
            "to": day_or_none(end),
        },
        "note": m.note,
        "classes": m.classes,
        "judgements": {},
        "series": {},
        "episodes": {},
    }
    for cls in m.classes:
        steps = [s for s in m.steps[cls] if within(s.t, lower=False)]
        episodes = [e for e in m.episodes[cls] if within(e.start, lower=False)]
        kj = judge(m, cls, counts, steps, episodes)
        out["judgements"][cls] = {
            "text": kj.text,
            "likelihood": kj.likelihood,
            "term": kj.term.phrase if kj.term else None,
            "term_range": [kj.term.low, kj.term.high] if kj.term else None,
            "confidence": kj.confidence.level,
            "confidence_reasons": list(kj.confidence.reasons),
        }
        by_time = {s.t: s for s in steps}
        rows = []
        for c in shown:
            if c.class_name != cls or not c.used:  # a class its model never ran for: images
                continue
            step = (
                by_time.get(c.acquired_at) if c.acquired_at is not None and not c.partial else None
            )
            rows.append({
                "date": c.date, "image": c.name, "sha256": c.sha256, "count": c.count,
                "estimate": _r(c.estimate), "low": _r(c.low), "high": _r(c.high),
                "coverage": _r(c.coverage, 3), "partial": c.partial,
                "baseline": _r(step.baseline) if step else None,
                "usual_low": _r(step.low) if step else None,
                "usual_high": _r(step.high) if step else None,
                "state": step.state if step else ("partial" if c.partial else None),
            })  # fmt: skip
        out["series"][cls] = rows
        out["episodes"][cls] = [
            {"start": day(e.start), "alarm": day(e.alarm),
             "end": day_or_none(e.end), "ongoing": e.ongoing,
             "baseline": _r(e.baseline), "peak": _r(e.peak), "magnitude": _r(e.magnitude, 3),
             "likelihood": _r(e.confidence, 3), "term": term_for(e.confidence).phrase,
             "observations": e.observations}
            for e in episodes
        ]  # fmt: skip
    names = {sha: rec.name for sha, rec in m.images.items()}
    out["changes"] = [
        {"before": names[b], "after": names[a], "before_sha256": b, "after_sha256": a,
         "before_date": _date(m, b), "after_date": _date(m, a), "stayed": t.get("stayed", 0),
         "appeared": t.get("appeared", 0), "departed": t.get("departed", 0)}
        for (b, a), t in m.changes.items()
        if within(m.images[a].acquired_at)
    ]  # fmt: skip
    out["before_after"] = before_after(out["changes"], out["episodes"])
    out["pixel_change"] = [
        _pixel_change(c) for c in m.pixel_change if within(c.after_date) and c.after_date
    ]
    out["pixel_change_figures"] = pixel_change_figures(out["pixel_change"])
    used = {c.sha256 for c in counts if c.used}
    why: dict[str, list[str]] = {}
    for c in counts:  # an image left out whole has one reason; a class left out, its own
        if not c.used and c.reason and c.reason not in why.setdefault(c.sha256, []):
            why[c.sha256].append(c.reason)
    reasons = {sha: "; ".join(said) for sha, said in why.items() if said}
    records = sorted(m.images.values(), key=lambda rec: (iso(rec.acquired_at), rec.name))
    out["images"] = [
        {**asdict(rec), "acquired_at": iso(rec.acquired_at), "used": rec.sha256 in used,
         "findings": [finding_dict(f) for f in rec.findings],
         "registration": _registration(m.registration.get(rec.sha256)),
         "reason": reasons.get(rec.sha256)}
        for rec in records
        if within(rec.acquired_at)
    ]  # fmt: skip
    out["verification"] = verification(m.site, [r for r in records if within(r.acquired_at)])
    # the detector behind each class's series, with its held-out figures
    out["detectors"] = {cls: _detector(m.detectors.get(cls, {})) for cls in m.classes}
    out["alerts"] = {
        "method": "median baseline of log counts + one-sided CUSUM (sitewatch.alerts.method)",
        "far_per_year": m.alerts.far_per_year,
        "threshold_h": threshold_for(m.alerts.far_per_year, m.alerts),
        "min_baseline": m.alerts.min_baseline,
    }
    out["claims"] = [claim_dict(c, check_claim(c, m)) for c in claims]
    out["scale"] = [{"phrase": t.phrase, "low": t.low, "high": t.high} for t in SCALE]
    return out


LARGE_CHANGE = 0.2  # appeared + departed, as a share of the larger count of the pair
MAX_FIGURES = 3


def before_after(
    changes: list[dict[str, Any]], episodes: dict[str, list[dict]]
) -> list[dict[str, Any]]:
    """The pairs a report shows side by side: where an alert episode starts, then the
    largest changes (at least 3 objects and ``LARGE_CHANGE`` of the pair's larger count)."""
    starts = {e["start"] for eps in episodes.values() for e in eps}
    picked = []
    for c in sorted(changes, key=lambda c: -(c["appeared"] + c["departed"])):
        moved = c["appeared"] + c["departed"]
        larger = max(c["stayed"] + c["departed"], c["stayed"] + c["appeared"], 1)
        if c["after_date"] in starts:
            why = "an alert episode starts"
        elif moved >= 3 and moved >= LARGE_CHANGE * larger:
            why = f"large change: {moved} objects appeared or departed"
        else:
            continue
        picked.append({**c, "why": why})
    picked.sort(key=lambda c: c["why"] != "an alert episode starts")
    return sorted(picked[:MAX_FIGURES], key=lambda c: c["after_date"] or "")


def _pixel_change(c: StoredChange) -> dict[str, Any]:
    """One stored pair of dates' pixel change, by kind, in m² (frame px without scale)."""
    return {**c.summary(digits=0), "changed_share": _r(c.changed_share, 3)}


MAX_CHANGE_FIGURES = 2
MIN_CHANGE_FIGURE = 0.001  # a pair shown side by side changed at least this share


def pixel_change_figures(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pairs of dates a report shows with their change outlined: the largest changes
    (at least ``MIN_CHANGE_FIGURE`` of the compared area), in date order."""
    big = [p for p in pairs if (p["changed_share"] or 0) >= MIN_CHANGE_FIGURE]
    big.sort(key=lambda p: -(p["changed"] or 0))
    return sorted(big[:MAX_CHANGE_FIGURES], key=lambda p: p["after_date"] or "")


def _date(m: StoredMonitoring, sha: str) -> str | None:
    t = m.images[sha].acquired_at
    return day_or_none(t)


def _registration(reg: dict[str, Any] | None) -> dict[str, Any] | None:
    """An image's registration with its residual in hundredths of a pixel: the fit is not
    known to nine decimals, and the printed table has no room for them."""
    if reg is None:
        return None
    return {**reg, "rmse_px": _r(reg["rmse_px"], 2), "overlap": _r(reg["overlap"], 3)}


def _detector(d: dict[str, Any]) -> dict[str, Any]:
    measured = d.get("precision") is not None and not str(d.get("accuracy_source")).startswith(
        "unknown"
    )
    return {
        "name": d.get("name"),
        "version": d.get("version"),
        "threshold": _r(d.get("threshold"), 3),
        "experimental": bool(d.get("experimental")),
        "accuracy_source": d.get("accuracy_source"),
        "precision": _r(d.get("precision"), 3) if measured else None,
        "recall": _r(d.get("recall"), 3) if measured else None,
        "ap50": _r(d.get("ap50"), 3),
        "ap50_95": _r(d.get("ap50_95"), 3),
        "count_error": _r(d.get("count_mare"), 3),
        "count_spread": _r(d.get("count_dispersion"), 3) if measured else None,
        "held_out": d.get("held_out"),
    }


def _r(value: float | None, digits: int = 1) -> float | None:
    """Numbers as the report prints them, so HTML and JSON hold the same ones."""
    return None if value is None else round(float(value), digits)
