"""Add, list, show and remove sites."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sitewatch.errors import BadInputError, ConflictError
from sitewatch.sites.aoi import parse_pixel_polygon, read_aoi
from sitewatch.store.catalog import Catalog, detections_at, image_runs, select_detect_runs
from sitewatch.store.links import auto_link_site, link
from sitewatch.store.models import (
    CONTRADICTING,
    Finding,
    Image,
    ImageSite,
    Label,
    LinkMethod,
    Registration,
    Run,
    Site,
    SiteKind,
    VerifyCheck,
)
from sitewatch.values import shown, text

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,127}$")


@dataclass(frozen=True)
class ImageFinding:
    """What one check of the imagery found about an image (``store.models.Finding``)."""

    check: str  # store.models.VerifyCheck
    verdict: str
    summary: str  # one line a reader can quote
    method: str
    related_sha256: str | None = None  # the other image it concerns (the one reused)
    related_name: str | None = None
    related_acquired_at: datetime | None = None
    related_illustrative: bool = False

    @property
    def reuses(self) -> bool:
        """An earlier image's acquisition reused: this image is not a view of its own date."""
        return self.check == VerifyCheck.RECYCLED and self.related_sha256 is not None

    @property
    def contradicts(self) -> bool:
        """The image's own sun or metadata contradicts its claimed time or provenance."""
        return CONTRADICTING.get(self.check) == self.verdict


@dataclass(frozen=True)
class SiteImage:
    """One image of a site, as ``site show`` lists it."""

    sha256: str
    name: str
    acquired_at: datetime | None
    date_is_illustrative: bool
    provider: str | None
    credit: str | None
    licence: str | None
    source_url: str | None
    gsd_m: float | None
    width: int
    height: int
    georeferenced: bool
    link_method: str
    coverage: float | None
    labels: int
    # detections at their class's operating threshold, each class from the run of the model
    # that gives the site's series of it (``select_detect_runs``); None: never detected
    detected: int | None
    detected_by_class: dict[str, int] | None = None
    # what the checks of the imagery found (``sitewatch verify``)
    findings: tuple[ImageFinding, ...] = ()

    @property
    def reuses(self) -> ImageFinding | None:
        """The first earlier image this one was found to reuse (None: none found)."""
        return next((f for f in self.findings if f.reuses), None)

    @property
    def contradicted(self) -> list[ImageFinding]:
        """What in the image itself contradicts its claimed time or provenance."""
        return [f for f in self.findings if f.contradicts]


@dataclass(frozen=True)
class SiteSummary:
    name: str
    kind: str
    aoi_wkt: str | None
    reference: str | None
    polygon_wkt: str | None
    notes: str | None
    images: list[SiteImage]

    @property
    def first(self) -> datetime | None:
        dates = [i.acquired_at for i in self.images if i.acquired_at]
        return min(dates) if dates else None

    @property
    def last(self) -> datetime | None:
        dates = [i.acquired_at for i in self.images if i.acquired_at]
        return max(dates) if dates else None


def _check_new_name(session: Session, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise BadInputError(
            shown(name, 40), "site names use letters, digits, space, '.', '_' or '-' (max 128)"
        )
    if session.scalar(select(Site.id).where(Site.name == name)) is not None:
        raise ConflictError(f"site {name!r} already exists; remove it first or pick a new name")


def add_geo_site(
    catalog: Catalog, name: str, aoi_path: str | Path, notes: str | None = None
) -> int:
    """A site with a map AOI; every overlapping georeferenced image is linked. Returns links."""
    notes = text(notes, name, "notes")
    aoi = read_aoi(aoi_path)
    with catalog.session() as s:
        _check_new_name(s, name)
        site = Site(name=name, kind=SiteKind.GEO, aoi_wgs84_wkt=aoi.wkt, notes=notes)
        s.add(site)
        s.flush()
        return auto_link_site(s, site)


def add_frame_site(
    catalog: Catalog,
    name: str,
    reference: str | Path,
    polygon: str | None = None,
    notes: str | None = None,
) -> None:
    """A site in the pixel frame of a reference image (a catalog image, or a file to ingest)."""
    notes = text(notes, name, "notes")
    if Path(reference).is_file():
        from sitewatch.ingest import IngestStatus, ingest

        report = ingest(catalog, [reference])
        if not report.ok:
            error = report.of(IngestStatus.FAILED)[0].error
            assert error is not None  # every failed outcome carries its error
            raise error
    with catalog.session() as s:
        _check_new_name(s, name)
        ref = catalog.find_image(s, reference)
        poly = None
        if polygon:
            try:
                poly = parse_pixel_polygon(polygon, ref.width, ref.height)
            except ValueError as exc:
                raise BadInputError(name, str(exc)) from None
        site = Site(
            name=name,
            kind=SiteKind.FRAME,
            reference_image=ref,
            frame_polygon_wkt=poly.wkt if poly is not None else None,
            notes=notes,
        )
        s.add(site)
        s.flush()
        link(s, ref, site, LinkMethod.REFERENCE)


def remove_site(catalog: Catalog, name: str) -> int:
    """Delete a site and its links (images stay in the catalog). Returns links removed."""
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        n = len(site.image_links)
        s.delete(site)
        return n


def list_sites(catalog: Catalog) -> list[SiteSummary]:
    with catalog.session() as s:
        names = s.scalars(select(Site.name).order_by(Site.name)).all()
    return [site_summary(catalog, n) for n in names]


def _detected(session: Session, runs: dict[str, Run]) -> dict[str, int] | None:
    """One image's counted detections by class (``runs``: its share of the selection)."""
    if not runs:
        return None
    return {cls: detections_at(session, run, cls) for cls, run in sorted(runs.items())}


def site_summary(catalog: Catalog, name: str) -> SiteSummary:
    """The site and its images ordered by acquisition time (undated last)."""
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        label_counts = dict(
            s.execute(
                select(Label.image_id, func.count(Label.id))
                .join(ImageSite, ImageSite.image_id == Label.image_id)
                .where(ImageSite.site_id == site.id, Label.duplicate.is_(False))
                .group_by(Label.image_id)
            ).all()
        )
        rows = s.execute(
            select(Image, ImageSite)
            .join(ImageSite)
            .where(ImageSite.site_id == site.id)
            .order_by(ImageSite.id)
        ).all()
        selection = select_detect_runs(s, [img.id for img, _ln in rows])
        detected = {img.id: _detected(s, image_runs(selection, img.id)) for img, _ln in rows}
        # a frame site's coverage is what registration measured
        registered = dict(
            s.execute(
                select(Registration.image_id, Registration.overlap).where(
                    Registration.site_id == site.id, Registration.status == "ok"
                )
            ).all()
        )
        found: dict[int, list[ImageFinding]] = {}
        for f in s.scalars(
            select(Finding)
            .where(Finding.image_id.in_([img.id for img, _ln in rows]))
            .order_by(Finding.id)
        ):
            found.setdefault(f.image_id, []).append(image_finding(f))
        images = [
            SiteImage(
                sha256=img.sha256,
                name=img.original_name,
                acquired_at=img.acquired_at,
                date_is_illustrative=img.date_is_illustrative,
                provider=img.provider,
                credit=img.credit,
                licence=img.licence,
                source_url=img.source_url,
                gsd_m=img.gsd_m,
                width=img.width,
                height=img.height,
                georeferenced=img.georeferenced,
                link_method=ln.method,
                coverage=ln.coverage if ln.coverage is not None else registered.get(img.id),
                labels=label_counts.get(img.id, 0),
                detected=None if (by := detected[img.id]) is None else sum(by.values()),
                detected_by_class=by,
                findings=tuple(found.get(img.id, ())),
            )
            for img, ln in rows
        ]
        images.sort(key=lambda i: (i.acquired_at is None, i.acquired_at or datetime.min, i.name))
        return SiteSummary(
            name=site.name,
            kind=site.kind,
            aoi_wkt=site.aoi_wgs84_wkt,
            reference=site.reference_image.sha256 if site.reference_image else None,
            polygon_wkt=site.frame_polygon_wkt,
            notes=site.notes,
            images=images,
        )


def image_finding(f: Finding) -> ImageFinding:
    """A stored finding as the stages read it (with the image it concerns, if any)."""
    other = f.related
    return ImageFinding(
        check=f.check,
        verdict=f.verdict,
        summary=f.summary,
        method=f.method,
        related_sha256=other.sha256 if other is not None else None,
        related_name=other.original_name if other is not None else None,
        related_acquired_at=other.acquired_at if other is not None else None,
        related_illustrative=bool(other.date_is_illustrative) if other is not None else False,
    )
