"""Areas of interest: read GeoJSON, check them, and parse pixel polygons."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from sitewatch import geo
from sitewatch.errors import BadInputError
from sitewatch.values import kind_of, load_json, read_document, shown


def read_aoi(path: str | Path) -> BaseGeometry:
    """A polygonal AOI in lon/lat from a GeoJSON geometry, Feature or FeatureCollection.

    RFC 7946 GeoJSON is lon/lat; a legacy ``crs`` member is honoured and reprojected.
    Edges are read the short way round: a ring stepping from 179° to -179° crosses the
    antimeridian and is stored split there (:func:`geo.lonlat_polygons`).
    """
    path = Path(path)
    data = load_json(read_document(path, "AOI"), path, "GeoJSON")
    if not isinstance(data, dict):
        raise BadInputError(path, f"AOI must be a GeoJSON object, not {kind_of(data)}")
    if data.get("type") == "FeatureCollection":
        features = data.get("features") or []
        if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
            raise BadInputError(path, "AOI 'features' must be a list of Features")
        geometries = [f.get("geometry") for f in features]
    elif data.get("type") == "Feature":
        geometries = [data.get("geometry")]
    else:
        geometries = [data]
    try:
        shapes = [shape(g) for g in geometries if g]
    except (
        AttributeError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        shapely.errors.ShapelyError,
    ) as exc:
        raise BadInputError(path, f"AOI geometry is malformed ({exc})") from None
    shapes = [s for s in shapes if s.geom_type in ("Polygon", "MultiPolygon")]
    if not shapes:
        raise BadInputError(path, "AOI holds no Polygon or MultiPolygon")
    crs_name = _crs_name(path, data)
    if crs_name:
        try:
            src = CRS.from_user_input(crs_name)
        except Exception as exc:
            raise BadInputError(path, f"unknown AOI crs {crs_name!r} ({exc})") from None
        if not src.equals(geo.WGS84, ignore_axis_order=True):
            shapes = [geo.reproject(s, src) for s in shapes]
    coords = np.concatenate([shapely.get_coordinates(s) for s in shapes])
    if not np.isfinite(coords).all():
        raise BadInputError(path, "AOI coordinates hold NaN or infinity")
    try:
        geo.check_lonlat(coords[:, 0], coords[:, 1])
    except ValueError as exc:
        raise BadInputError(
            path,
            f"AOI coordinates are not lon/lat ({exc})",
            "GeoJSON must be in EPSG:4326; reproject it or add a 'crs' member",
        ) from None
    try:
        aoi = unary_union([geo.lonlat_polygons(s) for s in shapes])
    except ValueError as exc:
        raise BadInputError(path, f"AOI {exc}") from None
    if aoi.area == 0:
        raise BadInputError(path, "AOI has zero area")
    return aoi


def _crs_name(path: Path, data: dict) -> str | None:
    """The legacy ``crs`` member's name, if any."""
    crs = data.get("crs")
    props = crs.get("properties") if isinstance(crs, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    if name is not None and not isinstance(name, str):
        raise BadInputError(path, f"AOI crs name must be text, not {kind_of(name)}")
    return name


def parse_pixel_polygon(text: str, width: int, height: int) -> Polygon:
    """Parse ``"x,y x,y x,y …"`` (reference-image pixels) and check it lies on the image."""
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
    except ValueError:
        raise ValueError(f"polygon {shown(text)} must be 'x,y x,y x,y …' in pixels") from None
    if not all(math.isfinite(v) for p in points for v in p):
        raise ValueError(f"polygon {shown(text)} holds a coordinate that is not a finite number")
    if len(points) < 3 or any(len(p) != 2 for p in points):
        raise ValueError(f"polygon {shown(text)} needs at least three 'x,y' points")
    poly = Polygon(points)
    if not poly.is_valid or poly.area == 0:
        raise ValueError(f"polygon {shown(text)} is self-intersecting or has no area")
    if not geo.image_box(width, height).buffer(1e-6).contains(poly):
        raise ValueError(f"polygon {shown(text)} reaches outside the {width}×{height} px reference")
    return poly
