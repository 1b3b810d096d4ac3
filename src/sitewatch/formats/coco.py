"""COCO: the dataset form (images, annotations, categories, licenses) for labels, and the
results list that ``COCO.loadRes`` reads for detections; both with one category table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sitewatch.boxes import ImageBox
from sitewatch.classes import ObjectClass, canonical

# ids of classes outside ObjectClass: after these, in name order, so a catalog's exports
# (labels and detections alike) share one table
_OTHER_IDS = 1000


@dataclass(frozen=True)
class CocoImage:
    id: int
    file_name: str
    width: int
    height: int
    sha256: str
    captured: str | None = None  # ISO 8601
    date_illustrative: bool = False
    licence: str | None = None
    credit: str | None = None


def categories(class_names: Iterable[str]) -> list[dict[str, Any]]:
    """The category table for these class names (canonical names, fixed ids for known ones)."""
    names = {canonical(n) for n in class_names}
    known = [c for c in ObjectClass if c.value in names]
    other = sorted(names - {c.value for c in known})
    table = [{"id": c.coco_id, "name": c.value, "supercategory": "object"} for c in known]
    table += [
        {"id": _OTHER_IDS + i, "name": n, "supercategory": "object"}
        for i, n in enumerate(other, start=1)
    ]
    return table


def _ids(table: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {c["name"]: c["id"] for c in table}


def coco_dataset(
    images: Sequence[CocoImage], boxes: Sequence[ImageBox], table: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """A COCO detection dataset: what ``pycocotools.coco.COCO`` loads as ground truth."""
    cat = _ids(table)
    licences = sorted({(im.licence or "", im.credit or "") for im in images})
    licence_id = {key: i for i, key in enumerate(licences, start=1)}
    return {
        "info": {
            "description": "exported by sitewatch",
            "date_created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "licenses": [
            {
                "id": licence_id[key],
                "name": key[0] or "unknown licence",
                "url": "",
                "credit": key[1],
            }
            for key in licences
        ],
        "images": [
            {
                "id": im.id,
                "file_name": im.file_name,
                "width": im.width,
                "height": im.height,
                "license": licence_id[(im.licence or "", im.credit or "")],
                "date_captured": im.captured or "",
                "date_illustrative": im.date_illustrative,
                "sha256": im.sha256,
            }
            for im in images
        ],
        "categories": list(table),
        "annotations": [
            {
                "id": i,
                "image_id": b.image_id,
                "category_id": cat[canonical(b.class_name)],
                "bbox": _bbox(b),
                "area": round((b.x1 - b.x0) * (b.y1 - b.y0), 2),
                "iscrowd": 0,
                # the source's own class name where it differs from the category's (Airbus
                # "Truncated_airplane" under "aircraft"): a re-import keeps it
                **(
                    {"source_class": b.class_name}
                    if b.class_name != canonical(b.class_name)
                    else {}
                ),
            }
            for i, b in enumerate(boxes, start=1)
        ],
    }


def coco_results(boxes: Sequence[ImageBox], table: Sequence[dict[str, Any]]) -> list[dict]:
    """The COCO results list (``COCO.loadRes`` input): image_id, category_id, bbox, score."""
    cat = _ids(table)
    return [
        {"image_id": b.image_id, "category_id": cat[canonical(b.class_name)], "bbox": _bbox(b),
         "score": round(b.score if b.score is not None else 1.0, 4)}
        for b in boxes
    ]  # fmt: skip


def _bbox(b: ImageBox) -> list[float]:
    """COCO's x, y, width, height (pixels, to a thousandth)."""
    return [round(b.x0, 3), round(b.y0, 3), round(b.x1 - b.x0, 3), round(b.y1 - b.y0, 3)]
