"""A site's monitoring read back from the catalog (the store is the only shared state).

``sitewatch monitor`` stores one Observation per image and class, the object changes and the
alert episodes. ``load_monitoring`` reads those rows and re-runs the alert scan over the
stored counts with the stored configuration (deterministic, so it sees the baseline exactly as
monitoring did). The report and the claims checks both read monitoring through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from sitewatch.alerts import AlertConfig, Step
from sitewatch.alerts.method import Episode
from sitewatch.change.stored import StoredChange, load_change
from sitewatch.dates import day
from sitewatch.monitor.counts import Count, accuracy_of, detector_record, reuse_reason
from sitewatch.monitor.stage import alert_scan
from sitewatch.register.site import registrations
from sitewatch.sites import ImageFinding, SiteImage, site_summary
from sitewatch.store.catalog import Catalog, select_detect_runs
from sitewatch.store.models import Image, ObjectChange, Observation, Registration, Run
from sitewatch.uncertainty import Accuracy, sd_of_interval


@dataclass
class StoredMonitoring:
    """A site's last monitoring, as stored."""

    site: str
    run_id: int | None  # None: never monitored (``note`` says why)
    alerts: AlertConfig
    counts: list[Count]  # time order; images left out carry their reason
    # class → the detector behind its counts: name, version, classes, threshold, held-out
    # precision/recall (and their source), count dispersion, AP50, AP50:95, count error
    # (``detector_record``)
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[str, list[Step]] = field(default_factory=dict)
    episodes: dict[str, list[Episode]] = field(default_factory=dict)
    images: dict[str, SiteImage] = field(default_factory=dict)  # provenance, by sha256
    # how each image registered: method, status, reason, inliers, rmse_px, overlap
    registration: dict[str, dict[str, Any]] = field(default_factory=dict)
    # object change per consecutive pair: (before sha256, after sha256) → kind → count
    changes: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    note: str | None = None  # what the report must say up front when nothing was counted
    # pixel change per pair of dates, as `sitewatch change` stored it (time order)
    pixel_change: list[StoredChange] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return sorted({c.class_name for c in self.counts if c.class_name})

    @property
    def detectable(self) -> list[str]:
        """Every class the site's detectors look for (found or not)."""
        declared = {c for d in self.detectors.values() for c in d.get("classes") or []}
        return sorted(declared | set(self.classes))

    def accuracy(self, class_name: str) -> Accuracy | None:
        """Held-out precision/recall of the detector behind ``class_name``'s counts."""
        d = self.detectors.get(class_name)
        if d is None or d.get("precision") is None or d.get("recall") is None:
            return None
        return accuracy_of(d, str(d["accuracy_source"]))


def load_monitoring(catalog: Catalog, name: str) -> StoredMonitoring:
    """Read a site's stored monitoring and re-derive its alert steps and episodes."""
    images = {im.sha256: im for im in site_summary(catalog, name).images}
    # an image found to reuse an earlier acquisition is no view of its own date: left out of
    # the counts and of the pairs compared (monitoring again compares the rest)
    reused = {sha: f for sha, rec in images.items() if (f := rec.reuses) is not None}
    pixel_change = [
        c for c in load_change(catalog, name) if c.before not in reused and c.after not in reused
    ]
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        rows = s.execute(
            select(Observation, Image)
            .join(Image)
            .where(Observation.site_id == site.id)
            .order_by(Observation.id)
        ).all()
        if not rows:
            return replace(_unmonitored(name, images), pixel_change=pixel_change)
        run = s.get(Run, rows[0][0].run_id)
        assert run is not None  # Observation.run_id is a foreign key to runs
        alerts = AlertConfig.stored(run.parameters)
        counts = [_count(o, im, reused.get(im.sha256)) for o, im in rows]
        counts.sort(key=lambda c: (c.acquired_at is None, c.acquired_at or datetime.min, c.name))
        detectors = run.parameters.get("detectors")
        if detectors is None:  # monitored before the detector of each class was kept
            detectors = _detectors_now(s, rows)
        regs = registrations(s, site)
        sha = {im.id: im.sha256 for _o, im in rows}
        changes: dict[tuple[str, str], dict[str, int]] = {}
        tallies = s.execute(
            select(ObjectChange.before_image_id, ObjectChange.after_image_id, ObjectChange.kind,
                   func.count()).where(ObjectChange.site_id == site.id)
            .group_by(ObjectChange.before_image_id, ObjectChange.after_image_id, ObjectChange.kind)
            .order_by(ObjectChange.before_image_id, ObjectChange.after_image_id, ObjectChange.kind)
        ).all()  # fmt: skip
        for before, after, kind, n in tallies:
            if sha[before] in reused or sha[after] in reused:
                continue
            pair = changes.setdefault((sha[before], sha[after]), {})
            pair[kind] = n
        registration = {im.sha256: _registration(regs[im.id]) for _o, im in rows if im.id in regs}
    result = StoredMonitoring(
        name, run.id, alerts, counts, detectors,
        images=images, registration=registration, changes=changes, pixel_change=pixel_change,
    )  # fmt: skip
    result.steps, result.episodes = alert_scan(counts, result.classes, alerts, detectors)
    return result


def _detectors_now(s: Session, rows: Sequence[Row[Observation, Image]]) -> dict:
    """Each counted class's detector, chosen from the detect runs stored now by the rule
    monitoring follows (for monitoring stored before it kept its detectors)."""
    selection = select_detect_runs(s, [im.id for _o, im in rows])
    out = {}
    for o, im in rows:
        cls = o.class_name
        if o.used and cls and cls not in out and im.id in selection.get(cls, {}):
            out[cls] = detector_record(selection[cls][im.id], cls)
    return dict(sorted(out.items()))


def _unmonitored(name: str, records: dict[str, SiteImage]) -> StoredMonitoring:
    """A site with nothing counted yet still gets an honest report: what there is, and why."""
    images = list(records.values())
    if len(images) == 1:
        only = images[0]
        when = day(only.acquired_at, "undated")
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
    return StoredMonitoring(name, None, AlertConfig(), counts, images=records,
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


def _count(o: Observation, image: Image, reused: ImageFinding | None = None) -> Count:
    # the stored interval's top gives its sd back
    sd = None if o.high is None or o.estimate is None else sd_of_interval(o.estimate, o.high)
    count = Count(
        image.sha256, image.original_name, o.acquired_at, image.date_is_illustrative,
        o.class_name, o.count, o.estimate, sd, o.low, o.high, o.coverage, o.partial, o.used,
        o.reason,
    )  # fmt: skip
    if reused is not None and o.used:
        return replace(count, used=False, reason=reuse_reason(reused))
    return count
