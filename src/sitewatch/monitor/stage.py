"""``monitor``: a site's count series, object changes between dates, and alert episodes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from sitewatch import __version__
from sitewatch.alerts.method import AlertConfig, Episode, Point, Step, detect_episodes
from sitewatch.dates import day, iso
from sitewatch.errors import BadInputError
from sitewatch.files import write_json_atomic, write_text_atomic
from sitewatch.formats.table import records_csv
from sitewatch.monitor import chips
from sitewatch.monitor.change import Change, MatchConfig, common_region, match_objects
from sitewatch.monitor.counts import (
    FULL_COVERAGE,
    Count,
    ImageView,
    detector_record,
    reuse_reason,
    reused_by,
    view_of,
)
from sitewatch.register.site import registrations, site_polygon
from sitewatch.sites import ImageFinding
from sitewatch.store.catalog import Catalog, image_runs, select_detect_runs
from sitewatch.store.models import Episode as EpisodeRow
from sitewatch.store.models import Image, ObjectChange, Observation, Run, Site
from sitewatch.store.serial import Lock, serialise
from sitewatch.uncertainty import estimate, interval, sampling_sd

MAX_CHIPS = 40  # per pair of dates


@dataclass(frozen=True)
class PairChange:
    """What changed inside the common footprint of two consecutive dates."""

    before: str  # sha256
    after: str
    before_date: str
    after_date: str
    common_coverage: float  # fraction of the site both images saw
    before_count: int  # inside the common footprint
    after_count: int
    changes: list[Change]

    def tally(self, kind: str) -> int:
        return sum(c.kind == kind for c in self.changes)


@dataclass
class MonitorResult:
    """Everything ``sitewatch monitor`` reports; also what the report and dashboard read."""

    site: str
    reference: str
    gsd_m: float
    gsd_assumed: bool
    classes: list[str]
    counts: list[Count]
    pairs: list[PairChange]
    steps: dict[str, list[Step]] = field(default_factory=dict)
    episodes: dict[str, list[Episode]] = field(default_factory=dict)
    alert_config: AlertConfig = field(default_factory=AlertConfig)
    accuracy_source: str = ""  # each class's detector accuracy, in words
    run_id: int | None = None
    # class → the detector behind its counts (``counts.detector_record``)
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def used(self) -> list[Count]:
        return [c for c in self.counts if c.used]

    @property
    def excluded(self) -> list[Count]:
        return [c for c in self.counts if not c.used]

    def to_dict(self) -> dict[str, Any]:
        def when(v: Any) -> Any:
            return iso(v) if hasattr(v, "tzinfo") else v

        def plain(obj: Any) -> Any:
            return {k: when(v) for k, v in asdict(obj).items()}

        illustrative = {c.sha256: c.date_is_illustrative for c in self.counts}

        return {
            "site": self.site,
            "reference": self.reference,
            "gsd_m": self.gsd_m,
            "gsd_assumed": self.gsd_assumed,
            "classes": self.classes,
            "detector_accuracy": self.accuracy_source,
            "detectors": self.detectors,
            "counts": [plain(c) for c in self.counts],
            "changes": [
                {
                    "before": p.before,
                    "after": p.after,
                    "before_date": p.before_date,
                    "after_date": p.after_date,
                    "date_illustrative": bool(
                        illustrative.get(p.before) or illustrative.get(p.after)
                    ),
                    "common_coverage": p.common_coverage,
                    "before_count": p.before_count,
                    "after_count": p.after_count,
                    "stayed": p.tally("stayed"),
                    "appeared": p.tally("appeared"),
                    "departed": p.tally("departed"),
                }
                for p in self.pairs
            ],
            "alerts": {
                "method": "robust baseline + one-sided CUSUM (sitewatch.alerts.method)",
                "false_alarms_per_site_year": self.alert_config.far_per_year,
                "threshold_h": self.alert_config.h,
                "series": {cls: [plain(s) for s in steps] for cls, steps in self.steps.items()},
                "episodes": {
                    cls: [plain(e) | {"ongoing": e.ongoing} for e in eps]
                    for cls, eps in self.episodes.items()
                },
            },
        }

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``<site>-counts.csv``, ``<site>-changes.csv`` and ``<site>-monitor.json``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        paths = [out / f"{self.site}-counts.csv", out / f"{self.site}-changes.csv"]
        write_text_atomic(paths[0], records_csv(data["counts"], COUNT_COLUMNS))
        write_text_atomic(paths[1], records_csv(data["changes"], CHANGE_COLUMNS))
        paths.append(out / f"{self.site}-monitor.json")
        write_json_atomic(paths[2], data)
        return paths


# CSV headers name their units: a spreadsheet keeps no schema
COUNT_COLUMNS = {
    "sha256": "sha256", "name": "image", "acquired_at": "acquired_utc",
    "date_is_illustrative": "date_illustrative", "class_name": "class",
    "count": "count_objects", "estimate": "estimate_objects", "sd": "sd_objects",
    "low": "low90_objects", "high": "high90_objects", "coverage": "coverage_fraction",
    "partial": "partial", "used": "used", "reason": "reason",
}  # fmt: skip
CHANGE_COLUMNS = {
    "before": "before_sha256", "after": "after_sha256", "before_date": "before_date",
    "after_date": "after_date", "date_illustrative": "date_illustrative",
    "common_coverage": "common_coverage_fraction", "before_count": "before_count_objects",
    "after_count": "after_count_objects", "stayed": "stayed_objects",
    "appeared": "appeared_objects", "departed": "departed_objects",
}  # fmt: skip


def monitor_site(
    catalog: Catalog,
    name: str,
    *,
    alerts: AlertConfig | None = None,
    matching: MatchConfig | None = None,
    write_chips: bool = True,
) -> MonitorResult:
    """Count, compare and alert on site ``name``, store the results and return them."""
    alerts = alerts or AlertConfig()
    # every alert setting, so the report re-derives the episodes exactly as monitoring did
    params = {
        "far_per_year": alerts.far_per_year,
        "alerts": asdict(alerts),
        "matching": asdict(matching or MatchConfig()),
    }
    with (
        catalog.run("monitor", "footprint-counts+hungarian+cusum", __version__, params) as run_id,
        catalog.session() as s,
    ):
        site = catalog.get_site(s, name)
        result = _monitor(catalog, s, site, alerts, matching or MatchConfig(), write_chips)
        result.run_id = run_id
        _store(s, site, run_id, result)
    return result


def _monitor(
    catalog: Catalog,
    s: Session,
    site: Site,
    alerts: AlertConfig,
    matching: MatchConfig,
    write_chips: bool,
) -> MonitorResult:
    regs = registrations(s, site)
    if site.reference_image is None or not regs:
        raise BadInputError(
            site.name,
            "the site has not been registered",
            f"run `sitewatch register {site.name}` first",
        )
    reference = site.reference_image
    polygon = site_polygon(site, reference)
    gsd = reference.gsd_m or 0.5
    images = sorted(
        (ln.image for ln in site.image_links),
        key=lambda im: (im.acquired_at is None, im.acquired_at or im.ingested_at, im.id),
    )
    selection = select_detect_runs(s, [im.id for im in images])
    views: list[ImageView] = []
    excluded: list[Count] = []
    reused = reused_by(s, [im.id for im in images])  # `sitewatch verify recycled` found
    for image in images:
        reason, view = _view(s, site, image, regs, polygon, image_runs(selection, image.id),
                             reused.get(image.id))  # fmt: skip
        if view is None:
            excluded.append(_excluded(image, reason))
        else:
            views.append(view)
    classes = sorted({c for v in views for c in v.classes})
    models = {cls: next(iter(selection[cls].values())).method for cls in classes}
    counts = [c for v in views for c in _counts(v, classes, site.name, models)]
    detectors = {
        cls: detector_record(max((v.runs[cls] for v in views if cls in v.runs),
                                 key=lambda r: r.id), cls)
        for cls in classes
    }  # fmt: skip
    pairs = _pairs(catalog, site, views, polygon, gsd, matching, write_chips)
    result = MonitorResult(
        site=site.name,
        reference=reference.sha256,
        gsd_m=gsd,
        gsd_assumed=reference.gsd_m is None,
        classes=classes,
        counts=sorted(counts + excluded, key=lambda c: (c.acquired_at is None, c.date, c.name)),
        pairs=pairs,
        alert_config=alerts,
        accuracy_source="; ".join(
            d["accuracy_source"] if len(detectors) == 1 else f"{cls}: {d['accuracy_source']}"
            for cls, d in detectors.items()
        ),
        detectors=detectors,
    )
    result.steps, result.episodes = alert_scan(counts, classes, alerts, detectors)
    return result


def alert_scan(
    counts: list[Count],
    classes: list[str],
    alerts: AlertConfig,
    detectors: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, list[Step]], dict[str, list[Episode]]]:
    """Alert steps and episodes per class over the full-coverage counts (partial ones never).

    ``detectors`` (class → ``detector_record``) give each class's count dispersion, which
    alerts leave out (``_point``)."""
    steps, episodes = {}, {}
    for cls in classes:
        d = float((detectors or {}).get(cls, {}).get("count_dispersion") or 0.0)
        series = [_point(c, d) for c in counts if c.class_name == cls and c.used and not c.partial]
        steps[cls], episodes[cls] = detect_episodes(series, alerts)
    return steps, episodes


def _point(c: Count, dispersion: float = 0.0) -> Point:
    """A used count as an alert observation (used counts are dated and estimated: _counts),
    with the sampling part of its sd only.

    The dispersion measures how a detector's recall and precision differ between *places*
    (cross-validation pools many sites); at one site that difference mostly persists from
    date to date and cancels against the site's own baseline, whose spread the alert scale
    already measures. Counting it again would silence alerts (the thresholds are simulated
    with sampling noise only: alerts/simulate.py)."""
    if c.acquired_at is None or c.estimate is None or c.sd is None:
        raise ValueError(f"{c.name}: a used {c.class_name} count lacks its date, estimate or sd")
    return Point(c.acquired_at, c.estimate, sampling_sd(c.sd, c.estimate, dispersion))


def _view(
    s: Session, site: Site, image: Image, regs: dict, polygon: Any, runs: dict[str, Run],
    reused: ImageFinding | None = None,
) -> tuple[str | None, ImageView | None]:  # fmt: skip
    reg = regs.get(image.id)
    if reg is None:
        return f"not registered: run `sitewatch register {site.name}`", None
    if reg.status != "ok":
        return f"registration failed: {reg.reason}", None
    if image.acquired_at is None:
        return "no acquisition date: ingest it with --acquired or a sidecar", None
    if reused is not None:
        return reuse_reason(reused), None
    if not runs:
        return f"no detections: run `sitewatch detect --site {site.name}`", None
    view = view_of(s, image, reg, runs, polygon)
    if view.coverage <= 0:
        return "its footprint does not reach the site polygon", None
    return None, view


def _excluded(image: Image, reason: str | None) -> Count:
    return Count(
        image.sha256,
        image.original_name,
        image.acquired_at,
        image.date_is_illustrative,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        False,
        False,
        reason,
    )


def _counts(view: ImageView, classes: list[str], site: str, models: dict[str, str]) -> list[Count]:
    """One count per class; a class whose selected model never ran on this image is listed
    as not counted (another model's run of the image never stands in for it)."""
    inside = view.inside(view.footprint)
    partial = view.coverage < FULL_COVERAGE
    note = (
        f"partial coverage: {view.coverage:.0%} of the site seen; not used for alerts"
        if partial
        else None
    )
    out = []
    image = view.image
    for cls in classes:
        if cls not in view.runs:
            reason = (
                f"{cls} not detected by {models[cls]}, the model of the site's {cls} series: "
                f"run `sitewatch detect --site {site} --model {models[cls]}`"
            )
            out.append(replace(_excluded(image, reason), class_name=cls))
            continue
        n = sum(o.class_name == cls for o in inside)
        true, sd = estimate(n, view.accuracy[cls])
        lo, hi = interval(true, sd)
        out.append(
            Count(
                image.sha256,
                image.original_name,
                image.acquired_at,
                image.date_is_illustrative,
                cls,
                n,
                true,
                sd,
                lo,
                hi,
                view.coverage,
                partial,
                True,
                note,
            )
        )
    return out


def _pairs(
    catalog: Catalog,
    site: Site,
    views: list[ImageView],
    polygon: Any,
    gsd: float,
    matching: MatchConfig,
    write_chips: bool,
) -> list[PairChange]:
    pairs = []
    for a, b in pairwise(views):
        region = common_region(polygon, a.footprint, b.footprint)
        common = region.area / polygon.area if polygon.area > 0 else 0.0
        # only classes both dates were counted for: a class one date's model never looked
        # for has not departed or appeared
        both = set(a.classes) & set(b.classes)
        before = [o for o in a.inside(region) if o.class_name in both]
        after = [o for o in b.inside(region) if o.class_name in both]
        changes = match_objects(before, after, gsd, matching)
        if write_chips and common > 0:
            changes = _chips(catalog, site, a, b, changes)
        pairs.append(
            PairChange(
                a.image.sha256,
                b.image.sha256,
                _date(a.image),
                _date(b.image),
                common,
                len(before),
                len(after),
                changes,
            )
        )
    return pairs


def _chips(
    catalog: Catalog, site: Site, a: ImageView, b: ImageView, changes: list[Change]
) -> list[Change]:
    """Write a before|after chip for each appeared/departed object (capped per pair)."""
    folder = Path("chips") / site.name / f"{a.image.sha256[:12]}-{b.image.sha256[:12]}"
    out = []
    written = 0
    pa = pb = None
    for i, ch in enumerate(changes):
        obj = ch.before or ch.after
        if ch.kind == "stayed" or obj is None or written >= MAX_CHIPS:
            out.append(ch)
            continue
        if pa is None or pb is None:  # both open together, on the first chip
            pa = chips.ChipSource(catalog.readable_path(a.image))
            pb = chips.ChipSource(catalog.readable_path(b.image))
        side = max(64.0, 2.5 * obj.length)
        rel = folder / f"{ch.kind}-{i:03d}.png"
        before = chips.frame_chip(pa, a.matrix, (ch.x, ch.y), side)
        after = chips.frame_chip(pb, b.matrix, (ch.x, ch.y), side)
        chips.write_pair(before, after, catalog.workspace / rel)
        written += 1
        out.append(ch.with_chip(str(rel)))
    for source in (pa, pb):
        if source is not None:
            source.close()
    return out


def _date(image: Image) -> str:
    return day(image.acquired_at)


def _store(s: Session, site: Site, run_id: int, result: MonitorResult) -> None:
    """Replace the site's stored observations, changes and episodes with this run's; the
    monitor run keeps which detector gave each class (the report names them). Two monitors
    of one site store one after the other, never interleaved."""
    serialise(s, Lock.SITE, site.id)
    run = s.get(Run, run_id)
    if run is not None:
        run.parameters = {**run.parameters, "detectors": result.detectors}
    for table in (Observation, ObjectChange, EpisodeRow):
        s.execute(delete(table).where(table.site_id == site.id))
    ids = {im.sha256: im.id for im in (ln.image for ln in site.image_links)}
    for c in result.counts:
        s.add(
            Observation(
                site_id=site.id,
                run_id=run_id,
                image_id=ids[c.sha256],
                acquired_at=c.acquired_at,
                class_name=c.class_name,
                count=c.count,
                estimate=c.estimate,
                low=c.low,
                high=c.high,
                coverage=c.coverage,
                partial=c.partial,
                used=c.used,
                reason=c.reason,
            )
        )
    for p in result.pairs:
        for ch in p.changes:
            s.add(
                ObjectChange(
                    site_id=site.id,
                    run_id=run_id,
                    before_image_id=ids[p.before],
                    after_image_id=ids[p.after],
                    kind=ch.kind,
                    class_name=ch.class_name,
                    x=ch.x,
                    y=ch.y,
                    before_detection_id=ch.before.detection_id if ch.before else None,
                    after_detection_id=ch.after.detection_id if ch.after else None,
                    distance_m=ch.distance_m,
                    chip_path=ch.chip,
                )
            )
    for cls, episodes in result.episodes.items():
        for e in episodes:
            s.add(
                EpisodeRow(
                    site_id=site.id,
                    run_id=run_id,
                    class_name=cls,
                    start_at=e.start,
                    alarm_at=e.alarm,
                    end_at=e.end,
                    baseline=e.baseline,
                    peak=e.peak,
                    magnitude=e.magnitude,
                    confidence=e.confidence,
                    false_alarm_rate=e.far_per_year,
                    observations=e.observations,
                )
            )
