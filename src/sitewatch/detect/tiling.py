"""Cut a scene into overlapping tiles and merge detections across tile borders.

Merge rule (one knob, documented): tiles overlap by more than the largest object, so an object
cut by one tile's edge lies whole inside its neighbour. Each tile *owns* the detections whose
centre falls in its core — the tile minus half the overlap on every side that has a
neighbour — so every object is reported by exactly one tile. A final NMS over boxes near the
seams removes the rare pair that both tiles still report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sitewatch.boxes import nms


@dataclass(frozen=True)
class Tile:
    """A window in model pixels (x0, y0, width, height) and its owned core."""

    x0: int
    y0: int
    width: int
    height: int
    core: tuple[float, float, float, float]


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    n = int(np.ceil((length - tile) / step)) + 1
    # spread tiles evenly so the last one ends exactly at the border
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def make_tiles(width: int, height: int, tile: int, overlap: int) -> list[Tile]:
    """Tiles covering a ``width``×``height`` scene; one tile when the scene fits."""
    xs, ys = _starts(width, tile, overlap), _starts(height, tile, overlap)
    tiles = []
    for iy, y in enumerate(ys):
        for ix, x in enumerate(xs):
            w, h = min(tile, width - x), min(tile, height - y)
            # the core boundary between neighbours sits halfway through their overlap
            left = -np.inf if ix == 0 else (x + xs[ix - 1] + min(tile, width - xs[ix - 1])) / 2
            right = np.inf if ix == len(xs) - 1 else (x + w + xs[ix + 1]) / 2
            top = -np.inf if iy == 0 else (y + ys[iy - 1] + min(tile, height - ys[iy - 1])) / 2
            bottom = np.inf if iy == len(ys) - 1 else (y + h + ys[iy + 1]) / 2
            tiles.append(Tile(x, y, w, h, (left, top, right, bottom)))
    return tiles


def owned(tile: Tile, boxes: np.ndarray) -> np.ndarray:
    """Mask of boxes (scene coordinates) whose centre lies in the tile's core."""
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    left, top, right, bottom = tile.core
    return (cx >= left) & (cx < right) & (cy >= top) & (cy < bottom)


def merge_seams(
    boxes: np.ndarray, scores: np.ndarray, tiles: list[Tile], band: float, iou: float = 0.5
) -> np.ndarray:
    """Indices to keep after NMS among boxes within ``band`` px of any core boundary."""
    if len(tiles) == 1 or len(boxes) == 0:
        return np.arange(len(boxes))
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    near = np.zeros(len(boxes), bool)
    for t in tiles:
        for edge in (t.core[0], t.core[2]):
            if np.isfinite(edge):
                near |= np.abs(cx - edge) < band
        for edge in (t.core[1], t.core[3]):
            if np.isfinite(edge):
                near |= np.abs(cy - edge) < band
    idx_near = np.nonzero(near)[0]
    kept_near = idx_near[nms(boxes[idx_near], scores[idx_near], iou)]
    return np.sort(np.concatenate([np.nonzero(~near)[0], kept_near]))
