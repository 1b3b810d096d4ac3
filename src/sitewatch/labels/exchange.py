"""Import ground-truth labels into the catalog and export boxes as COCO or GeoJSON."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from sqlalchemy import select

from sitewatch.boxes import ImageBox, duplicate_of
from sitewatch.errors import BadInputError, ConflictError, DatasetNotFoundError, NotFoundError
from sitewatch.export import ExportSummary, export_boxes
from sitewatch.formats.annotations import READERS, BoxRecord, detect_format
from sitewatch.hashing import sha256_file
from sitewatch.ingest import IngestOptions, IngestStatus, ingest
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Image, ImageSite, Label, LabelSet, Site


@dataclass
class LabelImport:
    name: str
    labels: int = 0
    images: int = 0
    clipped: int = 0
    duplicates: int = 0  # near-copies of another box (IoU ≥ 0.6): stored, flagged, not counted
    already_imported: bool = False
    failures: list[str] = field(default_factory=list)


def import_labels(
    catalog: Catalog,
    path: str | Path,
    images_dir: str | Path | None = None,
    name: str | None = None,
    fmt: Literal["airbus", "coco"] | None = None,
    options: IngestOptions | None = None,
) -> LabelImport:
    """Import an annotation file; images it names are ingested from ``images_dir`` if new.

    Images default to ``images/`` beside the file (else the file's own folder) and may be
    undated (labels serve training and evaluation). Boxes overhanging the image border are
    clipped to it and counted.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: annotation file does not exist")
    if images_dir is None:
        beside = path.parent / "images"
        images_dir = beside if beside.is_dir() else path.parent
    images_dir = Path(images_dir)
    kind = fmt or detect_format(path)
    records = READERS[kind](path)
    if not records:
        raise BadInputError(path, "no annotations in the file")
    name = name or path.stem
    digest = sha256_file(path)
    with catalog.session() as s:
        existing = s.scalar(select(LabelSet).where(LabelSet.name == name))
        if existing is not None:
            if existing.source_sha256 == digest:
                count = len(
                    s.scalars(select(Label.id).where(Label.label_set_id == existing.id)).all()
                )
                return LabelImport(name, labels=count, already_imported=True)
            raise ConflictError(
                f"label set {name!r} exists from another file; choose another --name"
            )
    by_file: dict[str, list[BoxRecord]] = defaultdict(list)
    for rec in records:
        by_file[rec.file_name].append(rec)
    missing = [f for f in by_file if not (images_dir / f).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{path}: {len(missing)} image(s) not found in {images_dir} (first: {missing[0]}); "
            "pass --images DIR"
        )
    opts = options or IngestOptions(allow_undated=True)
    report = ingest(catalog, [images_dir / f for f in by_file], opts)
    result = LabelImport(name, failures=[o.message for o in report.of(IngestStatus.FAILED)])
    sha_of = {o.path.name: o.sha256 for o in report.outcomes if o.sha256}
    with catalog.session() as s:
        label_set = LabelSet(
            name=name,
            format=kind,
            source_path=str(path.resolve()),
            source_sha256=digest,
            licence=opts.provenance.licence,
            credit=opts.provenance.credit,
        )
        s.add(label_set)
        for file_name, recs in by_file.items():
            if file_name not in sha_of:
                continue
            image = s.scalar(select(Image).where(Image.sha256 == sha_of[file_name]))
            assert image is not None  # ingest just stored (or found) it under this sha256
            result.images += 1
            clipped = []
            for rec in recs:
                x0, y0 = max(0.0, rec.x0), max(0.0, rec.y0)
                x1, y1 = min(float(image.width), rec.x1), min(float(image.height), rec.y1)
                if x1 <= x0 or y1 <= y0:
                    raise BadInputError(
                        path,
                        f"box {rec.source_id or ''} on {file_name} lies outside the "
                        f"{image.width}×{image.height} image or has no area",
                    )
                result.clipped += (x0, y0, x1, y1) != (rec.x0, rec.y0, rec.x1, rec.y1)
                clipped.append((x0, y0, x1, y1))
            duplicates = duplicate_of(np.asarray(clipped)) >= 0
            result.duplicates += int(duplicates.sum())
            for rec, (x0, y0, x1, y1), dup in zip(recs, clipped, duplicates, strict=True):
                s.add(
                    Label(
                        label_set=label_set,
                        image_id=image.id,
                        class_name=rec.class_name,
                        x0=x0,
                        y0=y0,
                        x1=x1,
                        y1=y1,
                        source_id=rec.source_id,
                        duplicate=bool(dup),
                    )
                )
                result.labels += 1
    return result


def _label_boxes(catalog: Catalog, label_set: str | None, site: str | None) -> list[ImageBox]:
    with catalog.session() as s:
        query = (
            select(Label, Image)
            .join(Image, Label.image_id == Image.id)
            .where(Label.duplicate.is_(False))
        )
        if label_set is not None:
            ls = s.scalar(select(LabelSet).where(LabelSet.name == label_set))
            if ls is None:
                raise NotFoundError(f"no label set named {label_set!r}")
            query = query.where(Label.label_set_id == ls.id)
        if site is not None:
            site_row: Site = catalog.get_site(s, site)
            query = query.join(ImageSite, ImageSite.image_id == Image.id).where(
                ImageSite.site_id == site_row.id
            )
        rows = s.execute(query.order_by(Image.id, Label.id)).all()
        return [
            ImageBox(img.id, lab.class_name, lab.x0, lab.y0, lab.x1, lab.y1) for lab, img in rows
        ]


def export_labels(
    catalog: Catalog,
    out: str | Path,
    fmt: str | None = None,
    label_set: str | None = None,
    site: str | None = None,
) -> tuple[int, ExportSummary | None]:
    """Write labels (optionally of one set and/or site) to ``out``, without the flagged
    near-duplicates: ``coco`` (a COCO dataset; the default for ``.json``), or geojson,
    gpkg, kml, kmz, csv (default: by suffix); returns the box count and, for map and table
    formats, what went on the map."""
    boxes = _label_boxes(catalog, label_set, site)
    summary = export_boxes(
        catalog, boxes, out, fmt, f"Labels {label_set or ''}".strip(), detections=False
    )
    return len(boxes), summary
