"""Training datasets in the formats the field uses, as samples with classes, places and GSD.

``read_dataset`` finds the labels of a dataset folder by format; ``samples`` maps its
classes onto the model's, says where each image was taken (the ``--split-by`` field, so
validation holds out whole places) and at what GSD. Layouts:

- ``airbus-csv``: ``annotations.csv``, ``images/``, optional ``sites.csv`` (``site_id``…)
- ``coco``: ``annotations.json`` (or the only ``*.json``), images in ``images/`` or beside
- ``yolo``: ``images/``, ``labels/``, ``classes.txt`` or ``data.yaml``
- ``dota``: ``images/``, ``labelTxt/`` (``gsd:`` header lines give the GSD)
- ``xview``: the only ``*.geojson``, chips in ``images/`` or ``train_images/``

Any format may add ``images.csv`` (an ``image`` column, then any fields: ``city``,
``site``, ``gsd_m``…) to describe its images.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sitewatch.boxes import duplicate_of
from sitewatch.classes import canonical
from sitewatch.errors import BadInputError
from sitewatch.formats.annotations import (
    AnnotatedSet,
    ImageMeta,
    read_airbus_csv,
    read_coco_set,
)
from sitewatch.formats.dota import read_dota
from sitewatch.formats.xview import read_xview
from sitewatch.formats.yolo import read_yolo

FORMATS = ("airbus-csv", "coco", "yolo", "dota", "xview")
CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # also a file-name part
GSD_RANGE_M = (0.01, 1000.0)  # 1 cm (drone) … 1 km per pixel
IMAGE_GROUP = "image"  # --split-by image: every image is its own place


@dataclass(frozen=True)
class ClassMap:
    """The model's classes and the dataset names each is made of.

    ``"car,truck"`` trains two classes; ``"vehicle=car+truck+bus"`` merges several source
    classes into one. A source name matches by its own name or its canonical one, so
    ``aircraft`` takes Airbus ``Airplane`` and ``Truncated_airplane``."""

    classes: tuple[str, ...]
    sources: tuple[frozenset[str], ...]

    @classmethod
    def parse(cls, spec: str) -> ClassMap:
        classes: list[str] = []
        sources: list[frozenset[str]] = []
        owner: dict[str, str] = {}  # each source name (and canonical name) → its class
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, merged, members = part.partition("=")
            name = name.strip()
            names = [m.strip().lower() for m in (members if merged else name).split("+")]
            if not CLASS_NAME.fullmatch(name) or not all(names):
                raise BadInputError(
                    "--classes",
                    f"{part!r} is not NAME or NAME=SOURCE+SOURCE (names: letters, digits, "
                    "'_', '-', '.', at most 64)",
                )
            if name.lower() in (c.lower() for c in classes):
                raise BadInputError("--classes", f"class {name!r} is named twice")
            for source in names:
                # a name must lead to one class: `car,vehicle` would send every car (whose
                # canonical class is vehicle) to the first and leave the second empty
                for key in {source, canonical(source)}:
                    if key in owner and owner[key] != name:
                        raise BadInputError(
                            "--classes",
                            f"{source!r} would belong to both {owner[key]!r} and {name!r}",
                            "merge them into one class (e.g. vehicle=car+truck)",
                        )
                    owner[key] = name
            classes.append(name)
            sources.append(frozenset(names))
        if not classes:
            raise BadInputError("--classes", "name at least one class (e.g. car,truck)")
        return cls(tuple(classes), tuple(sources))

    def index(self, source_name: str) -> int | None:
        """The model class a dataset class name belongs to, or None (not trained on): its
        own name first, then its canonical class (``Airplane`` → ``aircraft``)."""
        raw, canon = source_name.strip().lower(), canonical(source_name)
        for i, names in enumerate(self.sources):
            if raw in names:
                return i
        for i, names in enumerate(self.sources):
            if canon in {canonical(n) for n in names}:
                return i
        return None

    def spec(self) -> str:
        return ",".join(
            c if s == {c.lower()} else f"{c}={'+'.join(sorted(s))}"
            for c, s in zip(self.classes, self.sources, strict=True)
        )


@dataclass
class Sample:
    """One training image: boxes (N, 4) in its pixels, model class per box, ignore boxes."""

    file_name: str
    path: Path
    group: str
    gsd_m: float
    boxes: np.ndarray
    classes: np.ndarray
    ignore: np.ndarray


def _one(folder: Path, pattern: str, what: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise BadInputError(
            folder, f"expected one {what} ({pattern}), found {len(found)}: name it so"
        )
    return found[0]


def read_dataset(data: Path, fmt: str) -> tuple[AnnotatedSet, Path]:
    """The labels of a dataset folder and the folder its images are in."""
    if fmt not in FORMATS:
        raise BadInputError(fmt, "unknown dataset format", f"use one of {', '.join(FORMATS)}")
    if not data.is_dir():
        raise BadInputError(data, "dataset folder does not exist")
    images = data / "images"
    if fmt == "airbus-csv":
        labels = read_airbus_csv(data / "annotations.csv")
        found = AnnotatedSet({r.file_name: ImageMeta(r.file_name) for r in labels}, labels)
        sites = data / "sites.csv"
        if sites.is_file():  # the annotated images, with their airport, boxes or not
            for row in _csv_rows(sites):
                if row.get("annotated", "1") == "1" and row.get("image_id"):
                    meta = found.images.setdefault(row["image_id"], ImageMeta(row["image_id"]))
                    meta.fields |= {k: v for k, v in row.items() if k != "image_id"}
    elif fmt == "coco":
        path = data / "annotations.json"
        found = read_coco_set(path if path.is_file() else _one(data, "*.json", "COCO JSON"))
        images = images if images.is_dir() else data
    elif fmt == "yolo":
        found = read_yolo(data)
    elif fmt == "dota":
        found = read_dota(data)
    else:
        found = read_xview(_one(data, "*.geojson", "xView GeoJSON"))
        images = images if images.is_dir() else data / "train_images"
    extra = data / "images.csv"
    if extra.is_file():
        for row in _csv_rows(extra):
            described = found.images.get(row.get("image", ""))
            if described is not None:
                described.fields |= {k: v for k, v in row.items() if k != "image" and v is not None}
    return found, images


def _csv_rows(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(path, f"not a readable UTF-8 CSV ({exc})") from None


def _gsd(meta: ImageMeta, default: float | None) -> float | None:
    if meta.gsd_m:
        return meta.gsd_m
    for key in ("gsd_m", "gsd"):
        try:
            value = float(meta.fields.get(key, ""))
        except ValueError:
            continue
        if math.isfinite(value) and value > 0:
            return value
    return default


def samples(
    data: Path, fmt: str, classes: ClassMap, split_by: str, source_gsd: float | None = None
) -> tuple[list[Sample], dict[str, int]]:
    """Every annotated image as a sample, and counts of what was left out (by reason)."""
    found, images_dir = read_dataset(data, fmt)
    skipped = dict(found.skipped)

    def skip(reason: str, n: int = 1) -> None:
        skipped[reason] = skipped.get(reason, 0) + n

    by_image: dict[str, list] = {name: [] for name in found.images}
    for rec in found.boxes:
        by_image.setdefault(rec.file_name, []).append(rec)
    missing_group = [
        n for n, m in found.images.items() if split_by != IMAGE_GROUP and not m.fields.get(split_by)
    ]
    if missing_group:
        raise BadInputError(
            data,
            f"{len(missing_group)} image(s) have no '{split_by}' field (e.g. {missing_group[0]})",
            "name the field that says where each image was taken with --split-by, add it in "
            "images.csv, or pass --split-by image if every image shows a different place",
        )
    out = []
    for name in sorted(by_image):
        meta = found.images.get(name, ImageMeta(name))
        path = images_dir / name
        if not path.is_file():
            skip(f"image file missing ({name})")
            continue
        gsd = _gsd(meta, source_gsd)
        if gsd is None:
            raise BadInputError(
                path, "the GSD of this image is unknown", "pass --source-gsd (metres per pixel)"
            )
        if not GSD_RANGE_M[0] <= gsd <= GSD_RANGE_M[1]:
            raise BadInputError(path, f"GSD {gsd} m is not in {GSD_RANGE_M[0]}…{GSD_RANGE_M[1]} m")
        keep, cls, ignore = [], [], []
        for rec in by_image[name]:
            box = (rec.x0, rec.y0, rec.x1, rec.y1)
            i = classes.index(rec.class_name)
            if i is None:  # not trained: background, even where it is hard to see
                skip(f"class not trained ({rec.class_name})")
            elif rec.difficult:
                ignore.append(box)
            else:
                keep.append(box)
                cls.append(i)
        boxes = np.asarray(keep, np.float32).reshape(-1, 4)
        labels = np.asarray(cls, np.int64)
        unique = duplicate_of(boxes) == -1  # the same object labelled twice trains once
        if not unique.all():
            skip("duplicate box", int((~unique).sum()))
            boxes, labels = boxes[unique], labels[unique]
        group = name if split_by == IMAGE_GROUP else meta.fields[split_by]
        out.append(
            Sample(
                name, path, group, gsd, boxes, labels, np.asarray(ignore, np.float32).reshape(-1, 4)
            )
        )
    if not out:
        raise BadInputError(data, "no annotated image with its file was found")
    return out, skipped
