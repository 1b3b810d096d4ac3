"""Read a YOLO-format dataset: ``labels/NAME.txt`` beside ``images/NAME.jpg``.

Each line is ``class cx cy w h`` normalised to the image size (0…1); a line with more
numbers is a YOLO segmentation polygon ``class x1 y1 x2 y2 …``, boxed by its extent. An
empty (or missing) label file is an image with no objects. Class names come from
``classes.txt`` (one per line) or ``data.yaml`` (``names``: a list or an id → name map).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from sitewatch.errors import BadInputError
from sitewatch.formats.annotations import AnnotatedSet, BoxRecord, ImageMeta, read_text
from sitewatch.values import load_yaml, read_document

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
# YOLO tools write coordinates a hair outside 0…1 for boxes touching the edge
TOLERANCE = 0.01


def yolo_names(folder: Path) -> list[str]:
    """Class names by id from ``classes.txt`` or ``data.yaml``."""
    txt = folder / "classes.txt"
    if txt.is_file():
        names = [n.strip() for n in read_text(txt, "class list").splitlines()]
        while names and not names[-1]:
            names.pop()
        if not names:
            raise BadInputError(txt, "no class names: write one class name per line")
        for line_no, name in enumerate(names, 1):
            if not name:
                raise BadInputError(
                    txt, f"line {line_no} is empty: one class name per line, none empty"
                )
        return names
    yaml = folder / "data.yaml"
    if yaml.is_file():
        data = load_yaml(read_document(yaml, "YOLO data.yaml"), yaml, "YOLO data.yaml")
        raw = data.get("names") if isinstance(data, dict) else None
        if isinstance(raw, list) and all(isinstance(n, str) for n in raw):
            return list(raw)
        if isinstance(raw, dict):
            try:
                ids = {int(k): str(v) for k, v in raw.items()}
            except (TypeError, ValueError):
                ids = {}
            if ids and sorted(ids) == list(range(len(ids))):
                return [ids[i] for i in range(len(ids))]
        raise BadInputError(yaml, "'names' must be a list of class names or a map 0…n-1 → name")
    raise BadInputError(folder, "no class names: add classes.txt (one name per line) or data.yaml")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) read from the file header only."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # only the size is read, never the pixels
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
    except Image.DecompressionBombError as exc:
        # Pillow refuses before it tells the width and height; its message has the pixel count
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(claimed[1]):,} pixels" if claimed else "too many pixels"
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise BadInputError(
            path,
            f"the image header claims {size}, more than the {limit:,} Pillow opens "
            "(a decompression bomb, or a scene to cut into tiles)",
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        raise BadInputError(path, f"cannot read the image size ({exc})") from None
    if width <= 0 or height <= 0:
        raise BadInputError(path, f"the image header claims {width}×{height} pixels")
    return width, height


def read_yolo(folder: Path) -> AnnotatedSet:
    """Every image under ``folder/images`` with its boxes from ``folder/labels``."""
    images_dir, labels_dir = folder / "images", folder / "labels"
    if not images_dir.is_dir() or not labels_dir.is_dir():
        raise BadInputError(folder, "a YOLO dataset needs images/ and labels/ folders")
    names = yolo_names(folder)
    files = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BadInputError(images_dir, f"no images ({', '.join(IMAGE_SUFFIXES)})")
    stems = {p.stem for p in files}
    out = AnnotatedSet({}, [])
    for orphan in sorted(p for p in labels_dir.glob("*.txt") if p.stem not in stems):
        out.skip(f"label file without an image ({orphan.name})")
    for image in files:
        width, height = image_size(image)
        out.images[image.name] = ImageMeta(image.name, width, height)
        label = labels_dir / f"{image.stem}.txt"
        if not label.is_file():
            continue  # YOLO's convention: no label file, no objects
        for line_no, line in enumerate(read_text(label, "label file").splitlines(), 1):
            if not line.strip():
                continue
            out.boxes.append(_box(label, line_no, line, names, image.name, width, height))
    return out


def _box(
    label: Path, line_no: int, line: str, names: list[str], file_name: str, w: int, h: int
) -> BoxRecord:
    where = f"line {line_no}"
    parts = line.split()
    try:
        cls = int(parts[0])
        values = [float(v) for v in parts[1:]]
    except (ValueError, IndexError):
        raise BadInputError(label, f"{where}: {line.strip()!r} is not 'class cx cy w h'") from None
    if not 0 <= cls < len(names):
        raise BadInputError(label, f"{where}: class {cls} is not in the {len(names)} class names")
    if len(values) == 4:
        cx, cy, bw, bh = values
        x0, y0, x1, y1 = cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2
    elif len(values) >= 6 and len(values) % 2 == 0:  # segmentation polygon
        xs, ys = values[0::2], values[1::2]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    else:
        raise BadInputError(label, f"{where}: expected 4 numbers (or a polygon), got {len(values)}")
    if not all(-TOLERANCE <= v <= 1 + TOLERANCE for v in (x0, y0, x1, y1)):
        raise BadInputError(
            label, f"{where}: coordinates must be normalised to 0…1 (got {line.strip()!r})"
        )
    if x1 <= x0 or y1 <= y0:
        raise BadInputError(label, f"{where}: the box has no area ({line.strip()!r})")
    return BoxRecord(
        file_name,
        names[cls],
        _unit(x0) * w,
        _unit(y0) * h,
        _unit(x1) * w,
        _unit(y1) * h,
        f"{label.name}:{line_no}",
    )


def _unit(v: float) -> float:
    return min(max(v, 0.0), 1.0)
