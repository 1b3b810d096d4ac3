"""Whole-scene detection: tiles read window by window, batched through the model, merged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sitewatch.detect.model import Detector
from sitewatch.detect.tiling import make_tiles, merge_seams, owned
from sitewatch.errors import BadInputError
from sitewatch.scene import SceneReader

MIN_TILE, MAX_TILE = 64, 16384  # a model input below 64 px sees nothing; above, memory explodes


@dataclass(frozen=True)
class TileSpec:
    """Tile edge and overlap in model pixels (1 m at the shipped model's GSD); the overlap
    must exceed the largest object (aircraft ≤ ~120 m)."""

    tile: int = 2048
    overlap: int = 160
    batch: int = 1  # tiles are large already; 2 × 2048² tiles cost ~0.5 GB more memory

    def __post_init__(self) -> None:
        # checked here, not only in the CLI: a bad spec from the Python API used to yield
        # zero tiles, and so zero detections, without a word
        if not MIN_TILE <= self.tile <= MAX_TILE:
            raise BadInputError("tile", f"{self.tile} px is not in {MIN_TILE}…{MAX_TILE}")
        if not 0 <= self.overlap < self.tile:
            raise BadInputError(
                "overlap", f"{self.overlap} px must be ≥ 0 and smaller than the tile ({self.tile})"
            )
        if not 1 <= self.batch <= 64:
            raise BadInputError("batch", f"{self.batch} tiles at once is not in 1…64")


@dataclass
class SceneDetections:
    """Boxes (N, 4) in *source* image pixels, calibrated scores, class indices."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def _pad(x: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.pad(x, ((0, h - x.shape[0]), (0, w - x.shape[1]), (0, 0)))


def detect_scene(
    detector: Detector,
    scene: SceneReader,
    spec: TileSpec = TileSpec(),
    floor: float = 0.05,
    progress: Callable[[int, int], None] | None = None,
) -> SceneDetections:
    """Detect on a whole scene; an object cut by a tile edge is reported once."""
    tiles = make_tiles(scene.width, scene.height, spec.tile, spec.overlap)
    all_boxes, all_scores, all_classes = [], [], []
    for start in range(0, len(tiles), spec.batch):
        group = tiles[start : start + spec.batch]
        # pad every tile of the batch to one shape, a multiple of 32
        h = -(-max(t.height for t in group) // 32) * 32
        w = -(-max(t.width for t in group) // 32) * 32
        batch = (
            np.stack([_pad(scene.read(t.x0, t.y0, t.width, t.height), h, w) for t in group])
            .astype(np.float32)
            .transpose(0, 3, 1, 2)
            / 255.0
        )
        for t, (boxes, scores, classes) in zip(group, detector.predict(batch, floor), strict=True):
            boxes = boxes + np.array([t.x0, t.y0, t.x0, t.y0], dtype=np.float32)
            keep = owned(t, boxes)
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
            all_classes.append(classes[keep])
        if progress:
            progress(min(start + spec.batch, len(tiles)), len(tiles))
    boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4), np.float32)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0, np.float32)
    classes = np.concatenate(all_classes) if all_classes else np.zeros(0, np.int64)
    keep = merge_seams(boxes, scores, tiles, band=spec.overlap / 2)
    boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, scene.width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, scene.height)
    return SceneDetections(boxes / scene.scale, scores, classes)
