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
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch.dates import day
from sitewatch.detect import DEFAULT_MODEL
from sitewatch.frame import project
from sitewatch.register.georef import footprint_in
from sitewatch.register.site import frame_matrix
from sitewatch.sites import ImageFinding, image_finding
from sitewatch.store.catalog import run_threshold, selected_detections
from sitewatch.store.models import Finding, Image, Registration, Run, VerifyCheck
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
    objects: list[FrameObject]  # counted detections of every class, inside the site or not
    runs: dict[str, Run]  # class → the detect run that counts it (``select_detect_runs``)
    accuracy: dict[str, Accuracy]  # class → its detector's held-out precision/recall

    @property
    def classes(self) -> tuple[str, ...]:
        """What the selected detectors looked for (a class never found counts 0)."""
        return tuple(sorted(self.runs))

    def inside(self, region: BaseGeometry) -> list[FrameObject]:
        """The objects whose centre lies in ``region`` (frame pixels)."""
        if not self.objects:
            return []
        xs = np.array([o.x for o in self.objects])
        ys = np.array([o.y for o in self.objects])
        keep = shapely.contains_xy(region, xs, ys)
        return [o for o, k in zip(self.objects, keep, strict=True) if k]


def run_accuracy(run: Run, class_name: str | None = None) -> Accuracy:
    """Held-out precision/recall (and count dispersion) of the run's detector for
    ``class_name``: the class's own figures stored with the run (``per_class``); for runs
    stored before per-class figures, the run's overall figures, else the shipped model's
    card."""
    label = f"{run.method} v{run.version[:8]} (held-out"
    per_class = run.parameters.get("per_class")
    if per_class is not None and class_name is not None:
        own = per_class.get(class_name) or {}
        if own.get("precision") and own.get("recall"):
            return accuracy_of(own, f"{label}, {class_name})") or NOT_MEASURED
        return NOT_MEASURED
    if run.parameters.get("precision") and run.parameters.get("recall"):
        return accuracy_of(run.parameters, f"{label})") or NOT_MEASURED
    metrics = model_metrics(run, class_name)
    if metrics.get("precision") and metrics.get("recall"):
        return accuracy_of(metrics, f"{run.method} model card") or NOT_MEASURED
    return NOT_MEASURED


def accuracy_of(figures: dict[str, Any], source: str) -> Accuracy | None:
    """Stored figures (``precision``, ``recall``, ``count_dispersion``) as an Accuracy; None
    for figures no detector can have (a run stored before model cards were checked, an
    edited catalog): not measured, never a crash."""
    try:
        return Accuracy(
            float(figures["precision"]),
            float(figures["recall"]),
            source,
            float(figures.get("count_dispersion") or 0.0),
        )
    except (KeyError, ValueError, TypeError):  # BadInputError is a ValueError
        return None


UNMEASURED = "unknown: detector error not measured, intervals too narrow"
NOT_MEASURED = Accuracy(1.0, 1.0, UNMEASURED)


def model_metrics(run: Run, class_name: str | None = None) -> dict:
    """The held-out metrics of ``run``'s model for ``class_name``: the figures stored with
    the run, completed from the shipped model's card when ``run`` used that model (runs
    stored before per-class figures were kept)."""
    stored = (run.parameters.get("per_class") or {}).get(class_name) if class_name else None
    shipped: dict = {}
    info = _shipped_card()
    # only the very model version the card describes: a retrained model's figures are not
    # an older run's
    if info.get("name") == run.method and run.version.split("+")[0] == info.get("version"):
        metrics = dict(info.get("metrics", {}))
        per_class = metrics.pop("per_class", None) or {}
        shipped = dict(per_class.get(class_name, metrics) if class_name else metrics)
    return {**shipped, **{k: v for k, v in (stored or {}).items() if v is not None}}


@lru_cache(maxsize=1)
def _shipped_card() -> dict:
    """The shipped default model's card data, read once (monitoring asks per image)."""
    card = DEFAULT_MODEL.with_suffix(".json")
    return json.loads(card.read_text()) if card.is_file() else {}


def view_of(
    session: Session,
    image: Image,
    registration: Registration,
    runs: dict[str, Run],
    polygon: BaseGeometry,
) -> ImageView:
    """Carry an image's counted detections (each class from its selected run, at that
    class's threshold) and its outline into the site frame."""
    matrix = frame_matrix(registration)
    outline = footprint_in((image.width, image.height), matrix)
    seen = polygon.intersection(outline)
    coverage = seen.area / polygon.area if polygon.area > 0 else 0.0
    rows = selected_detections(session, runs)
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
    accuracy = {cls: run_accuracy(run, cls) for cls, run in runs.items()}
    return ImageView(image, matrix, seen, coverage, objects, dict(runs), accuracy)


def detector_record(run: Run, class_name: str) -> dict[str, Any]:
    """What a report says of the detector behind one class's counts (kept with monitoring):
    model name and version, what it looks for, the class's threshold and held-out figures."""
    acc = run_accuracy(run, class_name)
    metrics = model_metrics(run, class_name)
    return {
        "class": class_name,
        "name": run.method,
        "version": run.version,
        "classes": list(run.parameters.get("classes") or [class_name]),
        "threshold": run_threshold(run, class_name),
        "precision": acc.precision,
        "recall": acc.recall,
        "accuracy_source": acc.source,
        "count_dispersion": acc.dispersion,
        "ap50": metrics.get("ap50"),
        "ap50_95": metrics.get("ap50_95"),
        "count_mare": metrics.get("count_mare"),
        "held_out": metrics.get("held_out") or run.parameters.get("held_out"),
        "experimental": bool(run.parameters.get("experimental", False)),
    }


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
        return day(self.acquired_at)


def reuse_reason(f: ImageFinding) -> str:
    """Why an image found to reuse an earlier acquisition is not counted at its own date."""
    when = day(f.related_acquired_at, "undated") + (
        ", illustrative" if f.related_illustrative else ""
    )
    return (
        f"the same acquisition as {f.related_name} ({when}), found by `sitewatch verify "
        "recycled`: not a view of its own date, so not counted"
    )


def reused_by(s: Session, image_ids: list[int]) -> dict[int, ImageFinding]:
    """The images among ``image_ids`` found to reuse an earlier acquisition, each with the
    first such finding (``sitewatch verify recycled``)."""
    rows = s.scalars(
        select(Finding)
        .where(
            Finding.image_id.in_(image_ids),
            Finding.check == VerifyCheck.RECYCLED,
            Finding.related_image_id.is_not(None),
        )
        .order_by(Finding.id)
    )
    out: dict[int, ImageFinding] = {}
    for f in rows:
        out.setdefault(f.image_id, image_finding(f))
    return out
