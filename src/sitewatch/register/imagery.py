"""Read any stored image as one grey-level array for matching, at a bounded working size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sitewatch.ingest.sniff import sniff


def load_gray(path: str | Path, max_side: int) -> tuple[np.ndarray, float]:
    """The image as (H, W) uint8 grey and its scale (working pixels per source pixel).

    Large rasters are read decimated (rasterio uses overviews when the file has them), so
    memory stays bounded by ``max_side``² whatever the scene size.
    """
    path = Path(path)
    if sniff(path) in ("jpeg", "png"):
        from PIL import Image

        from sitewatch.scene import load_scaled

        with Image.open(path) as im:
            w, h = im.size
        scale = min(1.0, max_side / max(w, h))
        rgb = load_scaled(path, scale)
        return _gray(rgb), rgb.shape[1] / w
    return _load_raster(path, max_side)


def _load_raster(path: Path, max_side: int) -> tuple[np.ndarray, float]:
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(path) as ds:
        scale = min(1.0, max_side / max(ds.width, ds.height))
        out_w, out_h = max(1, round(ds.width * scale)), max(1, round(ds.height * scale))
        bands = [1, 2, 3] if ds.count >= 3 else [1]
        data = ds.read(bands, out_shape=(len(bands), out_h, out_w), resampling=Resampling.average)
        valid = ds.read_masks(1, out_shape=(out_h, out_w)) > 0
    pixels = np.moveaxis(data, 0, -1).astype(np.float32)
    if data.dtype != np.uint8:
        # stretch each band between its 1st and 99th percentile of valid pixels
        for b in range(pixels.shape[-1]):
            lo, hi = np.percentile(pixels[..., b][valid], [1, 99]) if valid.any() else (0, 1)
            pixels[..., b] = np.clip((pixels[..., b] - lo) / max(hi - lo, 1e-6) * 255, 0, 255)
    gray = _gray(pixels)
    gray[~valid] = 0
    return gray, out_w / ds.width


def _gray(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2 or rgb.shape[-1] == 1:
        return np.ascontiguousarray(rgb.reshape(rgb.shape[:2]).astype(np.uint8))
    g = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(g + 0.5, 0, 255).astype(np.uint8)
