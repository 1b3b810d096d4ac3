"""Image chips of one frame region from each date, side by side, for changed objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from sitewatch.ingest.sniff import sniff
from sitewatch.register.features import project, warp


class ChipSource:
    """Reads regions of one image: a JPEG/PNG is decoded once, a raster window by window."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pixels: np.ndarray | None = None
        if sniff(path) in ("jpeg", "png"):
            with PILImage.open(path) as im:
                self._pixels = np.asarray(im.convert("RGB"))

    def region(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """Pixels [x0, x1) × [y0, y1) as RGB uint8 (outside the image: black)."""
        w, h = max(1, x1 - x0), max(1, y1 - y0)
        if self._pixels is not None:
            out = np.zeros((h, w, 3), np.uint8)
            ih, iw = self._pixels.shape[:2]
            sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, iw), min(y1, ih)
            if sx1 > sx0 and sy1 > sy0:
                out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = self._pixels[sy0:sy1, sx0:sx1]
            return out
        import rasterio
        from rasterio.windows import Window

        with rasterio.open(self.path) as ds:
            bands = [1, 2, 3] if ds.count >= 3 else [1, 1, 1]
            data = ds.read(bands, window=Window(x0, y0, w, h), boundless=True, fill_value=0)
        rgb = np.moveaxis(data, 0, -1).astype(np.float32)
        if data.dtype != np.uint8:
            lo, hi = np.percentile(rgb[rgb > 0], [1, 99]) if (rgb > 0).any() else (0.0, 1.0)
            rgb = (rgb - lo) / max(hi - lo, 1e-6) * 255
        return np.clip(rgb, 0, 255).astype(np.uint8)


def frame_chip(
    source: ChipSource, matrix: np.ndarray, centre: tuple[float, float], side: float, out: int = 128
) -> np.ndarray:
    """A square of ``side`` frame pixels around ``centre``, resampled from one image."""
    cx, cy = centre
    fx0, fy0 = cx - side / 2, cy - side / 2
    s = side / out
    chip_to_frame = np.array([[s, 0, fx0], [0, s, fy0], [0, 0, 1.0]])
    chip_to_image = np.linalg.inv(matrix) @ chip_to_frame
    corners = project(chip_to_image, np.array([[0, 0], [out, 0], [out, out], [0, out]], float))
    rx0, ry0 = np.floor(corners.min(axis=0)).astype(int) - 1
    rx1, ry1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    region = source.region(rx0, ry0, rx1, ry1)
    to_region = np.array([[1, 0, -rx0], [0, 1, -ry0], [0, 0, 1.0]]) @ chip_to_image
    return warp(region, np.linalg.inv(to_region), (out, out))


def write_pair(before: np.ndarray, after: np.ndarray, dest: Path) -> None:
    """Save before | after with a thin separator as PNG (written atomically)."""
    gap = np.full((before.shape[0], 4, 3), 255, np.uint8)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp.png")
    PILImage.fromarray(np.hstack([before, gap, after])).save(tmp)
    tmp.replace(dest)
