"""Write boxes (labels or detections) as COCO JSON or GeoJSON."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sitewatch import geo
from sitewatch.files import write_json_atomic
from sitewatch.store.models import Image


@dataclass(frozen=True)
class ExportBox:
    """A box in an image's pixels; ``score`` is set for detections, not for labels."""

    image: Image
    class_name: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float | None = None


def to_coco(boxes: Iterable[ExportBox]) -> dict:
    """COCO detection JSON (bbox = x, y, w, h in pixels; image ids are catalog ids)."""
    boxes = list(boxes)
    classes = sorted({b.class_name for b in boxes})
    cat_id = {c: i + 1 for i, c in enumerate(classes)}
    images = {b.image.id: b.image for b in boxes}
    annotations = []
    for i, b in enumerate(boxes, start=1):
        ann = {
            "id": i,
            "image_id": b.image.id,
            "category_id": cat_id[b.class_name],
            "bbox": [b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0],
            "area": (b.x1 - b.x0) * (b.y1 - b.y0),
            "iscrowd": 0,
        }
        if b.score is not None:
            ann["score"] = b.score
        annotations.append(ann)
    return {
        "info": {"description": "exported by sitewatch"},
        "images": [
            {
                "id": im.id,
                "file_name": im.original_name,
                "width": im.width,
                "height": im.height,
                "sha256": im.sha256,
            }
            for im in images.values()
        ],
        "categories": [{"id": cat_id[c], "name": c} for c in classes],
        "annotations": annotations,
    }


def to_geojson(boxes: Iterable[ExportBox]) -> dict:
    """GeoJSON: lon/lat (EPSG:4326) for georeferenced images; pixel coordinates otherwise,
    marked per feature with ``coordinate_space`` (GeoJSON readers will not place those)."""
    features = []
    for b in boxes:
        im = b.image
        if im.crs_wkt is not None and im.transform is not None:
            poly = geo.pixel_box_to_wgs84(im.transform, im.crs_wkt, b.x0, b.y0, b.x1, b.y1)
            coords = [[list(p) for p in poly.exterior.coords]]
            space = "EPSG:4326"
        else:
            ring = [(b.x0, b.y0), (b.x1, b.y0), (b.x1, b.y1), (b.x0, b.y1), (b.x0, b.y0)]
            coords = [[list(p) for p in ring]]
            space = "pixel"
        props = {
            "image": im.original_name,
            "sha256": im.sha256,
            "class": b.class_name,
            "bbox_px": [b.x0, b.y0, b.x1, b.y1],
            "coordinate_space": space,
            "acquired": im.acquired_at.isoformat() if im.acquired_at else None,
        }
        if b.score is not None:
            props["score"] = b.score
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": coords},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def write_boxes(path: Path, boxes: Iterable[ExportBox], fmt: str) -> None:
    """``fmt`` is ``coco`` or ``geojson``."""
    write_json_atomic(path, to_coco(boxes) if fmt == "coco" else to_geojson(boxes))
