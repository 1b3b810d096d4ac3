"""Before/after figures: two dates of the site side by side in the site frame, detections
outlined (departed red on the earlier image, appeared green on the later one, stayed grey),
and the zoomed chips monitoring wrote for each changed object."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw
from sqlalchemy import select

from sitewatch.errors import BadInputError
from sitewatch.frame import project, warp
from sitewatch.register.georef import footprint_in
from sitewatch.register.site import frame_matrix, registrations, site_polygon
from sitewatch.scene import open_scaled
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import (
    ChangeKind,
    ChangePair,
    Detection,
    Image,
    ObjectChange,
    RegistrationStatus,
)

COLOURS = {"departed": (230, 60, 50), "appeared": (40, 200, 60), "stayed": (210, 210, 210)}


@dataclass(frozen=True)
class PairFigure:
    before: str  # sha256
    after: str
    before_jpeg: bytes  # the site frame as seen on each date, outlines drawn
    after_jpeg: bytes
    chips: list[tuple[str, bytes]]  # (kind, PNG before|after) per changed object


def pair_figure(
    catalog: Catalog, site_name: str, before: str, after: str, width: int = 560, chips: int = 8
) -> PairFigure:
    """The two images of a consecutive pair in the site frame, at ``width`` pixels each."""
    with catalog.session() as s:
        site = catalog.get_site(s, site_name)
        ref = site.reference_image
        if ref is None:  # pairs come from monitoring, which needs the site registered
            raise BadInputError(
                site.name,
                "the site has not been registered",
                f"run `sitewatch register {site.name}` first",
            )
        regs = registrations(s, site)
        images = {sha: catalog.find_image(s, sha) for sha in (before, after)}
        rows = s.scalars(
            select(ObjectChange)
            .where(
                ObjectChange.site_id == site.id,
                ObjectChange.before_image_id == images[before].id,
                ObjectChange.after_image_id == images[after].id,
            )
            .order_by(ObjectChange.id)
        ).all()
        ids = {r.before_detection_id for r in rows} | {r.after_detection_id for r in rows}
        boxes = {
            d.id: (d.x0, d.y0, d.x1, d.y1)
            for d in s.scalars(select(Detection).where(Detection.id.in_(ids - {None})))
        }
        marks: dict[str, list[tuple[str, tuple[float, ...]]]] = {before: [], after: []}
        for r in rows:
            if r.before_detection_id in boxes:
                marks[before].append((r.kind, boxes[r.before_detection_id]))
            if r.after_detection_id in boxes:
                marks[after].append((r.kind, boxes[r.after_detection_id]))
        changed = [
            (r.kind, r.chip_path) for r in rows if r.kind != ChangeKind.STAYED and r.chip_path
        ]
        k, size = _view_scale(ref, width)
        views = {}
        for sha, image in images.items():
            matrix = np.diag([k, k, 1.0]) @ frame_matrix(regs[image.id])
            views[sha] = _jpeg(_outlined(_view(catalog.readable_path(image), matrix, size, k),
                                         matrix, marks[sha]))  # fmt: skip
        chip_files = [
            (kind, (catalog.workspace / path).read_bytes())
            for kind, path in changed[:chips]
            if (catalog.workspace / path).is_file()
        ]
    return PairFigure(before, after, views[before], views[after], chip_files)


# pixel change: what left drawn on the earlier date, what came on the later, altered on both
CHANGE_COLOURS = {"removed": (230, 60, 50), "appeared": (40, 200, 60), "altered": (255, 150, 0)}


@dataclass(frozen=True)
class ChangeFigure:
    before: str  # sha256
    after: str
    before_jpeg: bytes  # the site frame on each date, the changed regions outlined
    after_jpeg: bytes


def change_figure(
    catalog: Catalog, site_name: str, before: str, after: str, width: int = 560
) -> ChangeFigure:
    """Two dates of the site frame with the stored pixel change between them outlined:
    removed (red) on the earlier, appeared (green) on the later, altered (orange) on both."""
    import shapely

    with catalog.session() as s:
        site = catalog.get_site(s, site_name)
        ref = site.reference_image
        if ref is None:  # change is stored only for registered sites
            raise BadInputError(site.name, "the site has not been registered",
                                f"run `sitewatch register {site.name}` first")  # fmt: skip
        regs = registrations(s, site)
        images = {sha: catalog.find_image(s, sha) for sha in (before, after)}
        pair = s.scalars(
            select(ChangePair).where(
                ChangePair.site_id == site.id,
                ChangePair.before_image_id == images[before].id,
                ChangePair.after_image_id == images[after].id,
            )
        ).first()
        regions = [(r.kind, shapely.from_wkt(r.frame_wkt)) for r in pair.regions] if pair else []
        k, size = _view_scale(ref, width)
        views = {}
        for sha, kinds in ((before, ("removed", "altered")), (after, ("appeared", "altered"))):
            image = images[sha]
            matrix = np.diag([k, k, 1.0]) @ frame_matrix(regs[image.id])
            img = PILImage.fromarray(_view(catalog.readable_path(image), matrix, size, k))
            draw = ImageDraw.Draw(img)
            for kind, shape in regions:
                if kind in kinds:
                    for poly in getattr(shape, "geoms", [shape]):
                        ring = np.asarray(poly.exterior.coords, float) * k
                        draw.line([tuple(map(float, q)) for q in ring],
                                  fill=CHANGE_COLOURS[kind], width=2)  # fmt: skip
            views[sha] = _jpeg(img)
    return ChangeFigure(before, after, views[before], views[after])


def site_view(catalog: Catalog, site_name: str, width: int = 760) -> bytes | None:
    """The reference image with the site's area (yellow) and where every registered image
    lies (cyan, numbered in date order): what each date could and could not see.
    None until the site has a reference frame."""
    with catalog.session() as s:
        site = catalog.get_site(s, site_name)
        ref = site.reference_image
        if ref is None:
            return None
        regs = registrations(s, site)
        k, size = _view_scale(ref, width)
        scale = np.diag([k, k, 1.0])
        img = PILImage.fromarray(_view(catalog.readable_path(ref), scale, size, k))
        draw = ImageDraw.Draw(img)
        dated = sorted(
            (ln.image for ln in site.image_links if ln.image.id in regs),
            key=lambda im: (im.acquired_at is None, im.acquired_at or im.ingested_at),
        )
        for i, image in enumerate(dated, start=1):
            reg = regs[image.id]
            if reg.status != RegistrationStatus.OK:
                continue
            outline = footprint_in((image.width, image.height), scale @ frame_matrix(reg))
            pts = [tuple(map(float, p)) for p in outline.exterior.coords]
            draw.line(pts, fill=(60, 220, 255), width=2)
            x, y = outline.representative_point().coords[0]
            draw.text((x, y), str(i), fill=(60, 220, 255))
        area = site_polygon(site, ref)
        for poly in getattr(area, "geoms", [area]):
            pts = [tuple(map(float, p)) for p in project(scale, np.array(poly.exterior.coords))]
            draw.line(pts, fill=(255, 215, 0), width=3)
    return _jpeg(img)


def _view_scale(reference: Image, width: int) -> tuple[float, tuple[int, int]]:
    """View pixels per frame pixel, and the view's size, for a view ``width`` wide."""
    k = width / reference.width
    return k, (width, max(1, round(reference.height * k)))


def _view(path: Path, matrix: np.ndarray, size: tuple[int, int], k: float) -> np.ndarray:
    """The image resampled into ``size`` through ``matrix`` (image px → view px)."""
    scene = open_scaled(path, min(1.0, 2 * k))  # read at about twice the view's resolution
    try:
        pixels = scene.read(0, 0, scene.width, scene.height)
        s = scene.scale
    finally:
        scene.close()
    return warp(pixels, matrix @ np.diag([1 / s, 1 / s, 1.0]), size)


def _outlined(
    pixels: np.ndarray, matrix: np.ndarray, marks: list[tuple[str, tuple[float, ...]]]
) -> PILImage.Image:
    img = PILImage.fromarray(pixels)
    draw = ImageDraw.Draw(img)
    for kind in ("stayed", "departed", "appeared"):  # changes drawn on top
        for mark_kind, (x0, y0, x1, y1) in marks:
            if mark_kind != kind:
                continue
            corners = project(matrix, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float))
            pts = [tuple(map(float, p)) for p in corners]
            draw.polygon(pts, outline=COLOURS[kind], width=2 if kind != "stayed" else 1)
    return img


def _jpeg(img: PILImage.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=82)
    return buf.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    """Bytes as a data: URI, so the HTML needs no other file."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
