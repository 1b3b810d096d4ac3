"""Turn network outputs into boxes (numpy only, shared by training validation and ONNX use)."""

from __future__ import annotations

import numpy as np


def maxpool3(x: np.ndarray) -> np.ndarray:
    """3×3 max filter over the last two axes (same size, edge-padded)."""
    p = np.pad(
        x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)], mode="constant", constant_values=-np.inf
    )
    h, w = x.shape[-2:]
    out = p[..., 0:h, 0:w].copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(out, p[..., dy : dy + h, dx : dx + w], out=out)
    return out


def decode(
    heat: np.ndarray,
    size: np.ndarray,
    offset: np.ndarray,
    stride: int,
    threshold: float,
    max_objects: int = 2000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's outputs (C, H, W) → boxes (N, 4) x0 y0 x1 y1 in input px, scores, classes."""
    peaks = (heat == maxpool3(heat)) & (heat >= threshold)
    cls, ys, xs = np.nonzero(peaks)
    scores = heat[cls, ys, xs]
    order = np.argsort(-scores)[:max_objects]
    cls, ys, xs, scores = cls[order], ys[order], xs[order], scores[order]
    cx = (xs + offset[0, ys, xs]) * stride
    cy = (ys + offset[1, ys, xs]) * stride
    w = np.exp(np.clip(size[0, ys, xs], -5, 8))
    h = np.exp(np.clip(size[1, ys, xs], -5, 8))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes.astype(np.float32), scores.astype(np.float32), cls.astype(np.int64)
