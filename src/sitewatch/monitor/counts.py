"""Footprint-aware counts: detections whose centre falls inside site polygon ∩ image footprint.

Every image is first mapped into the site frame (``sitewatch register``). An object is
counted by its centre, so one straddling the site boundary counts once, on the side its
centre lies. The coverage fraction says how much of the site the image saw; a count from
partial coverage is marked and never compared as if it were whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch.detect.model import DEFAULT_MODEL
from sitewatch.register.features import project
from sitewatch.register.georef import footprint_in
from sitewatch.register.site import frame_matrix
from sitewatch.store.catalog import run_threshold
from sitewatch.store.models import Detection, Image, Registration, Run
from sitewatch.uncertainty import Accuracy

FULL_COVERAGE = 0.98  # below this fraction of the site seen, a count is "partial"


@dataclass(frozen=True)
class FrameObject:
    """A detection carried into the site frame."""

    detection_id: int
    class_name: str
    score: float
    x: float  # centre, frame pixels
    y: float
    length: float  # longer side of its frame-aligned box, frame pixels


@dataclass(frozen=True)
class ImageView:
    """What one registered, detected image shows of the site."""

    image: Image
    matrix: np.ndarray
    footprint: BaseGeometry  # site polygon ∩ image footprint, frame pixels
    coverage: float
    objects: list[FrameObject]  # all detections at the threshold, inside or not
    accuracy: Accuracy
    classes: tuple[str, ...]  # what the detector looked for (a class it never found counts 0)

    def inside(self, region: BaseGeometry) -> list[FrameObject]:
        """The objects whose centre lies in ``region`` (frame pixels)."""
        if not self.objects:
            return []
        xs = np.array([o.x for o in self.objects])
        ys = np.array([o.y for o in self.objects])
        keep = shapely.contains_xy(region, xs, ys)
        return [o for o, k in zip(self.objects, keep, strict=True) if k]


def run_accuracy(run: Run) -> Accuracy:
    """Precision/recall of the run's detector: stored with the run, else its model card."""
    p, r = run.parameters.get("precision"), run.parameters.get("recall")
    if p and r:
        return Accuracy(float(p), float(r), f"{run.method} v{run.version[:8]} (held-out)")
    metrics = model_metrics(run)
    if metrics.get("precision"):
        return Accuracy(metrics["precision"], metrics["recall"], f"{run.method} model card")
    return Accuracy(1.0, 1.0, "unknown: detector error not measured, intervals too narrow")


def model_metrics(run: Run) -> dict:
    """The held-out metrics on the shipped model's card, when ``run`` used that model."""
    card = DEFAULT_MODEL.with_suffix(".json")
    if card.is_file():
        info = json.loads(card.read_text())
        if info.get("name") == run.method:
            return dict(info.get("metrics", {}))
    return {}


def view_of(
    session: Session, image: Image, registration: Registration, run: Run, polygon: BaseGeometry
) -> ImageView:
    """Carry an image's detections and outline into the site frame."""
    matrix = frame_matrix(registration)
    outline = footprint_in((image.width, image.height), matrix)
    seen = polygon.intersection(outline)
    coverage = seen.area / polygon.area if polygon.area > 0 else 0.0
    threshold = run_threshold(run)
    rows = session.scalars(
        select(Detection).where(Detection.run_id == run.id, Detection.score >= threshold)
    ).all()
    objects = []
    if rows:
        corners = np.array(
            [[(d.x0, d.y0), (d.x1, d.y0), (d.x1, d.y1), (d.x0, d.y1)] for d in rows], float
        )
        frame = project(matrix, corners.reshape(-1, 2)).reshape(-1, 4, 2)
        centres = project(matrix, corners.mean(axis=1))
        spans = frame.max(axis=1) - frame.min(axis=1)
        for d, c, span in zip(rows, centres, spans, strict=True):
            objects.append(
                FrameObject(
                    d.id, d.class_name, d.score, float(c[0]), float(c[1]), float(span.max())
                )
            )
    classes = tuple(run.parameters.get("classes") or sorted({o.class_name for o in objects}))
    return ImageView(image, matrix, seen, coverage, objects, run_accuracy(run), classes)


@dataclass(frozen=True)
class Count:
    """One image's count of one class in the site, or why the image was not counted."""

    sha256: str
    name: str
    acquired_at: datetime | None
    date_is_illustrative: bool
    class_name: str | None
    count: int | None
    estimate: float | None
    sd: float | None
    low: float | None
    high: float | None
    coverage: float | None
    partial: bool
    used: bool
    reason: str | None

    @property
    def date(self) -> str:
        return self.acquired_at.date().isoformat() if self.acquired_at else ""
