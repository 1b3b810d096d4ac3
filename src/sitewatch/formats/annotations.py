"""Read annotation files (Airbus CSV, COCO JSON) into plain box records.

YOLO, DOTA and xView readers live beside this module; all return ``BoxRecord``s, and the
dataset readers also an ``AnnotatedSet`` that knows the images with no boxes.
"""

from __future__ import annotations

import ast
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

from sitewatch.errors import BadInputError
from sitewatch.values import kind_of, load_json, shown


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


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of a label file (``what``: "YOLO label file", …); one BadInputError
    naming the line of the first byte that is not UTF-8, or why the file cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise BadInputError(
            path, f"not UTF-8 text ({exc.reason} on line {line}); save the {what} as UTF-8"
        ) from None
    except OSError as exc:
        raise BadInputError(path, f"cannot read the {what} ({exc.strerror or exc})") from None


def read_airbus_csv(path: Path) -> list[BoxRecord]:
    """Airbus aircraft CSV: ``id,image_id,geometry,class``; geometry is a pixel polygon."""
    records = []
    reader = None
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"image_id", "geometry", "class"} - set(reader.fieldnames or [])
            if missing:
                raise BadInputError(path, f"missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                records.append(_airbus_row(path, f"line {reader.line_num}", row))
    except UnicodeDecodeError as exc:
        raise BadInputError(path, f"not UTF-8 text ({exc.reason}); save the CSV as UTF-8") from None
    except csv.Error as exc:
        line = reader.reader.line_num if reader is not None else 0  # DictReader lags a row
        at = f"line {line}: " if line else ""
        raise BadInputError(path, f"{at}not a readable CSV ({exc})") from None
    except OSError as exc:
        raise BadInputError(path, f"cannot read the CSV ({exc.strerror or exc})") from None
    return records


def _airbus_row(path: Path, where: str, row: dict[str | None, str | None]) -> BoxRecord:
    values = {}
    for column in ("image_id", "class", "geometry"):
        value = row.get(column)
        if value is None or not value.strip():
            raise BadInputError(path, f"{where}: no {column} value (is the row cut short?)")
        values[column] = value
    geometry = values["geometry"]
    try:
        points = ast.literal_eval(geometry)
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
    except (ValueError, SyntaxError, TypeError, LookupError, OverflowError, RecursionError):
        raise BadInputError(
            path, f"{where}: geometry {shown(geometry)} is not '[(x, y), …]'"
        ) from None
    if len(xs) < 3:
        raise BadInputError(path, f"{where}: polygon needs at least 3 points")
    if not all(math.isfinite(v) for v in xs + ys):
        raise BadInputError(path, f"{where}: geometry {shown(geometry)} has a non-finite point")
    return BoxRecord(
        values["image_id"], values["class"], min(xs), min(ys), max(xs), max(ys), row.get("id")
    )


def read_coco(path: Path) -> list[BoxRecord]:
    """COCO detection JSON: ``images``, ``annotations`` (bbox = x, y, w, h), ``categories``.

    A box with no area (zero or negative width or height) is refused here: the label
    importer and the benchmark take every record as a real box."""
    found, degenerate = _coco(path)
    if degenerate:
        count = found.skipped.get(NO_AREA, 0)
        raise BadInputError(path, f"{count} box(es) with no area; the first: {degenerate}")
    return found.boxes


def read_coco_set(path: Path) -> AnnotatedSet:
    """COCO JSON with its images: ``iscrowd`` boxes are kept as ``difficult`` (a crowd box
    covers many objects; it is an ignore region, not one object), scalar image fields other
    than id/file_name/width/height (``location``, ``site``…) become ``fields``, and a
    ``gsd``/``gsd_m`` field the image's GSD. Boxes with no area are counted in ``skipped``."""
    return _coco(path)[0]


NO_AREA = "box with no area"


def _coco(path: Path) -> tuple[AnnotatedSet, str | None]:
    """The set, and a description of the first box with no area (None: there is none)."""
    # strict (no duplicate keys or NaN, bounded depth), without the 32 MiB document limit:
    # annotation files of whole datasets are larger
    data = load_json(read_text(path, "COCO JSON"), path, "COCO JSON")
    parts = data if isinstance(data, dict) else {}
    for key in ("images", "annotations", "categories"):
        if not isinstance(parts.get(key), list):
            found = "missing" if key not in parts else f"{kind_of(parts[key])}, not a list"
            raise BadInputError(
                path, f"not COCO: needs images, annotations and categories lists ({key}: {found})"
            )
    images: dict[int | str, str] = {}
    metas: dict[str, ImageMeta] = {}
    for i, img in enumerate(parts["images"]):
        meta = _coco_image(path, i, img)
        image_id = img["id"]
        if image_id in images:
            raise BadInputError(path, f"image id {_show(image_id)} appears twice")
        images[image_id] = meta.file_name
        metas[meta.file_name] = meta
    categories: dict[int | str, str] = {}
    for i, cat in enumerate(parts["categories"]):
        where = f"category {i}"
        if not isinstance(cat, dict):
            raise BadInputError(path, f"{where} is not an object")
        cat_id, name = cat.get("id"), cat.get("name")
        if not _is_id(cat_id):
            raise BadInputError(path, f"{where}: id {_show(cat_id)} is not a number or text")
        if not isinstance(name, str) or not name.strip():
            raise BadInputError(
                path,
                f"category {_show(cat_id)}: name {_show(name)} is not a class name (text)",
            )
        if cat_id in categories:
            raise BadInputError(path, f"category id {_show(cat_id)} appears twice")
        categories[cat_id] = name
    out = AnnotatedSet(metas, [])
    degenerate = None
    for i, ann in enumerate(parts["annotations"]):
        if not isinstance(ann, dict):
            raise BadInputError(path, f"annotation {i} is not an object")
        record = _coco_box(path, i, ann, images, categories)
        if record.x1 <= record.x0 or record.y1 <= record.y0:
            out.skip(NO_AREA)
            degenerate = degenerate or f"annotation {_name(i, ann)}, bbox {ann['bbox']!r}"
            continue
        out.boxes.append(record)
    return out, degenerate


def _is_id(value: object) -> TypeGuard[int | str]:
    """A COCO id: a whole number or text (true/false are numbers to Python, not ids)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _show(value: object) -> str:
    """A JSON value as a message quotes it: text quoted, numbers as they are, else its kind."""
    if isinstance(value, str):
        return shown(value)
    text = repr(value)
    text = text if len(text) <= 40 else text[:39] + "…"
    return text if _is_number(value) else f"{text} ({kind_of(value)})"


def _name(i: int, ann: dict) -> str:
    return _show(ann["id"]) if _is_id(ann.get("id")) else f"#{i}"


def _coco_box(
    path: Path,
    i: int,
    ann: dict,
    images: dict[int | str, str],
    categories: dict[int | str, str],
) -> BoxRecord:
    where = f"annotation {_name(i, ann)}"
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
        raise BadInputError(path, f"{where}: bad bbox {_show(bbox)}: needs [x, y, width, height]")
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h, x + w, y + h)):
        raise BadInputError(path, f"{where}: bad bbox {bbox!r}: numbers must be finite")
    image_id, category_id = ann.get("image_id"), ann.get("category_id")
    if not _is_id(image_id) or image_id not in images:
        raise BadInputError(path, f"{where}: image_id {_show(image_id)} names no image")
    if not _is_id(category_id) or category_id not in categories:
        raise BadInputError(path, f"{where}: category_id {_show(category_id)} names no category")
    crowd = ann.get("iscrowd", 0)
    if crowd not in (0, 1):  # false/true are 0/1 too
        raise BadInputError(path, f"{where}: iscrowd {_show(crowd)} is not 0 or 1")
    class_name = categories[category_id]
    # sitewatch's own exports keep the source's class name beside the category
    source_class = ann.get("source_class")
    if isinstance(source_class, str) and source_class.strip():
        class_name = source_class
    ann_id = ann.get("id")
    return BoxRecord(
        images[image_id],
        class_name,
        x,
        y,
        x + w,
        y + h,
        None if ann_id is None else str(ann_id),
        bool(crowd),
    )


def _coco_image(path: Path, i: int, img: object) -> ImageMeta:
    if not isinstance(img, dict):
        raise BadInputError(path, f"image {i} is not an object")
    image_id, file_name = img.get("id"), img.get("file_name")
    if not _is_id(image_id):
        raise BadInputError(path, f"image {i}: id {_show(image_id)} is not a number or text")
    where = f"image {_show(image_id)}"
    if not isinstance(file_name, str) or not file_name.strip():
        raise BadInputError(path, f"{where}: file_name {_show(file_name)} is not a file name")
    size = []
    for key in ("width", "height"):
        value = img.get(key)
        if value is not None and not (_is_number(value) and value > 0 and value == int(value)):
            raise BadInputError(
                path, f"{where}: {key} {_show(value)} is not a positive whole number"
            )
        size.append(None if value is None else int(value))
    fields = {
        k: str(v)
        for k, v in img.items()
        if k not in ("id", "file_name", "width", "height") and isinstance(v, str | int | float)
    }
    return ImageMeta(file_name, size[0], size[1], fields, _gsd(img.get("gsd_m", img.get("gsd"))))


MAX_GSD_M = 1000.0  # coarser than a kilometre a pixel is no imagery sitewatch can use


def _gsd(value: object) -> float | None:
    """A GSD in metres: a real (not true/false), positive, finite number up to MAX_GSD_M."""
    if _is_number(value) and math.isfinite(value) and 0 < value <= MAX_GSD_M:
        return float(value)
    return None


READERS = {"airbus": read_airbus_csv, "coco": read_coco}
