"""Metrics on constructed cases where the answer is known."""

import numpy as np
import pytest

from sitewatch.detect.calibrate import calibration_table, isotonic
from sitewatch.detect.evaluate import SceneResult, coco_ap, count_mare, precision_recall


def _grid(n: int, size: float = 40.0) -> np.ndarray:
    xs = np.arange(n) % 10 * 100.0
    ys = np.arange(n) // 10 * 100.0
    return np.stack([xs, ys, xs + size, ys + size], 1).astype(np.float32)


def test_perfect_detections_score_one_even_in_scenes_denser_than_100() -> None:
    gt = _grid(150)
    r = SceneResult("dense", gt, gt.copy(), np.linspace(0.99, 0.5, 150).astype(np.float32))
    assert coco_ap([r]) == {"ap50": pytest.approx(1.0), "ap50_95": pytest.approx(1.0)}


def test_loose_boxes_pass_ap50_but_not_ap50_95() -> None:
    gt = _grid(20)
    loose = gt + np.array([0, 0, 12, 0], np.float32)  # IoU = 40/52 ≈ 0.77
    m = coco_ap([SceneResult("s", gt, loose, np.ones(20, np.float32))])
    assert m["ap50"] == pytest.approx(1.0)
    assert 0.4 < m["ap50_95"] < 0.7  # passes IoU .50–.75, fails .80–.95


def test_precision_recall_and_count_error() -> None:
    gt = _grid(10)
    boxes = np.concatenate([gt[:8], _grid(2) + 5000])  # 8 hits, 2 false alarms, 2 misses
    scores = np.array([0.9] * 8 + [0.8, 0.3], np.float32)
    r = SceneResult("s", gt, boxes, scores)
    pr = precision_recall([r], threshold=0.5)
    assert (pr["tp"], pr["fp"], pr["fn"]) == (8, 1, 2)
    assert count_mare([r], 0.5) == pytest.approx(0.1)  # 9 counted vs 10 true
    assert count_mare([r], 0.95) == pytest.approx(1.0)


def test_isotonic_calibration_is_monotone_and_fits_rates() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random(4000)
    truth = (rng.random(4000) < raw**2).astype(float)  # true rate = raw²
    cx, cy = isotonic(raw, truth)
    assert np.all(np.diff(cy) >= 0)
    assert np.interp(0.8, cx, cy) == pytest.approx(0.64, abs=0.08)
    gt = _grid(30)
    r = SceneResult(
        "s",
        gt,
        np.concatenate([gt, _grid(30) + 5000]),
        np.concatenate([np.full(30, 0.9), np.full(30, 0.4)]).astype(np.float32),
    )
    table = np.asarray(calibration_table([r]))
    assert np.interp(0.9, *table.T) > 0.9 and np.interp(0.4, *table.T) < 0.1


def test_near_duplicate_truth_boxes_are_found_once() -> None:
    from sitewatch.boxes import duplicate_of, unique_boxes

    boxes = np.array(
        [[0, 0, 40, 40], [100, 0, 140, 40], [1, 2, 41, 40], [0, 0, 40, 40], [40, 0, 80, 40]],
        np.float32,
    )
    assert duplicate_of(boxes).tolist() == [-1, -1, 0, 0, -1]  # neighbours touching stay
    assert len(unique_boxes(boxes)) == 3
