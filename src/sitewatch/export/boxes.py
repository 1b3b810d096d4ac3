"""Boxes (detections of runs, or labels) to COCO or to a map/table format."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from sitewatch.boxes import ImageBox
from sitewatch.dates import iso
from sitewatch.errors import BadInputError, ConflictError
from sitewatch.export.layers import add_detection, detection_layer, model_label
from sitewatch.export.placement import of_image
from sitewatch.export.site import ExportSummary
from sitewatch.files import write_json_atomic
from sitewatch.formats import VectorFormat, write_layers
from sitewatch.formats.coco import CocoImage, categories, coco_dataset, coco_results
from sitewatch.store.catalog import Catalog, run_threshold
from sitewatch.store.models import Detection, Image, Label, Run


def catalog_classes(catalog: Catalog) -> list[str]:
    """Every class named by a label or a detection: one COCO category table for both."""
    with catalog.session() as s:
        labels = s.scalars(select(Label.class_name).distinct()).all()
        found = s.scalars(select(Detection.class_name).distinct()).all()
    return [*labels, *found]


def box_format(out: Path, fmt: str | None) -> str:
    """``coco`` or a VectorFormat value, from ``fmt`` or the file's suffix (``.json``: COCO)."""
    text = (fmt or ("coco" if out.suffix.lower() == ".json" else out.suffix.lstrip("."))).lower()
    if text == "coco":
        return text
    try:
        return VectorFormat.of(out, text).value
    except BadInputError:
        raise BadInputError(
            "--format", f"unknown export format {text!r}",
            f"use coco or one of {', '.join(VectorFormat)}",
        ) from None  # fmt: skip


def export_boxes(
    catalog: Catalog,
    boxes: Sequence[ImageBox],
    out: str | Path,
    fmt: str | None,
    title: str,
    detections: bool,
) -> ExportSummary | None:
    """Write ``boxes`` (format by ``fmt`` or the suffix): ``coco`` writes the results list
    ``COCO.loadRes`` reads for ``detections``, a COCO dataset for labels; other formats a
    ``detections`` layer."""
    out = catalog.output(out)
    fmt = box_format(out, fmt)
    with catalog.session() as s:
        images = {i: s.get(Image, i) for i in dict.fromkeys(b.image_id for b in boxes)}
        if fmt == "coco":
            table = categories(catalog_classes(catalog))
            if detections:
                write_json_atomic(out, coco_results(boxes, table))
            else:
                write_json_atomic(out, coco_dataset(_coco_images(images.values()), boxes, table))
            return None
        kind = VectorFormat.of(out, fmt)
        layer = detection_layer(title)
        places = {i: of_image(s, im) for i, im in images.items() if im is not None}
        for b in boxes:
            im = images[b.image_id]
            assert im is not None  # boxes come from the catalog
            add_detection(layer, im, places[b.image_id], b, None, b.score, b.model)
    if kind is not VectorFormat.CSV and boxes and not layer.rows:
        raise ConflictError(
            f"{out}: no map coordinates: none of these images is georeferenced or registered "
            "to a georeferenced site frame; write COCO or CSV instead"
        )
    write_layers(out, [layer], kind, title)
    return ExportSummary(out, kind, {"detections": len(layer.rows)},
                         {"detections": len(layer.unplaced)})  # fmt: skip


def _coco_images(images: object) -> list[CocoImage]:
    return [
        CocoImage(
            im.id,
            im.original_name,
            im.width,
            im.height,
            im.sha256,
            iso(im.acquired_at) or None,
            bool(im.date_is_illustrative),
            im.licence,
            im.credit,
        )
        for im in images  # type: ignore[attr-defined]
        if im is not None
    ]


def export_detections(
    catalog: Catalog,
    run_ids: Sequence[int],
    out: str | Path,
    fmt: str | None = None,
    all_scores: bool = False,
) -> ExportSummary | None:
    """The detections of these runs: at each run's operating threshold, or every stored
    detection when ``all_scores`` (COCO results always keep every score: AP needs them)."""
    keep_all = all_scores or box_format(Path(out), fmt) == "coco"
    with catalog.session() as s:
        rows = s.execute(
            select(Detection).where(Detection.run_id.in_(run_ids))
            .order_by(Detection.image_id, Detection.score.desc(), Detection.id)
        ).scalars().all()  # fmt: skip
        runs = {r: s.get(Run, r) for r in run_ids}
        boxes = [
            ImageBox(
                d.image_id,
                d.class_name,
                d.x0,
                d.y0,
                d.x1,
                d.y1,
                round(d.score, 4),
                model_label(runs[d.run_id]),  # type: ignore[arg-type]
            )
            for d in rows  # each class at its own threshold
            if keep_all or d.score >= run_threshold(runs[d.run_id], d.class_name)  # type: ignore[arg-type]
        ]
    return export_boxes(catalog, boxes, out, fmt, "Detections", detections=True)
