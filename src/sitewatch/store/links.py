"""Linking images to sites: explicitly, or by footprint ∩ AOI for georeferenced ones (found
in the database's spatial index on PostGIS, then tested exactly here)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch import geo
from sitewatch.errors import ConflictError
from sitewatch.store import spatial
from sitewatch.store.models import Image, ImageSite, LinkMethod, Site, SiteKind
from sitewatch.store.serial import Lock, serialise


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def site_coverage(site: Site, image: Image) -> float | None:
    """Fraction of a geo site's AOI that a georeferenced image covers; None if unknown."""
    if site.kind != SiteKind.GEO or image.footprint_wgs84_wkt is None or site.aoi_wgs84_wkt is None:
        return None
    return geo.coverage(geo.load_wkt(site.aoi_wgs84_wkt), geo.load_wkt(image.footprint_wgs84_wkt))


def link(session: Session, image: Image, site: Site, method: LinkMethod) -> ImageSite | None:
    """Link an image to a site; returns the new link, or None if it was already linked.

    A georeferenced image asked to join a geo site it does not overlap is refused.
    """
    serialise(session, Lock.LINKS)  # a concurrent link of the same pair waits, then sees it
    existing = session.scalar(
        select(ImageSite).where(ImageSite.image_id == image.id, ImageSite.site_id == site.id)
    )
    if existing is not None:
        return None
    cover = site_coverage(site, image)
    if cover is not None and cover <= 0:
        raise ConflictError(
            f"{image.original_name}: its footprint does not overlap site {site.name!r}'s AOI"
        )
    row = ImageSite(image=image, site=site, method=method, coverage=cover)
    session.add(row)
    return row


def auto_link_image(session: Session, image: Image) -> list[str]:
    """Link a georeferenced image to every geo site whose AOI it overlaps."""
    if image.footprint_wgs84_wkt is None:
        return []
    # a site added meanwhile either committed first (seen here) or waits and links us
    serialise(session, Lock.LINKS)
    footprint = geo.load_wkt(image.footprint_wgs84_wkt)
    linked = []
    query = select(Site).where(Site.kind == SiteKind.GEO).order_by(Site.id)
    near = spatial.overlapping(Site.aoi_wgs84_wkt, image.footprint_wgs84_wkt, _dialect(session))
    for site in session.scalars(query if near is None else query.where(near)):
        assert site.aoi_wgs84_wkt is not None  # every geo site has an AOI (add_geo_site)
        if geo.load_wkt(site.aoi_wgs84_wkt).intersection(footprint).area > 0 and link(
            session, image, site, LinkMethod.FOOTPRINT
        ):
            linked.append(site.name)
    return linked


def auto_link_site(session: Session, site: Site) -> int:
    """Link every georeferenced image that overlaps a (new) geo site."""
    if site.aoi_wgs84_wkt is None:
        raise ValueError(f"site {site.name!r} has no AOI: only geo sites link by footprint")
    serialise(session, Lock.LINKS)  # an image ingested meanwhile: see auto_link_image
    aoi = geo.load_wkt(site.aoi_wgs84_wkt)
    count = 0
    query = select(Image).where(Image.footprint_wgs84_wkt.is_not(None)).order_by(Image.id)
    near = spatial.overlapping(Image.footprint_wgs84_wkt, site.aoi_wgs84_wkt, _dialect(session))
    for image in session.scalars(query if near is None else query.where(near)):
        assert image.footprint_wgs84_wkt is not None  # the query selects only these
        if aoi.intersection(geo.load_wkt(image.footprint_wgs84_wkt)).area > 0 and link(
            session, image, site, LinkMethod.FOOTPRINT
        ):
            count += 1
    return count
