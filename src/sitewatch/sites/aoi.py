"""Areas of interest: read GeoJSON, check them, and parse pixel polygons."""

from __future__ import annotations

import json
from pathlib import Path

from pyproj import CRS
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from sitewatch import geo
from sitewatch.errors import BadInputError, DatasetNotFoundError


def read_aoi(path: str | Path) -> BaseGeometry:
    """A polygonal AOI in lon/lat from a GeoJSON geometry, Feature or FeatureCollection.

    RFC 7946 GeoJSON is lon/lat; a legacy ``crs`` member is honoured and reprojected.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: AOI file does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(path, f"AOI is not readable GeoJSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadInputError(path, "AOI must be a GeoJSON object")
    if data.get("type") == "FeatureCollection":
        geometries = [f.get("geometry") for f in data.get("features") or []]
    elif data.get("type") == "Feature":
        geometries = [data.get("geometry")]
    else:
        geometries = [data]
    try:
        shapes = [shape(g) for g in geometries if g]
    except (AttributeError, ValueError, TypeError, KeyError) as exc:
        raise BadInputError(path, f"AOI geometry is malformed ({exc})") from None
    shapes = [s for s in shapes if s.geom_type in ("Polygon", "MultiPolygon")]
    if not shapes:
        raise BadInputError(path, "AOI holds no Polygon or MultiPolygon")
    aoi = unary_union(shapes)
    crs_name = ((data.get("crs") or {}).get("properties") or {}).get("name")
    if crs_name:
        try:
            src = CRS.from_user_input(crs_name)
        except Exception as exc:
            raise BadInputError(path, f"unknown AOI crs {crs_name!r} ({exc})") from None
        if not src.equals(geo.WGS84, ignore_axis_order=True):
            aoi = geo.reproject(aoi, src)
    minx, miny, maxx, maxy = aoi.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise BadInputError(
            path,
            f"AOI coordinates {aoi.bounds} are not lon/lat",
            "GeoJSON must be in EPSG:4326; reproject it or add a 'crs' member",
        )
    if not aoi.is_valid:
        raise BadInputError(path, "AOI polygon is invalid (self-intersecting or badly ringed)")
    if aoi.area == 0:
        raise BadInputError(path, "AOI has zero area")
    return aoi


def parse_pixel_polygon(text: str, width: int, height: int) -> Polygon:
    """Parse ``"x,y x,y x,y …"`` (reference-image pixels) and check it lies on the image."""
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
    except ValueError:
        raise ValueError(f"polygon {text!r} must be 'x,y x,y x,y …' in pixels") from None
    if len(points) < 3 or any(len(p) != 2 for p in points):
        raise ValueError(f"polygon {text!r} needs at least three 'x,y' points")
    poly = Polygon(points)
    if not poly.is_valid or poly.area == 0:
        raise ValueError(f"polygon {text!r} is self-intersecting or has no area")
    if not geo.image_box(width, height).buffer(1e-6).contains(poly):
        raise ValueError(f"polygon {text!r} reaches outside the {width}×{height} px reference")
    return poly
