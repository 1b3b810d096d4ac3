"""The detect stage: run the model over catalog images, store detections with their run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from sitewatch import geo
from sitewatch.detect.infer import SceneDetections, TileSpec, detect_scene
from sitewatch.detect.model import Detector, ModelInfo
from sitewatch.detect.registry import resolve_model
from sitewatch.errors import NotFoundError, SitewatchError
from sitewatch.scene import open_scene
from sitewatch.store.catalog import Catalog, detections_at
from sitewatch.store.models import Detection, Image, ImageSite, Run, utcnow

STORE_FLOOR = 0.05  # detections below this calibrated score are not stored


@dataclass(frozen=True)
class ImageResult:
    sha256: str
    name: str
    run_id: int | None
    count: int  # detections at or above their class's operating threshold
    reused: bool
    seconds: float
    error: SitewatchError | None = None


@dataclass
class DetectReport:
    model: str
    version: str
    threshold: float  # the model's overall operating point
    thresholds: dict[str, float]  # each class's
    results: list[ImageResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.results)


def select_images(
    catalog: Catalog, refs: Iterable[str | Path] = (), site: str | None = None
) -> list[Image]:
    """Images named by path/SHA prefix, and/or every image of a site, in date order."""
    with catalog.session() as s:
        images = [catalog.find_image(s, r) for r in refs]
        if site is not None:
            site_row = catalog.get_site(s, site)
            images += s.scalars(
                select(Image).join(ImageSite).where(ImageSite.site_id == site_row.id)
            ).all()
    unique = {im.id: im for im in images}
    if not unique:
        raise NotFoundError("no images to detect on: name image files/SHA-256 or --site")
    return sorted(
        unique.values(),
        key=lambda im: (
            im.acquired_at is None,
            im.acquired_at.timestamp() if im.acquired_at else 0,
            im.id,
        ),
    )


def _previous_run(catalog: Catalog, image: Image, detector: Detector) -> Run | None:
    with catalog.session() as s:
        return s.scalar(
            select(Run)
            .where(
                Run.stage == "detect",
                Run.image_id == image.id,
                Run.status == "ok",
                Run.method == detector.info.name,
                Run.version == detector.version,
            )
            .order_by(Run.id.desc())
        )


def run_detector(
    catalog: Catalog,
    images: list[Image],
    model: str | Path | None = None,
    force: bool = False,
    spec: TileSpec = TileSpec(),
    on_image: Callable[[ImageResult], None] | None = None,
    on_tiles: Callable[[int, int], None] | None = None,
) -> DetectReport:
    """Detect on each image with ``model`` (a registry name, an .onnx path, or None: the
    shipped aircraft model); reuse stored results of the same model unless ``force``."""
    if model is not None:
        model = resolve_model(model, catalog.workspace).path
    detector = Detector(model)
    info = detector.info
    report = DetectReport(
        info.name,
        detector.version,
        info.threshold,
        {cls: info.threshold_for(cls) for cls in info.classes},
    )
    for image in images:
        start = time.perf_counter()
        previous = None if force else _previous_run(catalog, image, detector)
        try:
            if previous is not None:
                with catalog.session() as s:
                    count = detections_at(s, previous)
                result = ImageResult(
                    image.sha256, image.original_name, previous.id, count, True, 0.0
                )
            else:
                result = _detect_one(catalog, image, detector, spec, on_tiles, start)
        except SitewatchError as exc:
            result = ImageResult(
                image.sha256, image.original_name, None, 0, False, time.perf_counter() - start, exc
            )
        report.results.append(result)
        if on_image:
            on_image(result)
    return report


def run_parameters(info: ModelInfo) -> dict[str, Any]:
    """What a detect run keeps of its model: the classes it looks for, each class's operating
    threshold and held-out accuracy (monitoring turns them into count uncertainty, and the
    report names them), so later stages read the run, never the model file.

    ``threshold``/``precision``/``recall`` are the model's overall figures (what runs kept
    before per-class cards); ``thresholds`` and ``per_class`` are by class."""
    per_class: dict[str, dict[str, Any]] = {}
    for cls in info.classes:
        metrics = info.class_metrics(cls)
        per_class[cls] = {key: metrics.get(key) for key in CLASS_METRICS if key in metrics}
    return {
        "threshold": info.threshold,
        "thresholds": {cls: info.threshold_for(cls) for cls in info.classes},
        "classes": list(info.classes),  # what it looks for, found or not
        # measured on held-out sites; monitoring turns them into count uncertainty
        "precision": info.metrics.get("precision"),
        "recall": info.metrics.get("recall"),
        "per_class": per_class,
        "held_out": info.metrics.get("held_out"),
        "experimental": info.experimental,
    }


# the held-out figures a run keeps per class (the report's method section prints them)
CLASS_METRICS = ("precision", "recall", "ap50", "ap50_95", "count_mare", "held_out")


def _detect_one(
    catalog: Catalog,
    image: Image,
    detector: Detector,
    spec: TileSpec,
    on_tiles: Callable[[int, int], None] | None,
    start: float,
) -> ImageResult:
    gsd = image.gsd_m or detector.info.train_gsd_m  # unknown GSD: assume the training imagery's
    params = {
        "tile": spec.tile,
        "overlap": spec.overlap,
        "floor": STORE_FLOOR,
        "source_gsd_m": gsd,
        "gsd_assumed": image.gsd_m is None,
        **run_parameters(detector.info),
    }
    scene = open_scene(catalog.readable_path(image), gsd, detector.info.model_gsd_m)
    try:
        found: SceneDetections = detect_scene(detector, scene, spec, STORE_FLOOR, on_tiles)
    finally:
        scene.close()
    classes = detector.info.classes
    with catalog.session() as s:
        run = Run(
            stage="detect",
            method=detector.info.name,
            version=detector.version,
            parameters=params,
            image_id=image.id,
            status="ok",
            finished_at=utcnow(),
        )
        s.add(run)
        s.flush()
        for box, score, cls in zip(found.boxes, found.scores, found.classes, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box)
            wkt = None
            if image.crs_wkt is not None and image.transform is not None:
                wkt = geo.pixel_box_to_wgs84(image.transform, image.crs_wkt, x0, y0, x1, y1).wkt
            s.add(
                Detection(
                    image_id=image.id,
                    run_id=run.id,
                    class_name=classes[int(cls)],
                    score=float(score),
                    x0=x0,
                    y0=y0,
                    x1=x1,
                    y1=y1,
                    geometry_wgs84_wkt=wkt,
                )
            )
        run_id = run.id
    cut = np.array([detector.info.threshold_for(classes[int(c)]) for c in found.classes])
    count = int((found.scores >= cut).sum()) if len(cut) else 0
    return ImageResult(
        image.sha256, image.original_name, run_id, count, False, time.perf_counter() - start
    )
