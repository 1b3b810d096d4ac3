"""`sitewatch eval detector`: the shipped ONNX pipeline on annotated scenes, end to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sitewatch.boxes import unique_boxes
from sitewatch.detect.evaluate import SceneResult, coco_ap, count_mare, precision_recall
from sitewatch.detect.infer import TileSpec, detect_scene
from sitewatch.detect.model import Detector
from sitewatch.errors import BadInputError, DatasetNotFoundError
from sitewatch.formats.annotations import READERS, detect_format
from sitewatch.scene import open_scene


@dataclass
class EvalReport:
    metrics: dict
    per_scene: list[dict]


def evaluate_detector(
    images: Path,
    annotations: Path,
    model: Path | None = None,
    gsd_m: float = 0.5,
    spec: TileSpec = TileSpec(),
    only: set[str] | None = None,
    keep_duplicates: bool = False,
    on_scene: Callable[[dict], None] | None = None,
) -> EvalReport:
    """Detect on every annotated image (or those in ``only``) and score against the truth.

    Near-duplicate truth boxes (IoU ≥ 0.6, the same object annotated twice) count once unless
    ``keep_duplicates``; how many were set aside is reported."""
    if not annotations.is_file():
        raise DatasetNotFoundError(f"{annotations}: annotation file does not exist")
    records = READERS[detect_format(annotations)](annotations)
    truth: dict[str, list] = {}
    for r in records:
        truth.setdefault(r.file_name, []).append((r.x0, r.y0, r.x1, r.y1))
    names = sorted(n for n in truth if only is None or n in only)
    if not names:
        raise BadInputError(annotations, "no annotated images to evaluate")
    detector = Detector(model)
    results, per_scene = [], []
    total_seconds = total_km2 = 0.0
    duplicates = 0
    for name in names:
        path = images / name
        if not path.is_file():
            raise DatasetNotFoundError(f"{path}: image named in {annotations} does not exist")
        start = time.perf_counter()
        scene = open_scene(path, gsd_m, detector.info.model_gsd_m)
        try:
            found = detect_scene(detector, scene, spec)
            width, height = scene.width / scene.scale, scene.height / scene.scale
        finally:
            scene.close()
        seconds = time.perf_counter() - start
        km2 = width * height * gsd_m**2 / 1e6
        total_seconds += seconds
        total_km2 += km2
        gt = np.asarray(truth[name], np.float32).reshape(-1, 4)
        raw_count = len(gt)
        if not keep_duplicates:
            gt = unique_boxes(gt)
        duplicates += raw_count - len(gt)
        results.append(SceneResult(name, gt, found.boxes, found.scores))
        row = {
            "image": name,
            "truth": len(gt),
            "detected": int((found.scores >= detector.info.threshold).sum()),
            "seconds": round(seconds, 3),
        }
        per_scene.append(row)
        if on_scene:
            on_scene(row)
    t = detector.info.threshold
    metrics = (
        coco_ap(results)
        | precision_recall(results, t)
        | {
            "count_mare": count_mare(results, t),
            "km2_per_s": total_km2 / total_seconds,
            "seconds_per_scene": total_seconds / len(names),
            "threshold": t,
            "scenes": len(names),
            "objects": int(sum(len(r.gt) for r in results)),
            "duplicate_labels_ignored": duplicates,
            "model": detector.info.name,
            "model_version": detector.version,
        }
    )
    return EvalReport(metrics, per_scene)
