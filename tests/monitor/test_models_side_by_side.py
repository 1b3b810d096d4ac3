"""Two models at one site: neither hides the other, and each class keeps its own model,
threshold and accuracy through monitoring, the report, the dashboard, exports and claims."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sitewatch import monitor_site
from sitewatch.alerts import AlertConfig
from sitewatch.claims import check_claim
from sitewatch.claims.ledger import StoredClaim
from sitewatch.detect import run_detector, select_images
from sitewatch.export.layers import site_layers
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.monitor.counts import run_accuracy
from sitewatch.monitor.stored import StoredMonitoring, load_monitoring
from sitewatch.report.build import report_dict
from sitewatch.report.render import write_report
from sitewatch.sites.registry import site_summary
from sitewatch.store.catalog import (
    Catalog,
    detections_at,
    run_threshold,
    select_detect_runs,
)
from sitewatch.store.models import Detection, Image, Run
from sitewatch.uncertainty import Accuracy, estimate, interval
from tests.conftest import AIRCRAFT_THRESHOLD, copy_catalog, retag_model, write_jpeg

VEHICLE = {
    "name": "test-vehicle",
    "version": "0.1",
    "classes": ["vehicle"],
    "class_thresholds": {"vehicle": 0.05},  # its own operating point, below aircraft's
    "metrics": {"per_class": {"vehicle": {"precision": 0.8, "recall": 0.7, "ap50": 0.72,
                                          "count_mare": 0.15, "count_dispersion": 0.3,
                                          "held_out": "test split"}}},
    "experimental": True,
}  # fmt: skip


@pytest.fixture(scope="module")
def two_models(monitored, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The monitored demo airport, then a second model (vehicle) run on it and monitored."""
    catalog = copy_catalog(monitored[0], tmp_path_factory.mktemp("two") / "ws")
    retag_model(catalog.workspace / "models" / "vehicle.onnx", **VEHICLE)
    report = run_detector(catalog, select_images(catalog, [], "apt"), "test-vehicle")
    assert report.ok and report.thresholds == {"vehicle": 0.05}
    result = monitor_site(catalog, "apt", write_chips=False)
    yield catalog, result, monitored[1]
    catalog.close()


def used(counts: list, cls: str) -> list:  # type: ignore[type-arg]
    return [c for c in counts if c.used and c.class_name == cls]


def test_a_second_model_never_hides_the_first(two_models) -> None:
    catalog, result, before = two_models
    assert result.classes == ["aircraft", "vehicle"]
    # aircraft are counted exactly as before the vehicle model ran (it ran later on every image)
    aircraft = used(result.counts, "aircraft")
    assert [(c.sha256, c.count, c.estimate) for c in aircraft] == [
        (c.sha256, c.count, c.estimate) for c in used(before.counts, "aircraft")
    ]
    vehicles = used(result.counts, "vehicle")
    assert [c.sha256 for c in vehicles] == [c.sha256 for c in aircraft]
    # same weights, lower threshold: never fewer vehicles than aircraft, and more somewhere
    pairs = list(zip(vehicles, aircraft, strict=True))
    assert all(v.count >= a.count for v, a in pairs) and any(v.count > a.count for v, a in pairs)
    # each class its own accuracy: vehicles are corrected by 0.8/0.7 with a wider interval
    # and the card's count dispersion widens every vehicle interval
    for v in vehicles:
        assert v.estimate == pytest.approx(v.count * 0.8 / 0.7)
        low, high = interval(*estimate(v.count, Accuracy(0.8, 0.7, "card", 0.3)))
        assert (v.low, v.high) == (pytest.approx(low), pytest.approx(high))
    v, a = max(pairs, key=lambda p: p[0].count)
    assert (v.high - v.low) / max(v.estimate, 1) > (a.high - a.low) / max(a.estimate, 1)
    assert set(result.steps) == set(result.episodes) == {"aircraft", "vehicle"}
    assert result.detectors["vehicle"]["name"] == "test-vehicle"
    assert result.detectors["aircraft"]["name"] == "sitewatch-aircraft"
    assert "vehicle: test-vehicle" in result.accuracy_source
    # the vehicle counts are the vehicle run's detections at 0.05 inside the site
    with catalog.session() as s:
        selection = select_detect_runs(s, [im.id for im in s.scalars(select(Image))])
        assert {r.method for r in selection["vehicle"].values()} == {"test-vehicle"}
        assert {r.method for r in selection["aircraft"].values()} == {"sitewatch-aircraft"}
        run = next(iter(selection["vehicle"].values()))
        assert run_threshold(run, "vehicle") == 0.05 and run_threshold(run) == AIRCRAFT_THRESHOLD
        scores = s.scalars(select(Detection.score).where(Detection.run_id == run.id)).all()
        assert detections_at(s, run) == sum(x >= 0.05 for x in scores)
        assert detections_at(s, run, "aircraft") == 0
    # changes between dates are matched class by class, both classes present
    kinds = {ch.class_name for p in result.pairs for ch in p.changes}
    assert kinds == {"aircraft", "vehicle"}


def test_stored_monitoring_report_and_claims_see_both_classes(two_models, tmp_path) -> None:
    catalog, result, _ = two_models
    m = load_monitoring(catalog, "apt")
    assert m.classes == ["aircraft", "vehicle"] and m.detectable == ["aircraft", "vehicle"]
    acc = m.accuracy("vehicle")
    assert acc is not None and (acc.precision, acc.recall, acc.dispersion) == (0.8, 0.7, 0.3)
    assert m.accuracy("aircraft").precision > 0.9  # type: ignore[union-attr]
    rep = report_dict(m)
    assert set(rep["series"]) == set(rep["judgements"]) == {"aircraft", "vehicle"}
    assert [r["count"] for r in rep["series"]["vehicle"]] == [
        c.count for c in used(result.counts, "vehicle")
    ]
    det = rep["detectors"]
    assert det["vehicle"]["count_spread"] == 0.3
    assert (
        det["aircraft"]["name"] == "sitewatch-aircraft"
        and det["aircraft"]["threshold"] == AIRCRAFT_THRESHOLD
    )
    assert det["vehicle"] | {"version": None} == det["vehicle"] | {
        "name": "test-vehicle", "version": None, "threshold": 0.05, "experimental": True,
        "precision": 0.8, "recall": 0.7, "ap50": 0.72, "count_error": 0.15,
        "held_out": "test split",
    }  # fmt: skip
    # the vehicle judgement weighs the vehicle detector (P 0.8 < 0.9: moderate at best)
    reasons = rep["judgements"]["vehicle"]["confidence_reasons"]
    assert any("precision 0.80 / recall 0.70" in r for r in reasons)
    assert not any("0.80" in r for r in rep["judgements"]["aircraft"]["confidence_reasons"])
    # the HTML draws one chart per class and names each class's model in its method section
    files = write_report(catalog, "apt", tmp_path / "apt.html")
    html = files.html.read_text()
    assert html.count('<figure class="series"') == 2
    assert "Detector for vehicle: test-vehicle" in html and "experimental" in html
    assert "Detector for aircraft: sitewatch-aircraft" in html
    # a claim about vehicles is checked against the vehicle counts, about aircraft, aircraft
    verdicts = {}
    for cls in ("vehicle", "aircraft"):
        claim = StoredClaim(1, "apt", f"{cls} seen", None, None, "presence", cls, None, None,
                            datetime.now(UTC), [])  # fmt: skip
        verdicts[cls] = verdict = check_claim(claim, m)
        assert [e["count"] for e in verdict.evidence] == [c.count for c in used(m.counts, cls)]
        assert cls in verdict.reasons[-1]
    assert verdicts["aircraft"].status == "supported"
    # the vehicle counts would support it, but an experimental model's counts decide nothing
    assert verdicts["vehicle"].status == "consistent"
    assert "would have supported it" in verdicts["vehicle"].reasons[0]
    assert "experimental model (test-vehicle)" in verdicts["vehicle"].reasons[0]
    unnamed = StoredClaim(2, "apt", "more", None, None, "increase", None, None, None,
                          datetime.now(UTC), [])  # fmt: skip
    assert "several: aircraft, vehicle" in check_claim(unnamed, m).reasons[0]


def test_dashboard_exports_and_site_listing_show_both_classes(two_models) -> None:
    from tests.web.conftest import make_client

    catalog, result, _ = two_models
    sha = used(result.counts, "vehicle")[0].sha256
    with make_client(catalog) as client:
        body = client.get("/api/sites/apt").json()
        dets = client.get(f"/api/sites/apt/images/{sha}/detections").json()
        overview = client.get("/api/sites").json()
    assert body["classes"] == ["aircraft", "vehicle"]
    assert body["detectors"]["vehicle"]["name"] == "test-vehicle"
    assert len(body["series"]["vehicle"]) == len(used(result.counts, "vehicle"))
    assert dets["classes"] == ["aircraft", "vehicle"]
    assert (
        dets["thresholds"] == {"aircraft": AIRCRAFT_THRESHOLD, "vehicle": 0.05}
        and dets["threshold"] == 0.05
    )
    assert set(dets["models"]) == {"aircraft", "vehicle"}
    assert dets["models"]["vehicle"].startswith("test-vehicle 0.1+")
    shown = {d["class"] for d in dets["detections"]}
    assert shown == {"aircraft", "vehicle"}
    assert overview[0]["class"] in ("aircraft", "vehicle")
    # exports: each image's detections of both classes, each at its own threshold
    (layer,) = site_layers(catalog, "apt", {"detections"})
    features = [r.values for r in layer.rows] + list(layer.unplaced)
    by_class = {cls: [f for f in features if f["class"] == cls] for cls in ("aircraft", "vehicle")}
    assert by_class["aircraft"] and by_class["vehicle"]
    assert 0.05 <= min(f["score"] for f in by_class["vehicle"]) < AIRCRAFT_THRESHOLD
    assert min(f["score"] for f in by_class["aircraft"]) >= AIRCRAFT_THRESHOLD
    # and each box names the model (and file version) that found it
    assert {f["model"].split()[0] for f in by_class["vehicle"]} == {"test-vehicle"}
    assert {f["model"].split()[0] for f in by_class["aircraft"]} == {"sitewatch-aircraft"}
    # the site listing counts each class from its own model
    images = {im.sha256: im for im in site_summary(catalog, "apt").images}
    im = images[sha]
    assert im.detected_by_class is not None and set(im.detected_by_class) == {"aircraft", "vehicle"}
    assert im.detected == sum(im.detected_by_class.values())


def add_run(catalog: Catalog, image_id: int, method: str, classes: list[str] | None) -> int:
    """A stored detect run (no detections): what the selection reads."""
    params: dict[str, Any] = {"threshold": 0.5}
    if classes is not None:
        params["classes"] = classes
    with catalog.session() as s:
        run = Run(stage="detect", method=method, version="1", parameters=params,
                  image_id=image_id, status="ok")  # fmt: skip
        s.add(run)
        s.flush()
        return run.id


def test_selection_one_model_per_class_by_images_covered_then_newest(
    catalog: Catalog, tmp_path: Path
) -> None:
    files = [write_jpeg(tmp_path / f"d{i}.jpg", seed=i) for i in range(3)]
    ingest(catalog, files, IngestOptions(allow_undated=True))
    with catalog.session() as s:
        ids = list(s.scalars(select(Image.id).order_by(Image.id)))
    a0, a1 = (
        add_run(catalog, ids[0], "A", ["aircraft"]),
        add_run(catalog, ids[1], "A", ["aircraft"]),
    )
    b2 = add_run(catalog, ids[2], "B", ["aircraft", "vehicle"])  # newer, but on one image
    a0_again = add_run(catalog, ids[0], "A", ["aircraft"])  # a re-run: the latest counts
    add_run(catalog, ids[1], "failed", ["aircraft"])
    with catalog.session() as s:
        s.get(Run, a1 + 3).status = "failed"  # type: ignore[union-attr]  # never selected
        chosen = select_detect_runs(s, ids)
    assert {i: r.id for i, r in chosen["aircraft"].items()} == {ids[0]: a0_again, ids[1]: a1}
    assert a0 != a0_again and {i: r.id for i, r in chosen["vehicle"].items()} == {ids[2]: b2}
    # a tie on images covered goes to the model with the newest run
    c_runs = [add_run(catalog, i, "C", ["aircraft"]) for i in ids[:2]]
    with catalog.session() as s:
        tied = select_detect_runs(s, ids)
    assert [r.id for r in tied["aircraft"].values()] == c_runs
    # runs stored before classes were kept declare what they found
    old = add_run(catalog, ids[2], "old", None)
    with catalog.session() as s:
        s.add(Detection(image_id=ids[2], run_id=old, class_name="helicopter", score=0.9,
                        x0=0, y0=0, x1=4, y1=4))  # fmt: skip
    with catalog.session() as s:
        assert [r.id for r in select_detect_runs(s, ids)["helicopter"].values()] == [old]


def test_runs_stored_before_per_class_figures_read_the_same() -> None:
    old = Run(stage="detect", method="sitewatch-aircraft", version="1+abc",
              parameters={"threshold": 0.43, "precision": 0.97, "recall": 0.95,
                          "classes": ["aircraft"]})  # fmt: skip
    assert run_threshold(old, "aircraft") == 0.43
    acc = run_accuracy(old, "aircraft")
    assert (acc.precision, acc.recall) == (0.97, 0.95)
    new = Run(stage="detect", method="m", version="2+def",
              parameters={"threshold": 0.5, "thresholds": {"a": 0.3, "b": 0.7},
                          "precision": 0.9, "recall": 0.9, "classes": ["a", "b"],
                          "per_class": {"a": {"precision": 0.6, "recall": 0.5},
                                        "b": {}}})  # fmt: skip
    assert (run_threshold(new, "a"), run_threshold(new, "b"), run_threshold(new)) == (0.3, 0.7, 0.5)
    assert (run_accuracy(new, "a").precision, run_accuracy(new, "a").recall) == (0.6, 0.5)
    # a class the card has no held-out figures for is unmeasured, not given another's
    assert run_accuracy(new, "b").source.startswith("unknown")
    # figures no detector can have (stored before cards were checked) are unmeasured too
    odd = Run(stage="detect", method="m", version="1+abc",
              parameters={"classes": ["a", "b"],
                          "per_class": {"a": {"precision": 67.0, "recall": 0.9},
                                        "b": {"precision": 0.9, "recall": 0.9,
                                              "count_dispersion": "wide"}}})  # fmt: skip
    assert run_accuracy(odd, "a").source.startswith("unknown")
    assert run_accuracy(odd, "b").source.startswith("unknown")
    percent = {"precision": 67.0, "recall": 0.9, "accuracy_source": "card"}
    stored = StoredMonitoring("s", 1, AlertConfig(), [], {"a": percent})
    assert stored.accuracy("a") is None


def test_a_dashboard_detect_job_runs_every_model_of_the_site(two_models) -> None:
    """New imagery must join both series: the job runs each model the site was detected
    with (here both are already stored, so every image is reused, twice)."""
    from tests.web.conftest import TOKEN, finished_job, make_client

    catalog, _, _ = two_models
    with make_client(catalog) as client:
        job = client.post(
            "/api/sites/apt/jobs",
            json={"stages": ["detect"]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
        job = finished_job(client, job, 120)
    assert job["status"] == "done", job
    assert job["done"] == job["total"] == 10 and "with 2 model(s)" in job["message"]
