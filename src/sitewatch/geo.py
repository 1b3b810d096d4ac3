"""Map geometry in one place: CRS checks, ground sample distance, footprints, areas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely import wkt as shapely_wkt
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

WGS84 = CRS.from_epsg(4326)
_WGS84_WKT = WGS84.to_wkt()
_GEOD = Geod(ellps="WGS84")

Affine6 = Sequence[float]  # a, b, c, d, e, f as in rasterio / GDAL (x = a*col + b*row + c)


def checked_crs(wkt_or_code: str) -> CRS:
    """Parse a CRS and make sure it can be placed on the Earth; raise ValueError if not."""
    try:
        crs = CRS.from_user_input(wkt_or_code)
    except PyprojCRSError as exc:
        raise ValueError(f"unreadable CRS ({exc})") from exc
    if not (crs.is_projected or crs.is_geographic):
        raise ValueError(f"CRS {crs.name!r} is neither geographic nor projected")
    try:
        _to_wgs84(crs.to_wkt())
    except PyprojCRSError as exc:
        raise ValueError(f"CRS {crs.name!r} cannot be transformed to WGS 84 ({exc})") from exc
    return crs


def _to_wgs84(crs_wkt: str) -> Transformer:
    return _transformer(crs_wkt, _WGS84_WKT)


def to_wgs84(crs: CRS) -> Transformer:
    """An always-xy transformer from ``crs`` to lon/lat."""
    return _to_wgs84(crs.to_wkt())


def pixel_to_native(transform: Affine6, cols: np.ndarray, rows: np.ndarray) -> tuple:
    a, b, c, d, e, f = transform[:6]
    return a * cols + b * rows + c, d * cols + e * rows + f


def native_to_pixel(transform: Affine6, x: np.ndarray, y: np.ndarray) -> tuple:
    """Inverse of :func:`pixel_to_native`: native coordinates to (col, row)."""
    a, b, c, d, e, f = transform[:6]
    det = a * e - b * d
    x, y = np.asarray(x, float) - c, np.asarray(y, float) - f
    return (e * x - b * y) / det, (a * y - d * x) / det


def transformer(src: CRS, dst: CRS) -> Transformer:
    """An always-xy transformer between two CRSs (cached)."""
    return _transformer(src.to_wkt(), dst.to_wkt())


@lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


def footprints(
    transform: Affine6, width: int, height: int, crs: CRS, densify: int = 16
) -> tuple[Polygon, Polygon]:
    """Image outline in its native CRS and in WGS 84 (edges densified before reprojection)."""
    t = np.linspace(0.0, 1.0, densify + 1)[:-1]
    cols = np.concatenate([t * width, np.full_like(t, width), (1 - t) * width, np.zeros_like(t)])
    rows = np.concatenate([np.zeros_like(t), t * height, np.full_like(t, height), (1 - t) * height])
    x, y = pixel_to_native(transform, cols, rows)
    corners_x, corners_y = pixel_to_native(
        transform, np.array([0, width, width, 0]), np.array([0, 0, height, height])
    )
    native = Polygon(zip(corners_x, corners_y, strict=True))
    lon, lat = to_wgs84(crs).transform(x, y)
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
        raise ValueError("footprint does not transform to finite WGS 84 coordinates")
    return native, Polygon(zip(lon, lat, strict=True))


def gsd_metres(transform: Affine6, width: int, height: int, crs: CRS) -> float:
    """Mean ground size of a pixel in metres at the scene centre."""
    a, b, _c, d, e, _f = transform[:6]
    if crs.is_projected:
        unit = crs.axis_info[0].unit_conversion_factor
        return 0.5 * (math.hypot(a, d) + math.hypot(b, e)) * unit
    cx, cy = pixel_to_native(transform, np.array([width / 2]), np.array([height / 2]))
    rx, ry = pixel_to_native(transform, np.array([width / 2 + 1]), np.array([height / 2]))
    dx, dy = pixel_to_native(transform, np.array([width / 2]), np.array([height / 2 + 1]))
    lon, lat = to_wgs84(crs).transform(
        np.array([cx[0], rx[0], dx[0]]), np.array([cy[0], ry[0], dy[0]])
    )
    _, _, along_x = _GEOD.inv(lon[0], lat[0], lon[1], lat[1])
    _, _, along_y = _GEOD.inv(lon[0], lat[0], lon[2], lat[2])
    return 0.5 * (along_x + along_y)


def area_m2(geom_wgs84: BaseGeometry) -> float:
    """Geodesic area of a lon/lat geometry in square metres."""
    area, _ = _GEOD.geometry_area_perimeter(geom_wgs84)
    return abs(area)


def coverage(aoi_wgs84: BaseGeometry, footprint_wgs84: BaseGeometry) -> float:
    """Fraction of the AOI's area that the footprint covers (0…1)."""
    total = area_m2(aoi_wgs84)
    if total <= 0:
        return 0.0
    return min(1.0, area_m2(aoi_wgs84.intersection(footprint_wgs84)) / total)


def pixel_box_to_wgs84(
    transform: Affine6, crs_wkt: str, x0: float, y0: float, x1: float, y1: float
) -> Polygon:
    """A pixel-space box as a lon/lat polygon (corners through the affine, then the CRS)."""
    cols = np.array([x0, x1, x1, x0])
    rows = np.array([y0, y0, y1, y1])
    x, y = pixel_to_native(transform, cols, rows)
    lon, lat = _to_wgs84(crs_wkt).transform(x, y)
    return Polygon(zip(lon, lat, strict=True))


def reproject(geom: BaseGeometry, src: CRS, dst: CRS = WGS84) -> BaseGeometry:
    return shapely.transform(geom, transformer(src, dst).transform, interleaved=False)


def load_wkt(text: str) -> BaseGeometry:
    return shapely_wkt.loads(text)


def image_box(width: int, height: int) -> Polygon:
    """The pixel extent of an image as a polygon."""
    return box(0, 0, width, height)
