"""A site's map layers: its area, image footprints, detections and object changes."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch import geo
from sitewatch.classes import canonical
from sitewatch.dates import iso
from sitewatch.export.placement import Placement, of_image, own
from sitewatch.formats import Field, FieldType, Layer
from sitewatch.register import site_polygon
from sitewatch.store.catalog import (
    Catalog,
    image_runs,
    select_detect_runs,
    selected_detections,
)
from sitewatch.store.models import Image, ImageSite, ObjectChange, Run, Site

S, R, B = FieldType.STRING, FieldType.REAL, FieldType.BOOLEAN
ACQUIRED = Field("acquired", S, "acquisition time, ISO 8601 UTC")
ILLUSTRATIVE = Field(
    "date_illustrative", B, "true: the acquisition date is illustrative, not the real one"
)
IMAGE = (Field("site", S), Field("image", S, "original file name"),
         Field("sha256", S, "SHA-256 of the image file"), ACQUIRED, ILLUSTRATIVE)  # fmt: skip
PLACED = Field("placed_by", S, "how pixels were put on the map")

DETECTION_FIELDS = (
    *IMAGE,
    Field("class", S, "canonical class name"),
    Field("score", R, "detector confidence, 0–1"),
    Field("x0_px", R, "box left, image pixels"),
    Field("y0_px", R, "box top, image pixels"),
    Field("x1_px", R, "box right, image pixels"),
    Field("y1_px", R, "box bottom, image pixels"),
    Field("model", S, "detector that found it: name and version (+ file hash)"),
    PLACED,
)
FOOTPRINT_FIELDS = (
    *IMAGE,
    Field("provider", S),
    Field("licence", S),
    Field("credit", S),
    Field("gsd_m", R, "ground sample distance, metres per pixel"),
    Field("coverage", R, "fraction of the site area imaged, 0–1"),
    PLACED,
)
SITE_FIELDS = (
    Field("site", S),
    Field("kind", S, "geo: a map area; frame: pixels of a reference image"),
    Field("reference_sha256", S, "SHA-256 of the frame's reference image"),
    Field("area_km2", R, "area in square kilometres"),
)
CHANGE_FIELDS = (
    Field("site", S),
    Field("kind", S, "appeared, departed or stayed"),
    Field("class", S, "canonical class name"),
    Field("before_image", S),
    Field("before_sha256", S),
    Field("before_acquired", S, "ISO 8601 UTC"),
    Field("after_image", S),
    Field("after_sha256", S),
    Field("after_acquired", S, "ISO 8601 UTC"),
    ILLUSTRATIVE,
    Field("moved_m", R, "centre shift of a stayed object, metres"),
    Field("frame_x_px", R, "centre, site-frame pixels"),
    Field("frame_y_px", R, "centre, site-frame pixels"),
)
LAYER_NAMES = ("site", "footprints", "detections", "changes")


def detection_layer(title: str = "Detections at each image's operating threshold") -> Layer:
    return Layer("detections", title, DETECTION_FIELDS)


def image_values(image: Image, site: str | None) -> dict[str, object]:
    return {
        "site": site,
        "image": image.original_name,
        "sha256": image.sha256,
        "acquired": iso(image.acquired_at) or None,
        "date_illustrative": bool(image.date_is_illustrative),
    }


class Boxed(Protocol):
    """A box in image pixels with a class (a stored detection or label, an export box)."""

    @property
    def class_name(self) -> str: ...
    @property
    def x0(self) -> float: ...
    @property
    def y0(self) -> float: ...
    @property
    def x1(self) -> float: ...
    @property
    def y1(self) -> float: ...


def add_detection(
    layer: Layer, image: Image, placed: Placement | None, d: Boxed, site: str | None,
    score: float | None, model: str | None = None,
) -> None:  # fmt: skip
    """One detection (or label: no score, no model) as a feature, on the map when
    ``placed``."""
    layer.add(
        placed.box(d.x0, d.y0, d.x1, d.y1) if placed is not None else None,
        **image_values(image, site),  # type: ignore[arg-type]
        **{"class": canonical(d.class_name)},
        score=score,
        x0_px=round(d.x0, 2),
        y0_px=round(d.y0, 2),
        x1_px=round(d.x1, 2),
        y1_px=round(d.y1, 2),
        model=model,
        placed_by=placed.how if placed is not None else None,
    )


def model_label(run: Run) -> str:
    """How an export names the detector of a run: ``name version`` (the version carries the
    file's hash, so two files under one name are told apart)."""
    return f"{run.method} {run.version}"


def site_layers(catalog: Catalog, name: str, only: set[str] | None = None) -> list[Layer]:
    """The site's layers (all of ``LAYER_NAMES``, or those in ``only``), in that order."""
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        images = s.scalars(select(Image).join(ImageSite).where(ImageSite.site_id == site.id)).all()
        images = sorted(images, key=lambda im: (im.acquired_at is None, im.acquired_at, im.id))
        wanted = [n for n in LAYER_NAMES if only is None or n in only]
        # placements (a registration query per image) only for the layers that place images
        places = (
            {im.id: of_image(s, im, site) for im in images}
            if {"footprints", "detections"} & set(wanted)
            else {}
        )
        build = {
            "site": lambda: _site_layer(site),
            "footprints": lambda: _footprints(s, site, images, places),
            "detections": lambda: _detections(s, site, images, places),
            "changes": lambda: _changes(s, site),
        }
        return [build[n]() for n in wanted]


def _site_layer(site: Site) -> Layer:
    layer = Layer("site", "The site's area", SITE_FIELDS)
    ref = site.reference_image
    area = None
    if site.aoi_wgs84_wkt:
        area = geo.lonlat_polygons(geo.load_wkt(site.aoi_wgs84_wkt))
    elif ref is not None and (placed := own(ref)) is not None:
        area = placed.area(site_polygon(site, ref))
    values = {
        "site": site.name,
        "kind": site.kind,
        "reference_sha256": ref.sha256 if ref is not None else None,
        "area_km2": round(geo.area_m2(area) / 1e6, 6) if area is not None else None,
    }
    layer.add(area, **values)
    return layer


def _footprints(
    s: Session, site: Site, images: list[Image], places: dict[int, Placement | None]
) -> Layer:
    layer = Layer("footprints", "What each image covers", FOOTPRINT_FIELDS)
    coverage = {
        link.image_id: link.coverage
        for link in s.scalars(select(ImageSite).where(ImageSite.site_id == site.id))
    }
    for im in images:
        placed = places[im.id]
        if im.footprint_wgs84_wkt:
            shape = geo.lonlat_polygons(geo.load_wkt(im.footprint_wgs84_wkt))
        elif placed is not None:
            shape = placed.area(geo.image_box(im.width, im.height))
        else:
            shape = None
        layer.add(
            shape,
            **image_values(im, site.name),  # type: ignore[arg-type]
            provider=im.provider,
            licence=im.licence,
            credit=im.credit,
            gsd_m=round(im.gsd_m, 4) if im.gsd_m else None,
            coverage=None if (seen := coverage.get(im.id)) is None else round(seen, 4),
            placed_by=placed.how if placed is not None else None,
        )
    return layer


def _detections(
    s: Session, site: Site, images: list[Image], places: dict[int, Placement | None]
) -> Layer:
    """Each image's counted detections: every class from the run of the model that gives the
    site's series of that class, at that class's operating threshold."""
    layer = detection_layer()
    selection = select_detect_runs(s, [im.id for im in images])
    for im in images:
        runs = image_runs(selection, im.id)
        by_run = {run.id: model_label(run) for run in runs.values()}
        rows = selected_detections(s, runs)
        for d in sorted(rows, key=lambda d: (-d.score, d.id)):
            add_detection(
                layer, im, places[im.id], d, site.name, round(d.score, 4), by_run.get(d.run_id)
            )
    return layer


def _changes(s: Session, site: Site) -> Layer:
    layer = Layer(
        "changes", "Objects that appeared, departed or stayed between dates", CHANGE_FIELDS,
        shape="Point",
    )  # fmt: skip
    ref = site.reference_image
    placed = own(ref) if ref is not None else None
    rows = s.scalars(
        select(ObjectChange).where(ObjectChange.site_id == site.id).order_by(ObjectChange.id)
    ).all()
    for c in rows:
        before, after = s.get(Image, c.before_image_id), s.get(Image, c.after_image_id)
        assert before is not None and after is not None  # foreign keys
        layer.add(
            placed.point(c.x, c.y) if placed is not None else None,
            site=site.name,
            kind=c.kind,
            **{"class": canonical(c.class_name)},
            before_image=before.original_name,
            before_sha256=before.sha256,
            before_acquired=iso(before.acquired_at) or None,
            after_image=after.original_name,
            after_sha256=after.sha256,
            after_acquired=iso(after.acquired_at) or None,
            date_illustrative=bool(before.date_is_illustrative or after.date_is_illustrative),
            moved_m=round(c.distance_m, 2) if c.distance_m is not None else None,
            frame_x_px=round(c.x, 2),
            frame_y_px=round(c.y, 2),
        )
    return layer
