"""Map tiles for the dashboard.

* **Site-frame tiles** (Leaflet ``CRS.Simple``): any registered image resampled into its
  site's frame (the reference image's pixel grid) through the stored registration, so two
  dates line up tile for tile for the before/after swipe. At zoom ``zmax`` one tile pixel is one
  frame pixel; each zoom out halves that. Works for plain JPEGs and GeoTIFFs alike.
* **Web-Mercator tiles** (rio-tiler) of georeferenced images, for the overview map.

Pixels come through the detector's scene readers, so a 16-bit or 4-band raster is shown with
the same band choice and stretch the detector saw.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from rio_tiler.errors import NoOverviewWarning, TileOutsideBounds
from rio_tiler.io import Reader

from sitewatch.frame import project, warp
from sitewatch.scene import RasterScene, SceneReader, open_scaled

TILE = 256
# small scenes have no overviews and need none; rio-tiler would say so on every tile
warnings.filterwarnings("ignore", category=NoOverviewWarning)


def max_zoom(width: int, height: int) -> int:
    """The zoom at which one tile pixel is one frame pixel."""
    return max(0, math.ceil(math.log2(max(width, height, 1) / TILE)))


class TileSource:
    """One image's pixels at any scale: rasters through windowed reads (COG overviews used);
    JPEG/PNG decoded once per power-of-four reduction, on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.full = open_scaled(path, 1.0)
        self.width, self.height = self.full.width, self.full.height
        self._levels: dict[int, SceneReader] = {0: self.full}
        self.lock = threading.Lock()  # a rasterio dataset is not thread-safe

    def _level(self, s: float) -> SceneReader:
        n = 0
        while n < 4 and 4.0 ** -(n + 1) >= s:
            n += 1
        if n not in self._levels:
            self._levels[n] = open_scaled(self.path, 4.0**-n)
        return self._levels[n]

    def region(self, x0: int, y0: int, x1: int, y1: int, s: float) -> tuple[np.ndarray, np.ndarray]:
        """Source pixels [x0, x1) × [y0, y1) (inside the image) shrunk by about ``s`` ≤ 1,
        and the 3×3 matrix taking the returned pixels' coordinates to source pixels."""
        ow, oh = max(1, math.floor((x1 - x0) * s)), max(1, math.floor((y1 - y0) * s))
        if isinstance(self.full, RasterScene):
            # a window of exactly ow/s source pixels keeps the scale exact (no drift)
            pixels = self.full.read(x0, y0, ow / s, oh / s, out=(ow, oh))
            return pixels, np.array([[1 / s, 0, x0], [0, 1 / s, y0], [0, 0, 1.0]])
        level = self._level(s)
        k = level.scale
        lx0, ly0 = math.floor(x0 * k), math.floor(y0 * k)
        lx1 = min(level.width, max(lx0 + 1, math.ceil(x1 * k)))
        ly1 = min(level.height, max(ly0 + 1, math.ceil(y1 * k)))
        crop = np.ascontiguousarray(level.read(lx0, ly0, lx1 - lx0, ly1 - ly0))
        ow = max(1, min(ow, crop.shape[1]))
        oh = max(1, min(oh, crop.shape[0]))
        pixels = cv2.resize(crop, (ow, oh), interpolation=cv2.INTER_AREA)
        fx, fy = (lx1 - lx0) / ow / k, (ly1 - ly0) / oh / k
        return pixels, np.array([[fx, 0, lx0 / k], [0, fy, ly0 / k], [0, 0, 1.0]])

    def close(self) -> None:
        for level in self._levels.values():
            level.close()


class SourceCache:
    """The few most recently viewed images, kept open between tile requests."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._open: OrderedDict[Path, TileSource] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> TileSource:
        with self._lock:
            source = self._open.pop(path, None)
            if source is None:
                source = TileSource(path)
            self._open[path] = source
            while len(self._open) > self.size:
                _path, old = self._open.popitem(last=False)
                with old.lock:
                    old.close()
            return source

    def clear(self) -> None:
        with self._lock:
            for source in self._open.values():
                source.close()
            self._open.clear()


def frame_tile(
    source: TileSource, image_to_frame: np.ndarray, zmax: int, z: int, x: int, y: int
) -> np.ndarray | None:
    """Tile (z, x, y) of the site frame as RGBA, from one image; None when it sees none of it.

    Transparent where the image does not reach, so partial views are visibly partial.
    """
    f = 2.0 ** (zmax - z)  # frame pixels per tile pixel
    tile_to_frame = np.array([[f, 0, x * TILE * f], [0, f, y * TILE * f], [0, 0, 1.0]])
    tile_to_image = np.linalg.inv(image_to_frame) @ tile_to_frame
    corners = project(tile_to_image, np.array([[0, 0], [TILE, 0], [TILE, TILE], [0, TILE]], float))
    if not np.isfinite(corners).all():
        return None
    span = corners.max(axis=0) - corners.min(axis=0)
    s = min(1.0, 1.0 / max(float(span.max()) / TILE, 1e-9))  # source pixels per tile pixel
    margin = math.ceil(2 / s) + 1  # two pixels of the shrunk read, for the interpolation
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + margin
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), source.width), min(int(y1), source.height)
    if x1 <= x0 or y1 <= y0:
        return None
    with source.lock:
        region, region_to_image = source.region(x0, y0, x1, y1, s)
    region_to_tile = np.linalg.inv(tile_to_image) @ region_to_image
    rgb = warp(region, region_to_tile, (TILE, TILE))
    mask = np.full(region.shape[:2], 255, np.uint8)
    alpha = warp(mask, region_to_tile, (TILE, TILE))
    if not alpha.any():
        return None
    return np.dstack([rgb, alpha])


FORMATS = {"webp": "image/webp", "png": "image/png"}


def encode(rgba: np.ndarray | None, fmt: str = "webp") -> bytes:
    """A tile as WebP (lossy colour at quality 85, lossless alpha: ~11 kB for a photographic
    tile, what the pages use) or PNG (lossless, ~130 kB); None becomes a transparent tile."""
    if rgba is None:
        rgba = np.zeros((TILE, TILE, 4), np.uint8)
    bgra = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_WEBP_QUALITY, 85] if fmt == "webp" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, buf = cv2.imencode(f".{fmt}", bgra, params)
    if not ok:  # pragma: no cover - OpenCV cannot fail on a uint8 RGBA array
        raise RuntimeError(f"{fmt} encoding failed")
    return buf.tobytes()


def mercator_tile(source: TileSource, z: int, x: int, y: int) -> np.ndarray | None:
    """Web-Mercator tile (z, x, y) of a georeferenced raster as RGBA (rio-tiler), with the
    scene's band choice and stretch; None outside the image."""
    scene = source.full
    if not isinstance(scene, RasterScene):
        return None
    with source.lock, Reader(None, dataset=scene.ds) as reader:
        try:
            data = reader.tile(x, y, z, tilesize=TILE, indexes=scene.bands)
        except TileOutsideBounds:
            return None
    rgb = scene.to_rgb(data.array.data)
    alpha = np.where(np.ma.getmaskarray(data.array).any(axis=0), 0, 255).astype(np.uint8)
    if not alpha.any():
        return None
    return np.dstack([rgb, alpha])
