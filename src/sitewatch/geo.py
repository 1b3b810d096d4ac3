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
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

WGS84 = CRS.from_epsg(4326)
_WGS84_WKT = WGS84.to_wkt()
_GEOD = Geod(ellps="WGS84")
# Cylindrical equal-area on the WGS 84 ellipsoid: areas of lon/lat polygons (poles included)
_EQUAL_AREA_WKT = CRS.from_epsg(6933).to_wkt()

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


def grid_transform(
    transform: Affine6, x0: float, y0: float, scale: float = 1.0
) -> tuple[float, float, float, float, float, float]:
    """The geotransform of a grid cut from an image at pixel (``x0``, ``y0``) and resampled
    by ``scale`` (grid pixel = image pixel × scale): a window, a decimated window."""
    a, b, c, d, e, f = (float(v) for v in transform[:6])
    return (a / scale, b / scale, c + a * x0 + b * y0, d / scale, e / scale, f + d * x0 + e * y0)


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
) -> tuple[Polygon, Polygon | MultiPolygon]:
    """Image outline in its native CRS and in WGS 84 (edges densified before reprojection;
    split at the antimeridian when it crosses it). Raises ValueError for a georeference
    that cannot be real: a zero or non-finite pixel size, or coordinates off the globe."""
    a, b, c, d, e, f = (float(v) for v in transform[:6])
    if not all(math.isfinite(v) for v in (a, b, c, d, e, f)):
        raise ValueError("the geotransform holds a non-finite number")
    if a * e - b * d == 0:
        raise ValueError(
            f"the geotransform gives pixels no area (pixel size {a:g} × {e:g}, rotation "
            f"{b:g}, {d:g}): the georeference is broken"
        )
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
    try:
        check_lonlat(np.asarray(lon), np.asarray(lat))
    except ValueError as exc:
        raise ValueError(f"footprint is off the globe ({exc})") from None
    try:
        # an image outline that winds around a pole contains it (an AOI might mean either
        # side, so it is refused there; a picture of the pole is what it is)
        ring = Polygon(zip(lon, lat, strict=True))
        return native, lonlat_polygons(ring, around_pole=True)
    except ValueError as exc:
        raise ValueError(f"footprint: {exc}") from None


def check_lonlat(lon: np.ndarray, lat: np.ndarray) -> None:
    """Refuse coordinates that are not lon/lat on the globe: |lat| > 90, or |lon| > 360 (the
    0…360 convention and rings written across ±180 are fine, a longitude of 500 is not)."""
    if lat.size and np.abs(lat).max() > 90:
        worst = float(lat[np.argmax(np.abs(lat))])
        raise ValueError(f"latitude {worst:g} is beyond ±90")
    if lon.size and np.abs(lon).max() > 360:
        worst = float(lon[np.argmax(np.abs(lon))])
        raise ValueError(f"longitude {worst:g} is beyond ±360")


def lonlat_polygons(geom: BaseGeometry, around_pole: bool = False) -> Polygon | MultiPolygon:
    """A lon/lat (multi)polygon as it is stored: every edge read the short way round, so a
    ring that steps from 179° to -179° crosses the antimeridian (it is not the 358°-wide
    box the other way), then split at ±180 into parts within -180…180. An edge between
    -180 and 180 exactly runs along the whole parallel (a world-wide box). A ring that
    winds around a pole is closed over that pole when ``around_pole``, else refused
    (ValueError), as is a polygon that is invalid."""
    parts = [
        _unwrapped(poly, around_pole)
        for poly in (geom.geoms if isinstance(geom, MultiPolygon) else [geom])
        if not poly.is_empty
    ]
    pieces = []
    for poly in parts:
        if not poly.is_valid:
            raise ValueError("polygon is invalid (self-intersecting or badly ringed)")
        minx, _, maxx, _ = poly.bounds
        if maxx - minx > 360:
            raise ValueError("a polygon spans more than 360° of longitude")
        for k in range(math.floor((minx + 180) / 360), math.ceil((maxx - 180) / 360) + 1):
            piece = poly.intersection(box(-180 + 360 * k, -90, 180 + 360 * k, 90))
            if piece.area > 0:
                pieces.append(translate(piece, -360 * k))
    polys = _polygons(unary_union(pieces)) if pieces else []
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    """The polygons in a geometry, collections flattened (slivers of lines dropped)."""
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty else []
    return [p for part in getattr(geom, "geoms", []) for p in _polygons(part)]


def _unwrapped(poly: Polygon, around_pole: bool = False) -> Polygon:
    """The polygon with each ring's longitudes made continuous (edges the short way)."""
    shell = _unwrap_ring(np.asarray(poly.exterior.coords), around_pole)
    centre = 0.5 * (shell[:, 0].min() + shell[:, 0].max())
    holes = []
    for ring in poly.interiors:
        hole = _unwrap_ring(np.asarray(ring.coords))
        hole[:, 0] += 360 * round((centre - hole[0, 0]) / 360)  # beside its shell
        holes.append(hole)
    return Polygon(shell, holes)


def _unwrap_ring(coords: np.ndarray, around_pole: bool = False) -> np.ndarray:
    coords = coords[:, :2].astype(float).copy()
    step = np.diff(coords[:, 0])
    along_antimeridian = (np.abs(coords[:-1, 0]) == 180) & (np.abs(coords[1:, 0]) == 180)
    wrap = (np.abs(step) > 180) & ~along_antimeridian
    # whole turns added to the given longitudes (not a running sum of steps, which drifts by
    # an ulp: the closing vertex would miss the first and shapely would see a spike there)
    turns = np.cumsum(np.where(wrap, -np.sign(step), 0.0))
    coords[1:, 0] += 360 * turns
    if turns[-1] != 0:
        if not around_pole:
            raise ValueError(
                "a ring winds around a pole; give it as parts cut at the antimeridian (±180)"
            )
        # once round: run along the pole's "edge" back to the start (a 360°-wide strip)
        pole = 90.0 if coords[:, 1].mean() > 0 else -90.0
        (x0, _), (x1, _) = coords[0], coords[-1]
        coords = np.vstack([coords[:-1], [[x1, pole], [x0, pole], coords[0]]])
    return coords


def centre(geom: BaseGeometry) -> Point:
    """The centre of a lon/lat geometry, across the antimeridian when it is split there."""
    minx, _, maxx, _ = geom.bounds
    if isinstance(geom, MultiPolygon) and minx <= -180 and maxx >= 180:
        east = [g if g.bounds[0] >= 0 else translate(g, 360) for g in geom.geoms]
        c = unary_union(east).centroid
        return Point(c.x - 360 if c.x > 180 else c.x, c.y)
    return geom.centroid


def footprint_place(wkt: str) -> tuple[float, float, float]:
    """A lon/lat footprint's centre (lat, lon) and radius in km (of a disc of its area)."""
    shape = load_wkt(wkt)
    c = centre(shape)
    return c.y, c.x, math.sqrt(area_m2(shape) / math.pi) / 1000


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
    """Area of a lon/lat geometry in square metres, its edges straight in lon/lat as shapely
    sees them (so a box reaching the poles, or the whole Earth, has its true area)."""
    dense = shapely.segmentize(geom_wgs84, max_segment_length=0.25)
    to_equal_area = _transformer(_WGS84_WKT, _EQUAL_AREA_WKT)
    return float(shapely.transform(dense, to_equal_area.transform, interleaved=False).area)


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
