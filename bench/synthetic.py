"""Generated test scenes for the benchmarks (written block by block, any size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine


def synthetic_geotiff(path: Path, side: int, compress: str = "deflate") -> Path:
    """A ``side``² tiled RGB GeoTIFF at 0.5 m in UTM 15N, random texture, no objects."""
    profile = {
        "driver": "GTiff",
        "width": side,
        "height": side,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32615",
        "transform": Affine(0.5, 0, 500_000, 0, -0.5, 4_100_000),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": compress,
        "BIGTIFF": "IF_SAFER",
    }
    if compress == "jpeg":
        profile["photometric"] = "ycbcr"
    rng = np.random.default_rng(0)
    block = rng.integers(60, 160, (3, 512, 512), dtype=np.uint8)
    with rasterio.open(path, "w", **profile) as ds:
        for _, window in ds.block_windows(1):
            ds.write(block[:, : window.height, : window.width], window=window)
    return path
