"""Read annotation files (Airbus CSV, COCO JSON) into plain box records.

YOLO, DOTA and xView readers live beside this module; all return ``BoxRecord``s, and the
dataset readers also an ``AnnotatedSet`` that knows the images with no boxes.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass, field
from pathlib import Path

from sitewatch.errors import BadInputError
from sitewatch.values import load_json


@dataclass(frozen=True)
class BoxRecord:
    """A box in image pixels (x0, y0, x1, y1), named by the image's file name."""

    file_name: str
    class_name: str
    x0: float
    y0: float
    x1: float
    y1: float
    source_id: str | None = None
    # hard to see or a crowd region (DOTA ``difficult``, COCO ``iscrowd``): training
    # neither rewards nor punishes a detection there, evaluation does not score it
    difficult: bool = False


@dataclass
class ImageMeta:
    """An annotated image: its file name, size when the labels say it, descriptive fields
    (where it was taken, its source…, used to split by place) and GSD when known."""

    file_name: str
    width: int | None = None
    height: int | None = None
    fields: dict[str, str] = field(default_factory=dict)
    gsd_m: float | None = None


@dataclass
class AnnotatedSet:
    """A labelled dataset: every annotated image (with or without boxes) and the boxes.
    ``skipped`` counts annotations left out, by reason, so a reader never drops silently."""

    images: dict[str, ImageMeta]
    boxes: list[BoxRecord]
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "airbus"
    if suffix == ".json":
        return "coco"
    raise BadInputError(path, "unknown annotation format", "use an Airbus .csv or a COCO .json")


def read_airbus_csv(path: Path) -> list[BoxRecord]:
    """Airbus aircraft CSV: ``id,image_id,geometry,class``; geometry is a pixel polygon."""
    records = []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"image_id", "geometry", "class"} - set(reader.fieldnames or [])
            if missing:
                raise BadInputError(path, f"missing column(s) {', '.join(sorted(missing))}")
            for line, row in enumerate(reader, start=2):
                try:
                    points = ast.literal_eval(row["geometry"])
                    xs = [float(p[0]) for p in points]
                    ys = [float(p[1]) for p in points]
                except (ValueError, SyntaxError, TypeError, IndexError):
                    raise BadInputError(
                        path, f"line {line}: geometry {row['geometry']!r} is not '[(x, y), …]'"
                    ) from None
                if len(xs) < 3:
                    raise BadInputError(path, f"line {line}: polygon needs at least 3 points")
                records.append(
                    BoxRecord(
                        row["image_id"],
                        row["class"],
                        min(xs),
                        min(ys),
                        max(xs),
                        max(ys),
                        row.get("id"),
                    )
                )
    except UnicodeDecodeError as exc:
        raise BadInputError(path, f"not a UTF-8 CSV ({exc})") from None
    return records


def read_coco(path: Path) -> list[BoxRecord]:
    """COCO detection JSON: ``images``, ``annotations`` (bbox = x, y, w, h), ``categories``."""
    return read_coco_set(path).boxes


def read_coco_set(path: Path) -> AnnotatedSet:
    """COCO JSON with its images: ``iscrowd`` boxes are kept as ``difficult`` (a crowd box
    covers many objects; it is an ignore region, not one object), scalar image fields other
    than id/file_name/width/height (``location``, ``site``…) become ``fields``, and a
    ``gsd``/``gsd_m`` field the image's GSD."""
    try:
        # strict (no duplicate keys or NaN, bounded depth), without the 32 MiB document
        # limit: annotation files of whole datasets are larger
        data = load_json(path.read_text(encoding="utf-8"), path, "COCO JSON")
        images = {img["id"]: img["file_name"] for img in data["images"]}
        metas = {img["file_name"]: _coco_image(img) for img in data["images"]}
        categories = {c["id"]: c["name"] for c in data["categories"]}
        annotations = data["annotations"]
    except UnicodeDecodeError as exc:
        raise BadInputError(path, f"not UTF-8 JSON ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise BadInputError(
            path, f"not COCO: needs images, annotations and categories ({exc!r} missing)"
        ) from None
    records = []
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            raise BadInputError(path, f"annotation {i} is not an object")
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            crowd = bool(ann.get("iscrowd", 0))
            file_name = images[ann["image_id"]]
            class_name = categories[ann["category_id"]]
            # sitewatch's own exports keep the source's class name beside the category
            if isinstance(ann.get("source_class"), str) and ann["source_class"].strip():
                class_name = ann["source_class"]
        except (KeyError, TypeError, ValueError):
            raise BadInputError(
                path, f"annotation {ann.get('id')!r} has a bad bbox, image_id or category_id"
            ) from None
        records.append(
            BoxRecord(file_name, class_name, x, y, x + w, y + h, str(ann.get("id")), crowd)
        )
    return AnnotatedSet(metas, records)


def _coco_image(img: dict) -> ImageMeta:
    fields = {
        k: str(v)
        for k, v in img.items()
        if k not in ("id", "file_name", "width", "height") and isinstance(v, str | int | float)
    }
    gsd = img.get("gsd_m", img.get("gsd"))
    return ImageMeta(
        img["file_name"],
        int(img["width"]) if isinstance(img.get("width"), int) else None,
        int(img["height"]) if isinstance(img.get("height"), int) else None,
        fields,
        float(gsd) if isinstance(gsd, int | float) and gsd > 0 else None,
    )


READERS = {"airbus": read_airbus_csv, "coco": read_coco}
