"""Where an image's pixels lie on the map: by its own georeference, or through its
registration to a site frame whose reference image is georeferenced."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch import geo
from sitewatch.register import image_to_frame
from sitewatch.store.models import Image, Registration, RegistrationStatus, Site


@dataclass(frozen=True)
class Placement:
    """Pixel → lon/lat for one image: an optional homography into a georeferenced image's
    pixels, then that image's affine transform and CRS."""

    via: Image  # the georeferenced image whose transform places the pixels
    how: str  # said in exports: "image georeference" or "registration to …"
    homography: np.ndarray | None = None  # image pixels → ``via`` pixels

    def lonlat(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates → (N, 2) longitude, latitude."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        transform, crs_wkt = self.via.transform, self.via.crs_wkt
        assert transform is not None and crs_wkt is not None  # own()/through() check both
        if self.homography is not None:
            from sitewatch.frame import project

            xy = project(self.homography, xy)
        x, y = geo.pixel_to_native(transform, xy[:, 0], xy[:, 1])
        lon, lat = geo.to_wgs84(CRS.from_wkt(crs_wkt)).transform(x, y)
        return np.column_stack([lon, lat])

    def box(self, x0: float, y0: float, x1: float, y1: float) -> BaseGeometry:
        """A pixel box on the map (a quadrilateral once a homography or a CRS bends it)."""
        corners = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        return geo.lonlat_polygons(Polygon(self.lonlat(corners)))

    def point(self, x: float, y: float) -> Point:
        lon, lat = self.lonlat(np.array([[x, y]]))[0]
        return Point(lon, lat)

    def area(self, geom_px: BaseGeometry, step_px: float = 64.0) -> BaseGeometry:
        """A pixel polygon on the map, edges densified so the CRS may bend them."""
        dense = shapely.segmentize(geom_px, max_segment_length=step_px)
        return geo.lonlat_polygons(shapely.transform(dense, lambda pts: self.lonlat(pts)))


def own(image: Image) -> Placement | None:
    """Placement by the image's own georeference, if it has one."""
    if image.crs_wkt is None or image.transform is None:
        return None
    return Placement(image, "image georeference")


def through(session: Session, site: Site, image: Image) -> Placement | None:
    """Placement of an image through its registration to ``site``'s frame, when the frame's
    reference is georeferenced."""
    reference = site.reference_image
    if reference is None or own(reference) is None:
        return None
    h = image_to_frame(session, site, image)
    if h is None:
        return None
    row = session.scalar(select(Registration).where(Registration.site_id == site.id,
                                                    Registration.image_id == image.id))  # fmt: skip
    detail = ""
    if row is not None:
        rmse = f", residual {row.rmse_px:.1f} px" if row.rmse_px is not None else ""
        detail = f" ({row.method}{rmse})"
    return Placement(reference, f"registration{detail} to {reference.original_name}", h)


def of_image(session: Session, image: Image, site: Site | None = None) -> Placement | None:
    """An image's placement: its own georeference first (exact), else its registration to
    ``site``'s frame (or any site's) when that frame is georeferenced."""
    placed = own(image)
    if placed is not None:
        return placed
    query = select(Registration.site_id).where(
        Registration.image_id == image.id, Registration.status == RegistrationStatus.OK
    )
    site_ids = [site.id] if site is not None else session.scalars(query).all()
    for site_id in site_ids:
        frame = session.get(Site, site_id)
        if frame is not None and (placed := through(session, frame, image)) is not None:
            return placed
    return None
