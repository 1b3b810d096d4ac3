"""Read scene pixels at the detector's scale, for training and inference alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


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
