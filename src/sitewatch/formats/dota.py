"""Read a DOTA-format dataset: ``labelTxt/NAME.txt`` beside ``images/NAME.png``.

A label file may open with header lines ``imagesource:GoogleEarth`` and ``gsd:0.146``
(``gsd:null`` when unknown), then one object per line: ``x1 y1 x2 y2 x3 y3 x4 y4 class
difficult`` — an oriented quadrilateral in pixels. sitewatch's detector is axis-aligned, so
each quadrilateral becomes its enclosing box; the ``difficult`` flag is kept.
"""

from __future__ import annotations

import math
from pathlib import Path

from sitewatch.errors import BadInputError
from sitewatch.formats.annotations import AnnotatedSet, BoxRecord, ImageMeta, read_text
from sitewatch.formats.yolo import IMAGE_SUFFIXES


def read_dota(folder: Path) -> AnnotatedSet:
    """Every image under ``folder/images`` with its boxes from ``folder/labelTxt``."""
    images_dir, labels_dir = folder / "images", folder / "labelTxt"
    if not images_dir.is_dir() or not labels_dir.is_dir():
        raise BadInputError(folder, "a DOTA dataset needs images/ and labelTxt/ folders")
    files = {p.stem: p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    out = AnnotatedSet({}, [])
    for label in sorted(labels_dir.glob("*.txt")):
        image = files.get(label.stem)
        if image is None:
            out.skip(f"label file without an image ({label.name})")
            continue
        meta = ImageMeta(image.name)
        out.images[image.name] = meta
        for line_no, line in enumerate(read_text(label, "label file").splitlines(), 1):
            text = line.strip()
            if not text:
                continue
            key, sep, value = text.partition(":")
            if sep and " " not in key:  # a header line
                _header(label, line_no, meta, key.strip().lower(), value.strip())
                continue
            out.boxes.append(_box(label, line_no, text, image.name))
    if not out.images:
        raise BadInputError(labels_dir, "no label file matches an image in images/")
    return out


def _header(label: Path, line_no: int, meta: ImageMeta, key: str, value: str) -> None:
    meta.fields[key] = value
    if key == "gsd" and value.lower() not in ("", "null", "none"):
        try:
            gsd = float(value)
        except ValueError:
            raise BadInputError(label, f"line {line_no}: gsd {value!r} is not a number") from None
        if not (math.isfinite(gsd) and 0 < gsd < 1000):
            raise BadInputError(label, f"line {line_no}: gsd {value!r} is not a GSD in metres")
        meta.gsd_m = gsd


def _box(label: Path, line_no: int, text: str, file_name: str) -> BoxRecord:
    parts = text.split()
    if len(parts) not in (9, 10):
        raise BadInputError(
            label, f"line {line_no}: expected 'x1 y1 … x4 y4 class [difficult]', got {text!r}"
        )
    try:
        xy = [float(v) for v in parts[:8]]
        difficult = len(parts) == 10 and int(parts[9]) != 0
    except ValueError:
        raise BadInputError(label, f"line {line_no}: {text!r} has a non-number field") from None
    if not all(math.isfinite(v) for v in xy):
        raise BadInputError(label, f"line {line_no}: coordinates must be finite ({text!r})")
    xs, ys = xy[0::2], xy[1::2]
    # DOTA's quadrilaterals reach a pixel or two past the image edge; the label importer and
    # the training crops clip boxes to the image
    x0, y0, x1, y1 = max(min(xs), 0.0), max(min(ys), 0.0), max(xs), max(ys)
    if x1 <= 0 or y1 <= 0:  # clipping would leave no area: say why
        side = "left of" if x1 <= 0 else "above"
        raise BadInputError(
            label, f"line {line_no}: the quadrilateral lies outside the image, {side} it ({text!r})"
        )
    if x1 <= x0 or y1 <= y0:
        raise BadInputError(label, f"line {line_no}: the quadrilateral has no area ({text!r})")
    return BoxRecord(file_name, parts[8], x0, y0, x1, y1, f"{label.name}:{line_no}", difficult)
