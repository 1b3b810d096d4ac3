"""Image chips of one frame region from each date, side by side, for changed objects."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from sitewatch.files import write_bytes_atomic
from sitewatch.frame import project, warp
from sitewatch.scene import open_scaled


class ChipSource:
    """Regions of one image at full resolution, read through its scene reader (a JPEG is
    decoded once, a raster window by window with the scene-wide stretch)."""

    def __init__(self, path: Path) -> None:
        self.scene = open_scaled(path, 1.0)

    def region(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """Pixels [x0, x1) × [y0, y1) as RGB uint8 (outside the image: black)."""
        out = np.zeros((max(1, y1 - y0), max(1, x1 - x0), 3), np.uint8)
        sx0, sy0 = max(x0, 0), max(y0, 0)
        sx1, sy1 = min(x1, self.scene.width), min(y1, self.scene.height)
        if sx1 > sx0 and sy1 > sy0:
            patch = self.scene.read(sx0, sy0, sx1 - sx0, sy1 - sy0)
            out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = patch
        return out

    def close(self) -> None:
        self.scene.close()


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
    buf = io.BytesIO()
    PILImage.fromarray(np.hstack([before, gap, after])).save(buf, format="PNG")
    write_bytes_atomic(dest, buf.getvalue())
