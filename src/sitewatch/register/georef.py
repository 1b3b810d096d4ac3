"""Registration through map coordinates: pixel → CRS → other CRS → pixel, as one homography."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from sitewatch import geo
from sitewatch.frame import project


class Placed(Protocol):
    """What map registration reads of an image: a catalog ``Image`` or its picklable
    snapshot (``register.site.ImageFacts``, for Dask workers)."""

    @property
    def original_name(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def crs_wkt(self) -> str | None: ...
    @property
    def transform(self) -> list[float] | None: ...
    @property
    def gsd_m(self) -> float | None: ...


def _crs(image: Placed) -> CRS:
    if image.crs_wkt is None:
        raise ValueError(f"{image.original_name} is not georeferenced: it has no CRS")
    return CRS.from_wkt(image.crs_wkt)


def _transform(image: Placed) -> list[float]:
    if image.transform is None:
        raise ValueError(f"{image.original_name} is not georeferenced: it has no transform")
    return image.transform


def crs_homography(moving: Placed, fixed: Placed, grid: int = 9) -> tuple[np.ndarray, float]:
    """The homography taking moving pixels to fixed pixels via both georeferences.

    A grid over the moving image is carried through the two CRSs; over a site-sized area the
    map is a homography to well under a millimetre, and the fit residual (fixed pixels) is
    returned so that claim is checked rather than assumed.
    """
    t = np.linspace(0.0, 1.0, grid)
    grid_cols, grid_rows = np.meshgrid(t * moving.width, t * moving.height)
    cols, rows = grid_cols.ravel(), grid_rows.ravel()
    x, y = geo.pixel_to_native(_transform(moving), cols, rows)
    x2, y2 = geo.transformer(_crs(moving), _crs(fixed)).transform(x, y)
    c2, r2 = geo.native_to_pixel(_transform(fixed), np.asarray(x2), np.asarray(y2))
    src = np.column_stack([cols, rows])
    dst = np.column_stack([c2, r2])
    if not np.all(np.isfinite(dst)):
        raise ValueError("image corners do not transform into the reference's CRS")
    import cv2

    h, _ = cv2.findHomography(src, dst, 0)
    residual = float(np.sqrt(((project(h, src) - dst) ** 2).sum(axis=1).mean()))
    return h, residual


def wgs84_to_pixels(geom: BaseGeometry, image: Placed) -> BaseGeometry:
    """A lon/lat geometry in an image's pixel coordinates (edges densified first)."""
    geom = shapely.segmentize(geom, max_segment_length=_degrees_per_pixel(image) * 16)
    to_native = geo.transformer(geo.WGS84, _crs(image))
    transform = _transform(image)

    def fn(xs: np.ndarray, ys: np.ndarray) -> tuple:
        x, y = to_native.transform(xs, ys)
        return geo.native_to_pixel(transform, np.asarray(x), np.asarray(y))

    return shapely.transform(geom, lambda pts: np.column_stack(fn(pts[:, 0], pts[:, 1])))


def _degrees_per_pixel(image: Placed) -> float:
    return max((image.gsd_m or 1.0) / 111_000, 1e-9)


def footprint_in(moving_wh: tuple[int, int], h: np.ndarray) -> Polygon:
    """The outline of a (w, h) image carried by homography ``h``."""
    w, hh = moving_wh
    t = np.linspace(0.0, 1.0, 9)[:-1]
    xs = np.concatenate([t * w, np.full_like(t, w), (1 - t) * w, np.zeros_like(t)])
    ys = np.concatenate([np.zeros_like(t), t * hh, np.full_like(t, hh), (1 - t) * hh])
    return Polygon(project(h, np.column_stack([xs, ys]))).buffer(0)
