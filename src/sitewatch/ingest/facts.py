"""What a reader learns from an image file, whatever its format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon

from sitewatch.errors import BadInputError
from sitewatch.ingest.provenance import Dated

MIN_SIDE = 16  # smaller than this is an icon, not a scene
MAX_SIDE = 1_000_000  # 500 km at 0.5 m: beyond any real scene
MAX_PLAIN_PIXELS = 1_000_000_000  # larger JPEG/PNG cannot be read by windows: use a COG


@dataclass
class ImageFacts:
    """Format, shape, georeference and embedded metadata of one image file."""

    format: str
    width: int
    height: int
    bands: int
    dtype: str
    crs_wkt: str | None = None
    crs_epsg: int | None = None
    transform: list[float] | None = None
    footprint_native: Polygon | None = None
    footprint_wgs84: Polygon | MultiPolygon | None = None  # split at the antimeridian
    gsd_m: float | None = None
    gsd_source: str | None = None
    embedded_time: Dated | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check_dimensions(path: Path, width: int, height: int, bands: int) -> None:
    """Refuse shapes no real scene has (empty, icon-sized, or absurdly large)."""
    if width <= 0 or height <= 0 or bands <= 0:
        raise BadInputError(path, f"image has no pixels ({width}×{height}×{bands})")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise BadInputError(
            path, f"image is {width}×{height} px: too small for a scene (min {MIN_SIDE} px a side)"
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise BadInputError(
            path, f"absurd dimensions {width}×{height} px (max {MAX_SIDE:,} px a side)"
        )
