"""COCO exports read by pycocotools: the labels as a dataset, the detections as the
results list ``COCO.loadRes`` takes, scored by COCOeval as `sitewatch eval` scores them."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from sitewatch import Catalog
from sitewatch.detect import run_detector, select_images
from sitewatch.detect.benchmark import evaluate_detector
from sitewatch.export import export_detections
from sitewatch.labels import export_labels, import_labels
from sitewatch.store.models import Run
from tests.conftest import AIRPORT

pytest.importorskip("pycocotools", reason="pycocotools is a core dependency")


def test_coco_round_trip_reproduces_sitewatch_eval(tmp_path: Path) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    catalog = Catalog(tmp_path / "ws")
    annotations = AIRPORT / "annotations.csv"
    import_labels(catalog, annotations, AIRPORT, name="truth")
    images = sorted(AIRPORT.glob("*.jpg"))
    report = run_detector(catalog, select_images(catalog, images))
    truth, results = tmp_path / "truth.json", tmp_path / "detections.json"
    count, _ = export_labels(catalog, truth, "coco", label_set="truth")
    export_detections(catalog, [r.run_id for r in report.results if r.run_id], results, "coco")

    dataset = json.loads(truth.read_text())
    assert count == len(dataset["annotations"]) > 100
    assert {c["name"] for c in dataset["categories"]} == {"aircraft"}  # not "Airplane"
    assert dataset["licenses"] and all(im["license"] for im in dataset["images"])
    assert all("date_illustrative" in im for im in dataset["images"])
    listed = json.loads(results.read_text())
    assert isinstance(listed, list) and {"image_id", "category_id", "bbox", "score"} <= set(
        listed[0]
    )
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(truth))
        dt = gt.loadRes(str(results))  # raises if ids or categories do not match
        ev = COCOeval(gt, dt, "bbox")
        densest = max(len(gt.getAnnIds(imgIds=[i])) for i in gt.getImgIds())
        ev.params.maxDets = [1, 10, max(100, densest + 1)]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][0, :, 0, 0, -1]
    ap50 = float(np.mean(precision[precision > -1]))
    expected = evaluate_detector(AIRPORT, annotations).metrics["ap50"]
    assert ap50 == pytest.approx(expected, abs=0.01)
    assert ap50 > 0.8
    with catalog.session() as s:
        assert s.query(Run).filter(Run.stage == "detect").count() == len(dataset["images"])
    catalog.close()
