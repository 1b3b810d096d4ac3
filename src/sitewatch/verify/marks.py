"""Points an analyst marks (a shadow's base and tip) turned into WGS84 lon/lat, from map
coordinates in any CRS or from pixels of a georeferenced image."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sitewatch import geo
from sitewatch.errors import BadInputError

Point = tuple[float, float]


def parse_point(text: str, option: str) -> Point:
    """``X,Y`` (two finite numbers) from the command line."""
    parts = text.replace(" ", "").split(",")
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise BadInputError(option, f"{text!r} is not X,Y", "give two numbers: 512.5,300") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise BadInputError(option, f"{text!r} is not finite")
    return x, y


def map_to_lonlat(points: Sequence[Point], crs: str) -> list[Point]:
    """Map coordinates (x, y in ``crs``; for a geographic CRS, lon then lat) to lon/lat."""
    try:
        source = geo.checked_crs(crs)
    except ValueError as exc:
        raise BadInputError("--crs", str(exc), "give a code such as EPSG:32615") from None
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    lon, lat = geo.to_wgs84(source).transform(xs, ys)
    out = [(float(a), float(b)) for a, b in zip(lon, lat, strict=True)]
    if not all(math.isfinite(v) for p in out for v in p):
        raise BadInputError("--base/--tip", f"a point lies outside the area of {crs}")
    return out


def pixels_to_lonlat(
    points: Sequence[Point], transform: Sequence[float], crs_wkt: str, size: tuple[int, int]
) -> list[Point]:
    """Pixel (column, row) of a georeferenced image to lon/lat; points must lie on it."""
    width, height = size
    for x, y in points:
        if not (0 <= x <= width and 0 <= y <= height):
            raise BadInputError(
                "--base/--tip", f"pixel {x:g},{y:g} is off the {width}×{height} image"
            )
    cols, rows = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    x, y = geo.pixel_to_native(tuple(transform), cols, rows)
    lon, lat = geo.to_wgs84(geo.checked_crs(crs_wkt)).transform(x, y)
    return [(float(a), float(b)) for a, b in zip(lon, lat, strict=True)]
