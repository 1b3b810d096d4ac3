"""Read annotation files (Airbus CSV, COCO JSON) into plain box records."""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
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
    try:
        # strict (no duplicate keys or NaN, bounded depth), without the 32 MiB document
        # limit: annotation files of whole datasets are larger
        data = load_json(path.read_text(encoding="utf-8"), path, "COCO JSON")
        images = {img["id"]: img["file_name"] for img in data["images"]}
        categories = {c["id"]: c["name"] for c in data["categories"]}
        annotations = data["annotations"]
    except UnicodeDecodeError as exc:
        raise BadInputError(path, f"not UTF-8 JSON ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise BadInputError(
            path, f"not COCO: needs images, annotations and categories ({exc!r} missing)"
        ) from None
    records = []
    for ann in annotations:
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            file_name = images[ann["image_id"]]
            class_name = categories[ann["category_id"]]
            # sitewatch's own exports keep the source's class name beside the category
            if isinstance(ann.get("source_class"), str) and ann["source_class"].strip():
                class_name = ann["source_class"]
        except (KeyError, TypeError, ValueError):
            raise BadInputError(
                path, f"annotation {ann.get('id')!r} has a bad bbox, image_id or category_id"
            ) from None
        records.append(BoxRecord(file_name, class_name, x, y, x + w, y + h, str(ann.get("id"))))
    return records


READERS = {"airbus": read_airbus_csv, "coco": read_coco}
