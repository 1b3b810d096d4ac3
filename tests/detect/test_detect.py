"""The shipped detector on real scenes: catalog stage, tiles, map coordinates, bad input."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
from PIL import Image as PILImage
from rasterio.transform import Affine
from shapely import wkt
from sqlalchemy import select
from typer.testing import CliRunner

import sitewatch
from sitewatch.boxes import box_iou
from sitewatch.cli import app
from sitewatch.detect import Detector, TileSpec, detect_scene, run_detector, select_images
from sitewatch.detect.model import DEFAULT_MODEL
from sitewatch.errors import BadInputError, ConflictError, DatasetNotFoundError
from sitewatch.scene import open_scene
from sitewatch.store.models import Detection, Run
from tests.conftest import AIRPORT, write_geotiff

SCENE = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped model yet")


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def test_tiled_and_whole_scene_agree_and_nothing_is_reported_twice(detector: Detector) -> None:
    scene = open_scene(SCENE, 0.5, detector.info.model_gsd_m)
    whole = detect_scene(detector, scene, TileSpec(tile=2048, overlap=160))
    tiled = detect_scene(detector, scene, TileSpec(tile=416, overlap=160, batch=4))
    t = detector.info.threshold
    a, b = whole.boxes[whole.scores >= t], tiled.boxes[tiled.scores >= t]
    assert len(a) >= 15  # a busy apron: 29 aircraft labelled
    assert abs(len(a) - len(b)) <= max(1, len(a) // 20)
    ious = box_iou(b, b)
    np.fill_diagonal(ious, 0)
    assert ious.max() < 0.5, "an object was reported by two tiles"
    matched = box_iou(a, b).max(axis=1) >= 0.7
    assert matched.mean() > 0.9


def test_detect_stage_stores_runs_reuses_and_exports(tmp_path: Path) -> None:
    cat = sitewatch.Catalog(tmp_path / "ws")
    sitewatch.add_frame_site(cat, "apt", SCENE)
    sitewatch.ingest(cat, [AIRPORT], sitewatch.IngestOptions(site="apt"))
    images = select_images(cat, site="apt")
    assert len(images) == 5
    first = run_detector(cat, images[:2])
    assert first.ok and not any(r.reused for r in first.results)
    counts = [r.count for r in first.results]
    again = run_detector(cat, images[:2])
    assert all(r.reused for r in again.results) and [r.count for r in again.results] == counts
    forced = run_detector(cat, images[:1], force=True)
    assert not forced.results[0].reused
    with cat.session() as s:
        runs = s.scalars(select(Run).where(Run.stage == "detect")).all()
        assert len(runs) == 3 and all(r.version == first.version for r in runs)
        dets = s.scalars(select(Detection).where(Detection.run_id == runs[0].id)).all()
        assert sum(d.score >= first.threshold for d in dets) == counts[0]
        assert all(d.geometry_wgs84_wkt is None for d in dets)  # ungeoreferenced
    from sitewatch.export import export_detections

    out = tmp_path / "dets.csv"
    summary = export_detections(cat, [r.run_id for r in first.results], out, "csv")
    rows = list(csv.DictReader(out.open()))
    assert summary is not None and summary.unplaced["detections"] == len(rows) == sum(counts)
    assert {r["lon_deg"] for r in rows} == {""}  # pixels only: no made-up coordinates
    with pytest.raises(ConflictError, match="no map coordinates"):
        export_detections(cat, [r.run_id for r in first.results], tmp_path / "d.geojson", "geojson")


def test_georeferenced_detections_land_at_the_right_map_coordinates(tmp_path: Path) -> None:
    pixels = np.asarray(PILImage.open(SCENE).convert("RGB")).transpose(2, 0, 1)
    transform = Affine(0.5, 0, 612_000, 0, -0.5, 4_104_000)  # UTM 15N, 0.5 m
    geotiff = write_geotiff(tmp_path / "airport-utm.tif", transform=transform, pixels=pixels)
    cat = sitewatch.Catalog(tmp_path / "ws")
    sitewatch.ingest(cat, [geotiff, SCENE], sitewatch.IngestOptions(allow_undated=True))
    images = select_images(cat, [geotiff, SCENE])
    report = run_detector(cat, images)
    by_name = {r.name: r for r in report.results}
    geo, jpeg = by_name[geotiff.name], by_name[SCENE.name]
    assert geo.count >= 15 and abs(geo.count - jpeg.count) <= 2
    with cat.session() as s:
        det = s.scalars(
            select(Detection).where(Detection.run_id == geo.run_id).order_by(Detection.score.desc())
        ).first()
    x, y = 612_000 + 0.5 * det.x0, 4_104_000 - 0.5 * det.y0
    lon, lat = rasterio.warp.transform("EPSG:32615", "EPSG:4326", [x], [y])
    corner = wkt.loads(det.geometry_wgs84_wkt).exterior.coords[0]
    assert corner == pytest.approx((lon[0], lat[0]), abs=1e-9)


def test_bad_model_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="model file does not exist"):
        Detector(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not a protobuf at all" * 10)
    with pytest.raises(BadInputError, match="not a usable sitewatch ONNX model") as info:
        Detector(garbage)
    assert str(garbage) in str(info.value)


def test_corrupt_stored_image_fails_that_image_only(tmp_path: Path) -> None:
    cat = sitewatch.Catalog(tmp_path / "ws")
    sitewatch.ingest(cat, [AIRPORT], sitewatch.IngestOptions())
    images = select_images(cat, [SCENE, AIRPORT / "78400c58-1a7c-4342-a1fb-2117cb7cbc8b.jpg"])
    broken = cat.image_path(images[0])
    broken.chmod(0o644)
    broken.write_bytes(broken.read_bytes()[:5000])
    ws = str(tmp_path / "ws")
    shas = [im.sha256[:12] for im in images]
    result = CliRunner().invoke(app, ["-w", ws, "detect", *shas])
    assert result.exit_code == 1
    assert str(broken) in result.stderr
    assert "detected" in result.stdout  # the good image still ran


def test_eval_detector_cli_writes_the_metrics(tmp_path: Path) -> None:
    out = tmp_path / "metrics.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "detector",
            "--images",
            str(AIRPORT),
            "--annotations",
            str(AIRPORT / "annotations.csv"),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    assert {"ap50", "ap50_95", "count_mare", "km2_per_s"} <= set(metrics)
    assert metrics["objects"] == 133 and metrics["duplicate_labels_ignored"] == 29
    assert metrics["ap50"] > 0.9  # the demo airport is held out of training
    assert len(metrics["per_scene"]) == 5 and "ap50_95" in result.stdout


def _detections(cat: sitewatch.Catalog, run_ids: list[int | None]) -> list[tuple]:
    with cat.session() as s:
        rows = s.scalars(select(Detection).where(Detection.run_id.in_(run_ids))).all()
        return sorted(
            (d.image_id, d.class_name, round(d.score, 5), round(d.x0, 2), round(d.y1, 2))
            for d in rows
        )


def test_compute_runs_in_other_processes_and_stores_the_same(tmp_path: Path) -> None:
    """plan → compute → store: the compute step is plain values in and out, so worker
    processes (spawned, as `detect --workers` does) give exactly what the caller computes."""
    import pickle
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from sitewatch.detect.stage import DetectTask, plan

    cat = sitewatch.Catalog(tmp_path / "ws")
    sitewatch.add_frame_site(cat, "apt", SCENE)
    sitewatch.ingest(cat, [AIRPORT], sitewatch.IngestOptions(site="apt"))
    images = select_images(cat, site="apt")[:3]
    steps = plan(cat, images, Detector())
    assert all(isinstance(t, DetectTask) for t in steps)
    assert pickle.loads(pickle.dumps(steps)) == steps  # nothing that cannot travel
    here = run_detector(cat, images)
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        there = run_detector(cat, images, force=True, executor=pool, threads=1)
    assert there.ok and [r.count for r in there.results] == [r.count for r in here.results]
    assert _detections(cat, [r.run_id for r in there.results]) == _detections(
        cat, [r.run_id for r in here.results]
    )
    # a failure inside a worker is that image's error, not the batch's: a stored file
    # damaged after planning (it exists, so the plan passes; the worker cannot decode it)
    damaged = Path(cat.readable_path(images[1]))
    damaged.chmod(0o644)
    damaged.write_bytes(b"\xff\xd8 not a JPEG any more")
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        mixed = run_detector(cat, images, force=True, executor=pool, threads=1)
    assert [r.error is None for r in mixed.results] == [True, False, True]
    # and it arrives as itself: the same error, word for word, as in the caller's process
    alone = run_detector(cat, [images[1]], force=True).results[0].error
    assert isinstance(alone, BadInputError)
    assert type(mixed.results[1].error) is type(alone) and str(mixed.results[1].error) == str(alone)


def test_detect_cli_with_worker_processes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cat = sitewatch.Catalog(ws)
    sitewatch.add_frame_site(cat, "apt", SCENE)
    sitewatch.ingest(cat, [AIRPORT], sitewatch.IngestOptions(site="apt"))
    run = CliRunner().invoke(
        app, ["--workspace", str(ws), "detect", "--site", "apt", "--workers", "2"]
    )
    assert run.exit_code == 0, run.output
    assert run.output.count("detected (") == 5
    bad = CliRunner().invoke(
        app, ["--workspace", str(ws), "detect", "--site", "apt", "--workers", "0"]
    )
    assert bad.exit_code == 1 and "--workers" in bad.output
