"""RFC 7946 GeoJSON: WGS 84 lon/lat only, counter-clockwise exterior rings, no ``crs``."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from sitewatch.formats.layers import Layer

# 6 decimals of a degree is about 10 cm on the ground (RFC 7946 §11.2): under a third of
# a VHR pixel, instead of the 16 digits a float prints
DECIMALS = 6


def geometry(geom: BaseGeometry) -> dict[str, Any]:
    """A shapely lon/lat geometry as an RFC 7946 geometry object."""
    # right-hand rule: exterior rings counter-clockwise, holes clockwise (RFC 7946 §3.1.6)
    return rounded(mapping(shapely.orient_polygons(geom, exterior_cw=False)))


def rounded(obj: Any, decimals: int = DECIMALS) -> Any:
    """A geometry mapping (or any nest of dicts and lists) with its coordinates rounded."""
    if isinstance(obj, dict):
        return {k: rounded(v, decimals) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        if obj and isinstance(obj[0], float | int) and not isinstance(obj[0], bool):
            return [round(float(v), decimals) for v in obj]
        return [rounded(v, decimals) for v in obj]
    return obj


def feature_collection(layer: Layer) -> dict[str, Any]:
    """The layer as a FeatureCollection with a ``bbox``; properties are flat scalars."""
    features = [
        {"type": "Feature", "geometry": geometry(r.geometry), "properties": dict(r.values)}
        for r in layer.rows
    ]
    collection: dict[str, Any] = {"type": "FeatureCollection", "name": layer.name}
    if layer.rows:
        bounds = np.array([r.geometry.bounds for r in layer.rows])
        box = [bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()]
        if box[2] - box[0] <= 180:  # parts on both sides of the antimeridian: leave it out
            collection["bbox"] = [round(float(v), DECIMALS) for v in box]
    collection["features"] = features
    return collection
