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


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) boxes."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = (x1 - x0).clip(0) * (y1 - y0).clip(0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), bool)
    ious = box_iou(boxes[order], boxes[order]) if len(boxes) else np.zeros((0, 0))
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(order[i])
        suppressed |= ious[i] > iou
    return np.asarray(keep, dtype=np.int64)
