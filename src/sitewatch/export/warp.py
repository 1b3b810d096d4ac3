"""A registered image resampled onto its site frame's map grid, as a Cloud-Optimized GeoTIFF:
a news JPEG, once registered, opens in QGIS or gdalwarp where it belongs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sitewatch import geo
from sitewatch.errors import BadInputError, ConflictError, MissingDependencyError
from sitewatch.export.placement import own
from sitewatch.files import write_with_atomic
from sitewatch.register import image_to_frame, registrations
from sitewatch.store.catalog import Catalog

MAX_SIDE = 32_768  # frame pixels per side of the output; beyond it the frame is mis-fit


@dataclass(frozen=True)
class WarpSummary:
    path: Path
    width: int
    height: int
    crs: str
    residual_px: float | None


def export_registered(catalog: Catalog, site: str, image_ref: str, out: str | Path) -> WarpSummary:
    """Resample ``image_ref`` (a SHA-256 prefix or file) through its registration into the
    frame of ``site``, at the reference image's pixel size, and write a COG (RGB + alpha:
    transparent where the image has no pixels) in the reference's CRS."""
    out = catalog.output(out)
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise BadInputError(out, "a registered image is written as GeoTIFF", "name it *.tif")
    with catalog.session() as s:
        site_row = catalog.get_site(s, site)
        image = catalog.find_image(s, image_ref)
        ref = site_row.reference_image
        if ref is None or own(ref) is None:
            raise ConflictError(
                f"site {site!r} has no georeferenced frame: its reference image has no map "
                "coordinates, so a registered image cannot be placed on a map"
            )
        h = image_to_frame(s, site_row, image)
        row = registrations(s, site_row).get(image.id)
        if h is None:
            why = row.reason if row is not None and row.reason else "not registered"
            raise ConflictError(
                f"image {image.sha256[:12]} is not registered to site {site!r} ({why}); "
                f"run `sitewatch register {site}` first"
            )
        residual = 0.0 if image.id == ref.id else row.rmse_px if row is not None else None
        path = catalog.readable_path(image)
        width, height, sha = image.width, image.height, image.sha256
        assert ref.transform is not None and ref.crs_wkt is not None  # own(ref) checked both
        ref_transform, ref_crs = list(ref.transform), ref.crs_wkt
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], float)
    from sitewatch.frame import project, warp

    frame = project(h, corners)
    x0, y0 = np.floor(frame.min(axis=0)).astype(int)
    x1, y1 = np.ceil(frame.max(axis=0)).astype(int)
    w, hh = int(x1 - x0), int(y1 - y0)
    if not (0 < w <= MAX_SIDE and 0 < hh <= MAX_SIDE):
        raise ConflictError(f"the registration maps the image to {w}×{hh} frame pixels: refit it")
    from sitewatch.scene import open_scaled

    scene = open_scaled(path, 1.0)
    try:
        rgb = scene.read(0, 0, scene.width, scene.height)
    finally:
        scene.close()
    shift = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]])
    to_out = shift @ h
    pixels = warp(rgb, to_out, (w, hh))
    alpha = warp(np.full((height, width), 255, np.uint8), to_out, (w, hh))
    alpha = np.where(alpha >= 128, 255, 0).astype(np.uint8)
    transform = geo.grid_transform(ref_transform, x0, y0)

    def write(tmp: Path) -> None:
        try:
            import rasterio
            from affine import Affine
            from rasterio.crs import CRS
        except ImportError as exc:  # pragma: no cover - rasterio is a core dependency
            raise MissingDependencyError(
                "GeoTIFF export", str(exc), "pip install rasterio"
            ) from None
        profile = {
            "driver": "COG", "width": w, "height": hh, "count": 4, "dtype": "uint8",
            "crs": CRS.from_wkt(ref_crs), "transform": Affine(*transform),
            "compress": "deflate",
        }  # fmt: skip
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(np.moveaxis(pixels, -1, 0), [1, 2, 3])
            dst.write(alpha, 4)
            ci = rasterio.enums.ColorInterp
            dst.colorinterp = [ci.red, ci.green, ci.blue, ci.alpha]
            dst.update_tags(
                SITEWATCH_SITE=site,
                SITEWATCH_IMAGE_SHA256=sha,
                SITEWATCH_REGISTRATION_RESIDUAL_PX="" if residual is None else f"{residual:.2f}",
            )

    write_with_atomic(out, write)
    return WarpSummary(out, w, hh, crs_name(ref_crs), residual)


def crs_name(wkt: str) -> str:
    from pyproj import CRS

    crs = CRS.from_wkt(wkt)
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name
