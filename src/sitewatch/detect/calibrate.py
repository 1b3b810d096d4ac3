"""Score calibration: raw heatmap peaks → probability of being a real object (isotonic)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sitewatch.boxes import box_iou
from sitewatch.detect.evaluate import SceneResult


def match_flags(results: Sequence[SceneResult], iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """All detections' scores and whether each is a true positive (greedy, best score first)."""
    scores, flags = [], []
    for r in results:
        order = np.argsort(-r.scores)
        boxes, sc = r.boxes[order], r.scores[order]
        matched = np.zeros(len(r.gt), bool)
        ious = box_iou(boxes, r.gt) if len(boxes) and len(r.gt) else np.zeros((len(boxes), 0))
        for i in range(len(boxes)):
            row = np.where(matched, -1.0, ious[i]) if ious.shape[1] else np.zeros(0)
            hit = row.size > 0 and row.max() >= iou
            if hit:
                matched[int(row.argmax())] = True
            scores.append(sc[i])
            flags.append(hit)
    return np.asarray(scores, np.float64), np.asarray(flags, np.float64)


def isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators fit of a non-decreasing y(x); returns block x-means and values."""
    order = np.argsort(x)
    x, y = x[order], y[order]
    values: list[float] = []
    weights: list[float] = []
    xsum: list[float] = []
    for xi, yi in zip(x, y, strict=True):
        values.append(yi)
        weights.append(1.0)
        xsum.append(xi)
        while len(values) > 1 and values[-2] > values[-1]:
            w = weights[-2] + weights[-1]
            values[-2] = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w
            xsum[-2] += xsum[-1]
            weights[-2] = w
            values.pop(), weights.pop(), xsum.pop()
    centres = np.asarray(xsum) / np.asarray(weights)
    return centres, np.asarray(values)


def calibration_table(results: Sequence[SceneResult], points: int = 24) -> list[list[float]]:
    """A monotone lookup table [[raw, calibrated], …] from 0 to 1 for ``np.interp``."""
    scores, flags = match_flags(results)
    if len(scores) < 20:
        return []
    cx, cy = isotonic(scores, flags)
    # even steps cover the rare high scores, quantiles the crowded low ones
    grid = np.unique(
        np.round(
            np.concatenate([np.linspace(0, 1, 21), np.quantile(scores, np.linspace(0, 1, points))]),
            4,
        )
    )
    table = np.interp(grid, cx, cy)
    table = np.maximum.accumulate(table)
    return [[round(float(a), 5), round(float(b), 5)] for a, b in zip(grid, table, strict=True)]


def apply_calibration(table: list[list[float]], raw: np.ndarray) -> np.ndarray:
    """Calibrated scores for raw peaks. Isotonic steps are flat, so a 0.1 % share of the raw
    score is blended in: the order of detections (and so AP) is exactly the raw order."""
    if not table:
        return raw.astype(np.float32)
    grid = np.asarray(table, dtype=np.float64)
    return (0.999 * np.interp(raw, grid[:, 0], grid[:, 1]) + 0.001 * raw).astype(np.float32)
