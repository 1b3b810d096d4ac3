"""Axis-aligned pixel boxes (N, 4) as x0, y0, x1, y1: overlap, suppression, duplicates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Two boxes of one class overlapping this much mark the same object twice: parked aircraft
# never overlap like that. (The Airbus sample has seven scenes annotated twice over.)
DUPLICATE_IOU = 0.6


@dataclass(frozen=True)
class ImageBox:
    """A box in a catalog image's pixels (x0, y0, x1, y1) with its class; ``score`` and
    ``model`` for detections, None for labels."""

    image_id: int
    class_name: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float | None = None
    model: str | None = None  # detections: the model name and version that found it


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


def duplicate_of(boxes: np.ndarray, iou: float = DUPLICATE_IOU) -> np.ndarray:
    """For each box, the index of an earlier box it duplicates (IoU ≥ ``iou``), else -1."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.full(len(boxes), -1, dtype=np.int64)
    if len(boxes) < 2:
        return out
    ious = box_iou(boxes, boxes)
    for i in range(1, len(boxes)):
        earlier = np.nonzero((ious[i, :i] >= iou) & (out[:i] == -1))[0]
        if len(earlier):
            out[i] = earlier[np.argmax(ious[i, earlier])]
    return out


def unique_boxes(boxes: np.ndarray, iou: float = DUPLICATE_IOU) -> np.ndarray:
    """``boxes`` without the near-duplicates that ``duplicate_of`` finds."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    return boxes[duplicate_of(boxes, iou) == -1]
