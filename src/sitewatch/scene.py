"""Scene pixels at a working scale: whole JPEG/PNG decoded at reduced size, rasters read
window by window (overviews when present). Shared by detection, training, registration,
figures, tiles and exports."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from sitewatch.errors import BadInputError


def load_scaled(path: str | Path, scale: float) -> np.ndarray:
    """A whole JPEG/PNG as (H, W, 3) uint8, resampled by ``scale`` (< 1 shrinks).

    JPEGs are decoded at a reduced DCT scale first (much faster), then area-resampled to the
    exact size, so every caller gets the same pixels for the same file and scale.
    """
    with Image.open(path) as im:
        w, h = im.size
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        if im.format == "JPEG" and scale < 1:
            im.draft("RGB", (tw, th))
        rgb = im.convert("RGB")
        if rgb.size != (tw, th):
            rgb = rgb.resize((tw, th), Image.Resampling.BOX)
        return np.asarray(rgb)


class SceneReader(Protocol):
    """Pixels of one scene at model scale; ``read`` returns (h, w, 3) uint8."""

    width: int
    height: int
    scale: float  # model pixels per source pixel

    def read(self, x0: int, y0: int, w: int, h: int) -> np.ndarray: ...

    def close(self) -> None: ...


class InMemoryScene:
    """JPEG/PNG (not windowable): decoded once, at reduced scale when possible."""

    def __init__(self, path: Path, scale: float) -> None:
        try:
            self.pixels = load_scaled(path, scale)
        except OSError as exc:
            raise BadInputError(path, f"cannot decode image ({exc})") from None
        self.height, self.width = self.pixels.shape[:2]
        self.scale = self.width / _plain_width(path)

    def read(self, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        return self.pixels[y0 : y0 + h, x0 : x0 + w]

    def close(self) -> None:
        self.pixels = np.zeros((0, 0, 3), np.uint8)


def _plain_width(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.size[0]


class RasterScene:
    """GeoTIFF/COG/JP2 via rasterio windows (overviews used when present): memory stays
    proportional to one tile, whatever the scene size."""

    def __init__(self, path: Path, scale: float) -> None:
        import rasterio
        from rasterio.enums import ColorInterp

        self.ds = rasterio.open(path)
        self.scale = scale
        self.width = max(1, round(self.ds.width * scale))
        self.height = max(1, round(self.ds.height * scale))
        interp = list(self.ds.colorinterp)
        if all(c in interp for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)):
            self.bands = [
                interp.index(c) + 1 for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
            ]
        elif self.ds.count >= 3:
            self.bands = [1, 2, 3]
        else:
            self.bands = [1, 1, 1]
        self.stretch = None if self.ds.dtypes[0] == "uint8" else self._percentiles()

    def _percentiles(self) -> np.ndarray:
        """2–98 % per band from a decimated read, to map non-8-bit data to 0…255."""
        f = max(1, max(self.ds.width, self.ds.height) // 1024)
        small = self.ds.read(
            self.bands,
            out_shape=(3, self.ds.height // f or 1, self.ds.width // f or 1),
            masked=True,
        )
        return np.array(
            [np.percentile(b.compressed(), [2, 98]) if b.count() else [0, 1] for b in small],
            dtype=np.float64,
        )

    def read(
        self, x0: float, y0: float, w: float, h: float, out: tuple[int, int] | None = None
    ) -> np.ndarray:
        """Pixels [x0, x0+w) × [y0, y0+h) of the scaled scene, resampled to ``out`` (w, h)
        when given (overviews serve the shrinking)."""
        from rasterio.enums import Resampling
        from rasterio.windows import Window

        s = self.scale
        ow, oh = out or (w, h)
        # tiles lie inside the scene; rounding may overhang it by under a source pixel
        window = Window(x0 / s, y0 / s, w / s, h / s).intersection(
            Window(0, 0, self.ds.width, self.ds.height)
        )
        data = self.ds.read(
            self.bands, window=window, out_shape=(3, oh, ow), resampling=Resampling.average
        )
        return self.to_rgb(data)

    def to_rgb(self, data: np.ndarray) -> np.ndarray:
        """(3, h, w) band values → (h, w, 3) uint8 through the scene's stretch."""
        if self.stretch is not None:
            lo, hi = self.stretch[:, :1, None], self.stretch[:, 1:, None]
            data = (data.astype(np.float32) - lo) / np.maximum(hi - lo, 1e-6) * 255
        return np.clip(data, 0, 255).astype(np.uint8).transpose(1, 2, 0)

    def close(self) -> None:
        self.ds.close()


def open_scene(path: Path, source_gsd_m: float, model_gsd_m: float) -> SceneReader:
    """Open a scene resampled from its GSD to the model's."""
    return open_scaled(path, source_gsd_m / model_gsd_m)


def open_scaled(path: Path, scale: float) -> SceneReader:
    """Open a scene resampled by ``scale`` (output pixels per source pixel)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG")):
        return InMemoryScene(path, scale)
    try:
        return RasterScene(path, scale)
    except Exception as exc:
        raise BadInputError(path, f"cannot open raster ({exc})") from None
