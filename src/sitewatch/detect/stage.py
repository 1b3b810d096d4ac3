"""The detect stage: run a model over catalog images, store detections with their run.

Three steps, so the middle one can run anywhere:

- ``plan`` reads the catalog: which images need this model (stored results of the same
  model file are reused), each as a ``DetectTask`` that holds plain values only;
- ``compute`` reads pixels and runs the model: no catalog, picklable in and out, so a
  ``concurrent.futures`` executor — threads, processes, or a Dask cluster through
  ``Client.get_executor()`` — runs it where the pixels are;
- ``store`` writes one run and its detections in one transaction, in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sitewatch import geo
from sitewatch.cluster import worker_threads
from sitewatch.detect.infer import SceneDetections, TileSpec, detect_scene
from sitewatch.detect.model import DEFAULT_MODEL, Detector, ModelInfo
from sitewatch.detect.registry import resolve_model
from sitewatch.errors import BadInputError, NotFoundError, SitewatchError
from sitewatch.scene import open_scene
from sitewatch.store.catalog import Catalog, detections_at, latest_detect_run
from sitewatch.store.models import Detection, Image, ImageSite, Run, utcnow
from sitewatch.store.serial import Lock, serialise

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


@dataclass(frozen=True)
class DetectTask:
    """One image to detect on, as plain values (no catalog rows): what ``compute`` needs."""

    image_id: int
    sha256: str
    name: str
    path: str  # where the pixels are readable
    gsd_m: float
    gsd_assumed: bool
    model_path: str
    model_sha256: str
    spec: TileSpec
    crs_wkt: str | None = None
    transform: tuple[float, ...] | None = None
    threads: int | None = None  # onnxruntime threads where it runs (None: the machine's)


@dataclass
class Computed:
    """What ``compute`` returns: detections in source pixels and the seconds they took."""

    found: SceneDetections
    seconds: float


def models_used(catalog: Catalog, images: list[Image]) -> list[str]:
    """Names of the models with ok detect runs on these images, most used first: what a
    site's series are made of, so new imagery is run through the same models."""
    ids = [im.id for im in images]
    with catalog.session() as s:
        rows = s.execute(
            select(Run.method, func.count(Run.id))
            .where(Run.stage == "detect", Run.status == "ok", Run.image_id.in_(ids))
            .group_by(Run.method)
            .order_by(func.count(Run.id).desc(), Run.method)
        ).all()
    return [name for name, _n in rows if name]


def plan(
    catalog: Catalog,
    images: list[Image],
    detector: Detector,
    force: bool = False,
    spec: TileSpec = TileSpec(),
    threads: int | None = None,
) -> list[DetectTask | ImageResult]:
    """Per image, in order: a task to compute, or the stored result of this model file."""
    out: list[DetectTask | ImageResult] = []
    for image in images:
        if not force:  # the stored result of this very model file, if any
            with catalog.session() as s:
                kept = _stored_result(
                    s, image.id, image.sha256, image.original_name, detector.info, detector.version
                )
            if kept is not None:
                out.append(kept)
                continue
        try:
            path = str(catalog.readable_path(image))
        except SitewatchError as exc:
            out.append(ImageResult(image.sha256, image.original_name, None, 0, False, 0.0, exc))
            continue
        out.append(
            DetectTask(
                image.id,
                image.sha256,
                image.original_name,
                path,
                # unknown GSD: assume the training imagery's
                image.gsd_m or detector.info.train_gsd_m,
                image.gsd_m is None,
                str(detector.path),
                detector.sha256,
                spec,
                image.crs_wkt,
                tuple(image.transform) if image.transform is not None else None,
                threads,
            )
        )
    return out


_DETECTORS: dict[tuple[str, str, int | None], Detector] = {}
SHIPPED = DEFAULT_MODEL.parent  # this installation's shipped models


def _detector(task: DetectTask) -> Detector:
    """The task's model in a worker process, loaded once (kept between its tasks)."""
    threads = task.threads or worker_threads()  # on a remote cluster: this worker's share
    key = (task.model_path, task.model_sha256, threads)
    if key not in _DETECTORS:
        detector = Detector(_model_here(task), threads=threads)
        if detector.sha256 != task.model_sha256:
            raise BadInputError(task.model_path, "the model file changed since detect started")
        _DETECTORS[key] = detector
    return _DETECTORS[key]


def _model_here(task: DetectTask) -> Path:
    """The task's model file on this machine: its path, or, for a shipped model on a worker
    installed elsewhere, this installation's copy (the hash check that follows makes sure
    it is the same model)."""
    path = Path(task.model_path)
    if path.is_file():
        return path
    shipped = SHIPPED / path.name
    if shipped.is_file():
        return shipped
    raise NotFoundError(
        f"{task.model_path}: the model file is not on this worker; put the workspace (its "
        "models/ folder too) on a mount every worker sees at the same path (docs/SCALE.md)"
    )


def compute(
    task: DetectTask,
    on_tiles: Callable[[int, int], None] | None = None,
    detector: Detector | None = None,
) -> Computed:
    """Run the task's model over its scene (no catalog: runs in any process). In the
    caller's process pass its ``detector``; a worker loads the task's model once."""
    start = time.perf_counter()
    detector = detector or _detector(task)
    scene = open_scene(Path(task.path), task.gsd_m, detector.info.model_gsd_m)
    try:
        found = detect_scene(detector, scene, task.spec, STORE_FLOOR, on_tiles)
    finally:
        scene.close()
    return Computed(found, time.perf_counter() - start)


def run_detector(
    catalog: Catalog,
    images: list[Image],
    model: str | Path | None = None,
    force: bool = False,
    spec: TileSpec = TileSpec(),
    on_image: Callable[[ImageResult], None] | None = None,
    on_tiles: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
    threads: int | None = None,
) -> DetectReport:
    """Detect on each image with ``model`` (a registry name, an .onnx path, or None: the
    shipped aircraft model); reuse stored results of the same model unless ``force``.

    With an ``executor`` every image's ``compute`` is submitted at once and stored as it
    finishes (``on_tiles`` only reports in-process work); ``threads`` caps onnxruntime's
    threads per computing process."""
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
    steps = plan(catalog, images, detector, force, spec, threads)
    results: dict[int, ImageResult] = {}

    def finish(i: int, result: ImageResult) -> None:
        results[i] = result
        if on_image:
            on_image(result)

    for i, step in enumerate(steps):
        if not isinstance(step, DetectTask):
            finish(i, step)  # a stored result reused, or an image that cannot be read
        elif executor is None:
            start = time.perf_counter()
            try:
                done = compute(step, on_tiles, detector)
                finish(i, store(catalog, step, done, info, detector.version, reuse=not force))
            except SitewatchError as exc:
                finish(i, _failed(step, start, exc))
    if executor is not None:
        start = time.perf_counter()
        futures = {
            executor.submit(compute, step): i
            for i, step in enumerate(steps)
            if isinstance(step, DetectTask)
        }
        # stored as each finishes: a slow image holds back no other, and a client killed
        # midway keeps every image stored so far (the next run reuses them)
        for future in as_completed(futures):
            i = futures[future]
            step = steps[i]
            assert isinstance(step, DetectTask)
            try:
                done = future.result()
            except SitewatchError as exc:
                finish(i, _failed(step, start, exc))
                continue
            except Exception as exc:  # a worker killed (out of memory) or failing in a library
                failed = SitewatchError(
                    f"{step.name}: detection failed in a worker ({type(exc).__name__}: {exc})"
                )
                finish(i, _failed(step, start, failed))
                continue
            try:  # a fault here is this process's (the catalog), never hidden as a worker's
                finish(i, store(catalog, step, done, info, detector.version, reuse=not force))
            except SitewatchError as exc:
                finish(i, _failed(step, start, exc))
    report.results.extend(results[i] for i in range(len(steps)))
    return report


def _failed(task: DetectTask, start: float, error: SitewatchError) -> ImageResult:
    return ImageResult(task.sha256, task.name, None, 0, False, time.perf_counter() - start, error)


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
CLASS_METRICS = (
    "precision",
    "recall",
    "count_dispersion",
    "ap50",
    "ap50_95",
    "count_mare",
    "held_out",
)


def _stored_result(
    s: Session,
    image_id: int,
    sha256: str,
    name: str,
    info: ModelInfo,
    version: str,
    seconds: float = 0.0,
) -> ImageResult | None:
    """The stored result of this model file for the image, if one is stored."""
    run = latest_detect_run(s, image_id, info.name, version)
    if run is None:
        return None
    return ImageResult(sha256, name, run.id, detections_at(s, run), True, seconds)


def store(
    catalog: Catalog,
    task: DetectTask,
    done: Computed,
    info: ModelInfo,
    version: str,
    reuse: bool = False,
) -> ImageResult:
    """Write the task's run and its detections (one transaction). With ``reuse``, a run of
    the same model file that another writer stored since planning is kept instead (two
    detects of one image at once store it once)."""
    start = time.perf_counter()
    params = {
        "tile": task.spec.tile,
        "overlap": task.spec.overlap,
        "floor": STORE_FLOOR,
        "source_gsd_m": task.gsd_m,
        "gsd_assumed": task.gsd_assumed,
        **run_parameters(info),
    }
    found = done.found
    classes = info.classes
    with catalog.session() as s:
        serialise(s, Lock.IMAGE, task.image_id)
        kept = (
            _stored_result(s, task.image_id, task.sha256, task.name, info, version, done.seconds)
            if reuse
            else None
        )
        if kept is not None:
            return kept
        run = Run(
            stage="detect",
            method=info.name,
            version=version,
            parameters=params,
            image_id=task.image_id,
            status="ok",
            finished_at=utcnow(),
        )
        s.add(run)
        s.flush()
        for box, score, cls in zip(found.boxes, found.scores, found.classes, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box)
            wkt = None
            if task.crs_wkt is not None and task.transform is not None:
                wkt = geo.pixel_box_to_wgs84(list(task.transform), task.crs_wkt, x0, y0, x1, y1).wkt
            s.add(
                Detection(
                    image_id=task.image_id,
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
    cut = np.array([info.threshold_for(classes[int(c)]) for c in found.classes])
    count = int((found.scores >= cut).sum()) if len(cut) else 0
    seconds = done.seconds + time.perf_counter() - start
    return ImageResult(task.sha256, task.name, run_id, count, False, seconds)
