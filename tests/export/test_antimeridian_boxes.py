"""Boxes on a scene astride the antimeridian: split at ±180 into valid parts, never a crash."""

from __future__ import annotations

import numpy as np
from pyproj import CRS

from sitewatch.export.placement import Placement
from sitewatch.store.models import Image


def test_boxes_across_the_antimeridian_are_valid_split_polygons() -> None:
    # UTM 60N near the equator, 0.5 m pixels: the scene's columns run across 180°E
    image = Image(crs_wkt=CRS.from_epsg(32660).to_wkt(),
                  transform=[0.5, 0.0, 832_691.92, 0.0, -0.5, 100_000.0])  # fmt: skip
    placed = Placement(image, "image georeference")
    rng = np.random.default_rng(7)
    split = 0
    for x0 in rng.uniform(0, 4000, 200):
        poly = placed.box(x0, 100.0, x0 + 60.3, 151.7)
        assert poly.is_valid and not poly.is_empty
        lon = np.array(poly.bounds)[[0, 2]]
        assert (np.abs(lon) <= 180).all()
        split += poly.geom_type == "MultiPolygon"
    assert 0 < split < 200  # some boxes straddle the line, and they come out in two parts
