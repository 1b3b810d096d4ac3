"""What a report is made of, read back from the catalog (the store is the only shared state).

``sitewatch monitor`` stores one Observation per image and class, the object changes and the
alert episodes. The report reads those rows, re-runs the alert scan over the stored counts
with the stored configuration (deterministic, so it sees the baseline exactly as monitoring
did), and turns the lot into the evidence the confidence rules weigh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import func, select

from sitewatch.alerts import AlertConfig, Step
from sitewatch.alerts.method import Episode
from sitewatch.monitor.counts import Z90, Accuracy, Count, model_metrics, run_accuracy
from sitewatch.monitor.stage import alert_scan
from sitewatch.register.site import registrations
from sitewatch.report.judgement import KeyJudgement, key_judgement
from sitewatch.report.language import Evidence, assess_confidence
from sitewatch.sites.registry import SiteImage, site_summary
from sitewatch.store.catalog import Catalog, latest_detect_run
from sitewatch.store.models import Image, ObjectChange, Observation, Registration, Run


@dataclass
class StoredMonitoring:
    """A site's last monitoring, as stored."""

    site: str
    run_id: int | None  # None: never monitored (``note`` says why)
    alerts: AlertConfig
    counts: list[Count]  # time order; images left out carry their reason
    accuracy: Accuracy | None  # of the detector behind the counts
    detector: dict[str, Any] = field(default_factory=dict)  # name, version, held-out metrics
    steps: dict[str, list[Step]] = field(default_factory=dict)
    episodes: dict[str, list[Episode]] = field(default_factory=dict)
    images: dict[str, SiteImage] = field(default_factory=dict)  # provenance, by sha256
    # how each image registered: method, status, reason, inliers, rmse_px, overlap
    registration: dict[str, dict[str, Any]] = field(default_factory=dict)
    # object change per consecutive pair: (before sha256, after sha256) → kind → count
    changes: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    note: str | None = None  # what the report must say up front when nothing was counted

    @property
    def classes(self) -> list[str]:
        return sorted({c.class_name for c in self.counts if c.class_name})


def load_monitoring(catalog: Catalog, name: str) -> StoredMonitoring:
    """Read a site's stored monitoring and re-derive its alert steps and episodes."""
    images = {im.sha256: im for im in site_summary(catalog, name).images}
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        rows = s.execute(
            select(Observation, Image).join(Image).where(Observation.site_id == site.id)
        ).all()
        if not rows:
            return _unmonitored(name, images)
        run = s.get(Run, rows[0][0].run_id)
        alerts = AlertConfig.stored(run.parameters)
        counts = [_count(o, im) for o, im in rows]
        counts.sort(key=lambda c: (c.acquired_at is None, c.acquired_at or datetime.min, c.name))
        used = next((im for o, im in rows if o.used), None)
        detect = latest_detect_run(s, used.id) if used is not None else None
        accuracy = run_accuracy(detect) if detect is not None else None
        detector = (
            {
                "name": detect.method,
                "version": detect.version,
                "classes": list(detect.parameters.get("classes", [])),
                **model_metrics(detect),
            }
            if detect is not None
            else {}
        )
        regs = registrations(s, site)
        sha = {im.id: im.sha256 for _o, im in rows}
        changes: dict[tuple[str, str], dict[str, int]] = {}
        tallies = s.execute(
            select(ObjectChange.before_image_id, ObjectChange.after_image_id, ObjectChange.kind,
                   func.count()).where(ObjectChange.site_id == site.id)
            .group_by(ObjectChange.before_image_id, ObjectChange.after_image_id, ObjectChange.kind)
        ).all()  # fmt: skip
        for before, after, kind, n in tallies:
            pair = changes.setdefault((sha[before], sha[after]), {})
            pair[kind] = n
        registration = {im.sha256: _registration(regs[im.id]) for _o, im in rows if im.id in regs}
    result = StoredMonitoring(
        name, run.id, alerts, counts, accuracy, detector,
        images=images, registration=registration, changes=changes,
    )  # fmt: skip
    result.steps, result.episodes = alert_scan(counts, result.classes, alerts)
    return result


def _unmonitored(name: str, records: dict[str, SiteImage]) -> StoredMonitoring:
    """A site with nothing counted yet still gets an honest report: what there is, and why."""
    images = list(records.values())
    if len(images) == 1:
        only = images[0]
        when = only.acquired_at.date().isoformat() if only.acquired_at else "undated"
        note = (
            f"{name} has one image ({only.name}, {when}): a single view cannot "
            "show whether anything changed or is unusual. Add images of other dates, then "
            f"run `sitewatch register {name}` and `sitewatch monitor {name}`."
        )
        reason = "the only image of the site: nothing to compare it with"
    else:
        note = (
            f"{name} has {len(images)} images but has not been monitored yet: run "
            f"`sitewatch detect --site {name}`, `sitewatch register {name}` and "
            f"`sitewatch monitor {name}`."
        )
        reason = "the site has not been monitored"
    counts = [
        Count(im.sha256, im.name, im.acquired_at, im.date_is_illustrative,
              None, None, None, None, None, None, None, False, False, reason)
        for im in images
    ]  # fmt: skip
    return StoredMonitoring(name, None, AlertConfig(), counts, None, images=records,
                            note=note)  # fmt: skip


def _registration(reg: Registration) -> dict[str, Any]:
    return {
        "method": reg.method,
        "status": reg.status,
        "reason": reg.reason,
        "inliers": reg.inliers,
        "rmse_px": reg.rmse_px,
        "overlap": reg.overlap,
    }


def _count(o: Observation, image: Image) -> Count:
    # the stored interval is estimate ± Z90·sd, clipped at zero below: the top gives sd back
    sd = None if o.high is None or o.estimate is None else (o.high - o.estimate) / Z90
    return Count(
        image.sha256, image.original_name, o.acquired_at, image.date_is_illustrative,
        o.class_name, o.count, o.estimate, sd, o.low, o.high, o.coverage, o.partial, o.used,
        o.reason,
    )  # fmt: skip


def evidence_of(
    m: StoredMonitoring, class_name: str, counts: list[Count] | None = None
) -> Evidence:
    """The evidence behind one class's judgement at the site, from ``counts`` (default: all;
    a report for a period passes the views up to its end)."""
    counts = m.counts if counts is None else counts
    mine = [c for c in counts if c.class_name == class_name]
    full = [c for c in mine if c.used and not c.partial]
    excluded = {c.sha256 for c in counts if not c.used}
    gaps = [(b.acquired_at - a.acquired_at).total_seconds() / 86400 for a, b in pairwise(full)]
    measured = m.accuracy is not None and not m.accuracy.source.startswith("unknown")
    return Evidence(
        full_views=len(full),
        partial_views=sum(c.partial for c in mine if c.used),
        excluded_images=len(excluded),
        longest_gap_days=max(gaps) if gaps else None,
        precision=m.accuracy.precision if measured else None,
        recall=m.accuracy.recall if measured else None,
        dates_illustrative=any(c.date_is_illustrative for c in full),
        providers=len({m.images[c.sha256].provider for c in full} - {None}),
        min_baseline=m.alerts.min_baseline,
    )


def judge(
    m: StoredMonitoring,
    class_name: str,
    counts: list[Count] | None = None,
    steps: list[Step] | None = None,
    episodes: list[Episode] | None = None,
) -> KeyJudgement:
    """One class's key judgement over ``counts``/``steps``/``episodes`` (default: all)."""
    return key_judgement(
        m.site,
        class_name,
        m.counts if counts is None else counts,
        m.steps[class_name] if steps is None else steps,
        m.episodes[class_name] if episodes is None else episodes,
        assess_confidence(evidence_of(m, class_name, counts)),
        m.alerts.min_baseline,
    )


def judgements(catalog: Catalog, name: str) -> dict[str, KeyJudgement]:
    """The key judgement for each class monitored at site ``name``."""
    m = load_monitoring(catalog, name)
    return {cls: judge(m, cls) for cls in m.classes}
