"""Detector metrics with the COCO evaluator (pycocotools), plus counting error and how often
the stated count interval holds."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sitewatch.boxes import box_iou
from sitewatch.uncertainty import (
    DISPERSION_GRID,
    Accuracy,
    coverage,
    fit_dispersion,
    fit_dispersion_scored,
)


@dataclass(frozen=True)
class SceneResult:
    """Ground truth and predictions for one scene, boxes as (N, 4) x0 y0 x1 y1 pixels."""

    name: str
    gt: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray


def coco_ap(results: Sequence[SceneResult]) -> dict[str, float]:
    """AP50 and AP50:95 (single class) via pycocotools; maxDets above the densest scene."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for i, r in enumerate(results, start=1):
        images.append({"id": i, "file_name": r.name})
        for b in r.gt:
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": 1,
                    "iscrowd": 0,
                    "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                    "area": float((b[2] - b[0]) * (b[3] - b[1])),
                }
            )
        for b, s in zip(r.boxes, r.scores, strict=True):
            dets.append(
                {
                    "image_id": i,
                    "category_id": 1,
                    "score": float(s),
                    "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                }
            )
    if not dets:
        return {"ap50": 0.0, "ap50_95": 0.0}
    densest = max(max(len(r.gt), len(r.boxes)) for r in results)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": images,
            "annotations": anns,
            "categories": [{"id": 1, "name": "aircraft"}],
        }
        gt.createIndex()
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.maxDets = [1, 10, max(100, densest + 1)]
        ev.evaluate()
        ev.accumulate()
    # Read AP at the largest maxDets from the accumulated table: COCOeval.summarize() hard-codes
    # maxDets=100 for AP50:95, which would drop detections in scenes denser than that.
    precision = ev.eval["precision"][:, :, 0, 0, -1]  # [IoU thresholds, recall points]
    ap50_95 = float(np.mean(precision[precision > -1])) if (precision > -1).any() else 0.0
    ap50_row = precision[0]
    ap50 = float(np.mean(ap50_row[ap50_row > -1])) if (ap50_row > -1).any() else 0.0
    return {"ap50_95": ap50_95, "ap50": ap50}


def precision_recall(results: Sequence[SceneResult], threshold: float, iou: float = 0.5) -> dict:
    """Greedy one-to-one matching at ``iou`` for detections scoring ≥ ``threshold``."""
    tp = fp = fn = 0
    for r in results:
        keep = r.scores >= threshold
        boxes = r.boxes[keep][np.argsort(-r.scores[keep])]
        matched = np.zeros(len(r.gt), bool)
        if len(boxes) and len(r.gt):
            ious = box_iou(boxes, r.gt)
            for row in ious:
                row = np.where(matched, -1, row)
                j = int(np.argmax(row))
                if row[j] >= iou:
                    matched[j] = True
                    tp += 1
                else:
                    fp += 1
        else:
            fp += len(boxes)
        fn += int((~matched).sum())
    return {
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def count_mare(results: Sequence[SceneResult], threshold: float) -> float:
    """Mean absolute relative count error per scene (scenes with no objects use |error|/1)."""
    errors = [
        abs(int((r.scores >= threshold).sum()) - len(r.gt)) / max(len(r.gt), 1) for r in results
    ]
    return float(np.mean(errors)) if errors else 0.0


def best_count_threshold(results: Sequence[SceneResult]) -> float:
    """The score threshold that minimises the count error on these scenes."""
    grid = np.round(np.arange(0.10, 0.80, 0.01), 2)
    errors = [count_mare(results, t) for t in grid]
    return float(grid[int(np.argmin(errors))])


def _pairs(results: list[SceneResult], threshold: float) -> list[tuple[int, int]]:
    """(detected, true) counts per scene at ``threshold``."""
    return [(int((r.scores >= threshold).sum()), len(r.gt)) for r in results]


def _accuracy(results: list[SceneResult], threshold: float, source: str) -> Accuracy | None:
    """Precision, recall and the fitted dispersion of these scenes at ``threshold`` (None
    when nothing was found or nothing was there)."""
    pr = precision_recall(results, threshold)
    if pr["precision"] <= 0 or pr["recall"] <= 0:
        return None
    p, r = pr["precision"], pr["recall"]
    return Accuracy(p, r, source, fit_dispersion(_pairs(results, threshold), p, r))


def _place_dispersion(
    folds: dict[str, list[SceneResult]], threshold: float, in_sample: float
) -> float:
    """The dispersion fitted place-wise: each scene's conformal score is the dispersion its
    interval needs when precision and recall come from the *other* folds' places, as they
    will for a place never seen (places differ: a fold's recall can sit 7 points below the
    others'). Scenes are exchangeable within a place's fold, not across places, so scores
    from in-sample figures cover 90 % of the scenes they were fitted on but ~77 % of a new
    airport's. With one fold there are no other places: ``in_sample``."""
    if len(folds) < 2:
        return in_sample
    scores: list[tuple[int, int, float, float]] = []
    for label, rs in folds.items():
        others = [r for other, o in folds.items() if other != label for r in o]
        pr = precision_recall(others, threshold)
        if pr["precision"] <= 0 or pr["recall"] <= 0:
            return DISPERSION_GRID[-1]  # a fold's figures from nothing: no guarantee
        scores += [(n, t, pr["precision"], pr["recall"]) for n, t in _pairs(rs, threshold)]
    return fit_dispersion_scored(scores)


def interval_fit(
    by_fold: dict[str, list[SceneResult]], unit: str, threshold: float
) -> dict[str, Any]:
    """The count dispersion fitted on every group's out-of-fold scenes at ``threshold``
    (what monitoring will state; a group is a fold or a place: ``unit``), and how often a 90 %
    interval fitted this way covers the true count on places it never saw: each group's
    scenes get the threshold, precision, recall and dispersion fitted on the *other* groups
    alone (and, to compare, the same without dispersion). With fewer than two groups
    holding scenes there is nothing unseen to measure on: only the in-sample coverage,
    under its own name."""
    folds = {label: rs for label, rs in by_fold.items() if rs}
    everything = [r for rs in folds.values() for r in rs]
    pooled = _accuracy(everything, threshold, "pooled")
    if pooled is None:
        return {}
    pooled = replace(pooled, dispersion=_place_dispersion(folds, threshold, pooled.dispersion))
    pairs = _pairs(everything, threshold)
    out: dict[str, Any] = {
        "count_dispersion": pooled.dispersion,
        # scenes no interval can cover: nothing detected, something there ([0, 0])
        "scenes_missed_entirely": sum(n == 0 < t for n, t in pairs),
        "interval_coverage_90_in_sample": coverage(pairs, pooled),
    }
    if pooled.dispersion >= DISPERSION_GRID[-1] and out["interval_coverage_90_in_sample"] < 0.9:
        out["count_dispersion_capped"] = True  # the largest tried, still short of 90 %
    if len(folds) < 2:
        return out
    fitted = sampling = 0.0
    scored = 0
    for label, rs in folds.items():
        others = [r for other, o in folds.items() if other != label for r in o]
        t = best_count_threshold(others)
        acc = _accuracy(others, t, f"all folds but {label}")
        if acc is None:  # the other folds found nothing: no interval to state
            continue
        rest = {k: v for k, v in folds.items() if k != label}
        acc = replace(acc, dispersion=_place_dispersion(rest, t, acc.dispersion))
        fold_pairs = _pairs(rs, t)
        fitted += coverage(fold_pairs, acc) * len(rs)
        sampling += coverage(fold_pairs, replace(acc, dispersion=0.0)) * len(rs)
        scored += len(rs)
    if scored:
        out |= {
            "interval_coverage_90": fitted / scored,
            # the same, from precision and recall alone (no dispersion)
            "interval_coverage_90_sampling_only": sampling / scored,
            "interval_coverage_scenes": scored,
            "interval_coverage_basis": (
                f"each {unit}'s scenes with threshold, precision, recall and dispersion "
                f"fitted on the other {unit}s' out-of-fold scenes"
            ),
        }
    return out
