"""Register every image of a site into the site frame, chaining where direct matching fails.

The site frame is the pixel grid of the site's reference image: the one named with
``site add --reference`` for frame sites; for map sites, the image that covers most of the AOI
at the finest GSD, chosen once and kept so the frame never moves under stored results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch import __version__, geo
from sitewatch.errors import BadInputError
from sitewatch.frame import project, scaling, warp
from sitewatch.register import features as ft
from sitewatch.register.area import refine_by_windows
from sitewatch.register.georef import crs_homography, footprint_in, wgs84_to_pixels
from sitewatch.register.imagery import load_gray
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Image, Registration, RegistrationStatus, Site, SiteKind

METHOD = "sift-magsac"


@dataclass(frozen=True)
class RegisterConfig:
    """How images are registered to the site frame."""

    match: ft.MatchConfig = field(default_factory=ft.MatchConfig)
    min_overlap: float = 0.02  # below this fraction of the site polygon, the image is left out
    refine: bool = True  # refine map-based alignment of georeferenced images by image matching
    max_refine_shift_m: float = 40.0  # a larger correction means matching went wrong


@dataclass(frozen=True)
class ImageRegistration:
    """The outcome for one image (also stored as a ``Registration`` row)."""

    sha256: str
    name: str
    method: str
    status: str
    reason: str | None
    matrix: np.ndarray | None
    via: str | None = None
    matches: int = 0
    inliers: int = 0
    rmse_px: float | None = None
    shift_m: float | None = None
    overlap: float | None = None
    reused: bool = False

    @property
    def ok(self) -> bool:
        return self.status == RegistrationStatus.OK


@dataclass
class RegisterReport:
    site: str
    reference: str
    results: list[ImageRegistration]

    @property
    def failed(self) -> list[ImageRegistration]:
        return [r for r in self.results if not r.ok]


@dataclass
class _Work:
    """An image's working pixels and features, computed once per call."""

    image: Image
    path: str
    gray: np.ndarray
    scale: float
    features: ft.Features

    @property
    def to_working(self) -> np.ndarray:
        return scaling(self.scale)


def site_polygon(site: Site, reference: Image) -> BaseGeometry:
    """The site's area in frame pixels: its polygon, its AOI, or the whole reference image."""
    if site.frame_polygon_wkt:
        return geo.load_wkt(site.frame_polygon_wkt)
    if site.kind == SiteKind.GEO and site.aoi_wgs84_wkt and reference.georeferenced:
        return wgs84_to_pixels(geo.load_wkt(site.aoi_wgs84_wkt), reference).buffer(0)
    return geo.image_box(reference.width, reference.height)


def choose_reference(session: Session, site: Site) -> Image:
    """The site's reference image; for map sites without one, pick it and keep it."""
    if site.reference_image is not None:
        return site.reference_image
    links = [ln for ln in site.image_links if ln.image.georeferenced]
    if not links:
        raise BadInputError(
            site.name,
            "no georeferenced image is linked to this map site",
            "ingest imagery that covers the AOI (it links automatically)",
        )
    best = max(links, key=lambda ln: (round(ln.coverage or 0, 2), -(ln.image.gsd_m or 1e9)))
    site.reference_image = best.image
    session.flush()
    return best.image


def register_site(
    catalog: Catalog,
    name: str,
    *,
    force: bool = False,
    config: RegisterConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> RegisterReport:
    """Map every image linked to site ``name`` into its frame and store the transforms.

    Images registered before are kept unless ``force``. An image that cannot be registered
    (no overlap, too few consistent matches, degenerate fit) is stored as failed with the
    reason, so monitoring leaves it out visibly.
    """
    config = config or RegisterConfig()
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        count = len(site.image_links)
        if count < 2:
            raise BadInputError(
                name,
                f"site has {count} image(s); registration and monitoring need two or more",
                f"ingest more imagery with `sitewatch ingest FILES --site {name}`",
            )
        choose_reference(s, site)
    params = {"force": force, "config": asdict(config)}
    with catalog.run("register", METHOD, __version__, params) as run_id:
        return _register_all(catalog, name, run_id, force, config, progress)


def _register_all(
    catalog: Catalog,
    name: str,
    run_id: int,
    force: bool,
    config: RegisterConfig,
    progress: Callable[[str], None] | None,
) -> RegisterReport:
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        images = [ln.image for ln in site.image_links]
        reference = site.reference_image
        assert reference is not None  # register_site chose it (choose_reference) before the run
        polygon = site_polygon(site, reference)
        previous = registrations(s, site)
        images.sort(key=lambda im: (im.id != reference.id, im.acquired_at is None, im.id))
        cache: dict[int, _Work] = {}
        results: dict[int, ImageRegistration] = {}
        matrices: dict[int, np.ndarray] = {}
        for image in images:
            prior = previous.get(image.id)
            if prior is not None and prior.status == RegistrationStatus.OK and not force:
                results[image.id] = _from_row(prior)
                matrices[image.id] = frame_matrix(prior)
                continue
            if progress:
                progress(image.original_name)
            res = _register_one(catalog, image, reference, polygon, cache, config)
            results[image.id] = res
            if res.ok:
                assert res.matrix is not None  # an ok registration has its matrix (_finish)
                matrices[image.id] = res.matrix
        _chain_failures(catalog, images, reference, polygon, cache, config, results, matrices)
        for image in images:
            res = results[image.id]
            if res.reused:
                continue
            row = previous.get(image.id) or Registration(site_id=site.id, image_id=image.id)
            _fill(row, res, run_id, s)
            s.add(row)
        return RegisterReport(name, reference.sha256, [results[im.id] for im in images])


def _register_one(
    catalog: Catalog,
    image: Image,
    reference: Image,
    polygon: BaseGeometry,
    cache: dict[int, _Work],
    config: RegisterConfig,
) -> ImageRegistration:
    if image.id == reference.id:
        return _finish(image, polygon, config, "reference", np.eye(3), None, 0, 0, 0.0)
    if image.georeferenced and reference.georeferenced:
        return _register_by_map(catalog, image, reference, polygon, cache, config)
    fit = _match_pair(catalog, image, reference, cache, config)
    if not fit.ok:
        return _failed(image, "features", f"no match to the reference: {fit.reason}", fit)
    assert fit.matrix is not None  # fit.ok is exactly "has a matrix"
    return _finish(
        image, polygon, config, "features", fit.matrix, None, fit.matches, fit.inliers, fit.rmse
    )


def _register_by_map(
    catalog: Catalog,
    image: Image,
    reference: Image,
    polygon: BaseGeometry,
    cache: dict[int, _Work],
    config: RegisterConfig,
) -> ImageRegistration:
    try:
        h0, _residual = crs_homography(image, reference)
    except ValueError as exc:
        return _failed(image, "crs", str(exc), None)
    coarse = _finish(image, polygon, config, "crs", h0, None, 0, 0, None)
    if not config.refine or not coarse.ok:
        return coarse
    mov, ref = _work(catalog, image, cache, config), _work(catalog, reference, cache, config)
    # carry the moving image onto the reference's working grid, then match what is left
    to_ref_working = ref.to_working @ h0 @ np.linalg.inv(mov.to_working)
    warped = warp(mov.gray, to_ref_working, (ref.gray.shape[1], ref.gray.shape[0]))
    fit = ft.register(
        ft.extract(warped, config.match), ref.features, config.match, warped.shape, "affine"
    )
    method = "crs+features"
    if not fit.ok:  # features rarely survive large change; roads and edges usually do
        fit = refine_by_windows(warped, ref.gray)
        method = "crs+windows"
    if not fit.ok:
        return _with_reason(coarse, f"map alignment only: image refinement failed ({fit.reason})")
    assert fit.rmse is not None  # every fit with a matrix has its RMSE
    correction = np.linalg.inv(ref.to_working) @ fit.matrix @ ref.to_working
    # how far the correction moves the ground inside the site: the georeferencing error
    seen = polygon.intersection(footprint_in((image.width, image.height), h0))
    x0, y0, x1, y1 = seen.bounds
    probe = np.array([[x, y] for x in np.linspace(x0, x1, 5) for y in np.linspace(y0, y1, 5)])
    moved = np.linalg.norm(project(correction, probe) - probe, axis=1)
    shift = float(np.median(moved)) * (reference.gsd_m or 1.0)
    if shift > config.max_refine_shift_m:
        return _with_reason(
            coarse,
            f"map alignment only: image refinement wanted a {shift:.0f} m shift, more than "
            f"{config.max_refine_shift_m:.0f} m, so it was not trusted",
        )
    return _finish(
        image,
        polygon,
        config,
        method,
        correction @ h0,
        None,
        fit.matches,
        fit.inliers,
        fit.rmse / ref.scale,
        shift_m=shift,
    )


def _chain_failures(
    catalog: Catalog,
    images: list[Image],
    reference: Image,
    polygon: BaseGeometry,
    cache: dict[int, _Work],
    config: RegisterConfig,
    results: dict[int, ImageRegistration],
    matrices: dict[int, np.ndarray],
) -> None:
    """Images that do not match the reference try every registered image, until none gains."""
    by_id = {im.id: im for im in images}
    progress = True
    while progress:
        progress = False
        for image in images:
            res = results[image.id]
            # a map registration, or a fit that just misses the site, is no matching failure
            if res.ok or res.method == "crs" or res.matrix is not None:
                continue
            for hub_id, hub_matrix in list(matrices.items()):
                if hub_id == reference.id or hub_id == image.id:
                    continue
                fit = _match_pair(catalog, image, by_id[hub_id], cache, config)
                if not fit.ok:
                    continue
                chained = _finish(
                    image,
                    polygon,
                    config,
                    "chain",
                    hub_matrix @ fit.matrix,
                    by_id[hub_id].sha256,
                    fit.matches,
                    fit.inliers,
                    fit.rmse,
                )
                if chained.ok:
                    assert chained.matrix is not None  # an ok registration has its matrix
                    results[image.id] = chained
                    matrices[image.id] = chained.matrix
                    progress = True
                    break


def _match_pair(
    catalog: Catalog, moving: Image, fixed: Image, cache: dict[int, _Work], config: RegisterConfig
) -> ft.Fit:
    """Feature registration moving → fixed, with the matrix and RMSE in source pixels."""
    mov, fix = _work(catalog, moving, cache, config), _work(catalog, fixed, cache, config)
    fit = ft.register(mov.features, fix.features, config.match, mov.gray.shape)
    if not fit.ok:
        return fit
    assert fit.rmse is not None  # every fit with a matrix has its RMSE
    matrix = np.linalg.inv(fix.to_working) @ fit.matrix @ mov.to_working
    return replace(fit, matrix=matrix / matrix[2, 2], rmse=fit.rmse / fix.scale)


def _work(catalog: Catalog, image: Image, cache: dict[int, _Work], config: RegisterConfig) -> _Work:
    if image.id not in cache:
        path = catalog.readable_path(image)
        gray, scale = load_gray(path, config.match.max_side)
        cache[image.id] = _Work(image, str(path), gray, scale, ft.extract(gray, config.match))
    return cache[image.id]


def _finish(
    image: Image,
    polygon: BaseGeometry,
    config: RegisterConfig,
    method: str,
    matrix: np.ndarray,
    via: str | None,
    matches: int,
    inliers: int,
    rmse: float | None,
    shift_m: float | None = None,
) -> ImageRegistration:
    """A registration with its overlap of the site polygon; failed if it barely overlaps."""
    footprint = footprint_in((image.width, image.height), matrix)
    overlap = polygon.intersection(footprint).area / polygon.area if polygon.area > 0 else 0.0
    status, reason = "ok", None
    if overlap < config.min_overlap:
        status = "failed"
        reason = f"does not overlap the site ({overlap:.1%} of its area seen)"
    return ImageRegistration(
        image.sha256,
        image.original_name,
        method,
        status,
        reason,
        matrix,
        via,
        matches,
        inliers,
        rmse,
        shift_m,
        overlap,
    )


def _failed(image: Image, method: str, reason: str, fit: ft.Fit | None) -> ImageRegistration:
    return ImageRegistration(
        image.sha256,
        image.original_name,
        method,
        "failed",
        reason,
        None,
        None,
        fit.matches if fit else 0,
        fit.inliers if fit else 0,
    )


def _with_reason(res: ImageRegistration, reason: str) -> ImageRegistration:
    return replace(res, reason=reason)


def _from_row(row: Registration) -> ImageRegistration:
    return ImageRegistration(
        row.image.sha256,
        row.image.original_name,
        row.method,
        row.status,
        row.reason,
        frame_matrix(row) if row.matrix else None,
        row.via.sha256 if row.via else None,
        row.matches,
        row.inliers,
        row.rmse_px,
        row.shift_m,
        row.overlap,
        reused=True,
    )


def _fill(row: Registration, res: ImageRegistration, run_id: int, session: Session) -> None:
    row.run_id = run_id
    row.method, row.status, row.reason = res.method, res.status, res.reason
    row.matrix = None if res.matrix is None else [float(v) for v in res.matrix.ravel()]
    row.via_image_id = (
        session.scalar(select(Image.id).where(Image.sha256 == res.via)) if res.via else None
    )
    row.matches, row.inliers = res.matches, res.inliers
    row.rmse_px, row.shift_m, row.overlap = res.rmse_px, res.shift_m, res.overlap


def registrations(session: Session, site: Site) -> dict[int, Registration]:
    """The stored registration of each image of a site, by image id."""
    rows = session.scalars(
        select(Registration).where(Registration.site_id == site.id).order_by(Registration.id)
    )
    return {r.image_id: r for r in rows}


def frame_matrix(row: Registration) -> np.ndarray:
    return np.array(row.matrix, float).reshape(3, 3)


def image_to_frame(session: Session, site: Site, image: Image) -> np.ndarray | None:
    """How ``image``'s pixels map into the site frame (3×3): identity for the reference,
    the stored homography once it registered; None otherwise."""
    if site.reference_image_id == image.id:
        return np.eye(3)
    row = session.scalar(
        select(Registration).where(
            Registration.site_id == site.id, Registration.image_id == image.id
        )
    )  # one row: the dashboard asks this for every tile
    if row is None or row.status != RegistrationStatus.OK or row.matrix is None:
        return None
    return frame_matrix(row)


__all__ = [
    "ImageRegistration",
    "RegisterConfig",
    "RegisterReport",
    "choose_reference",
    "frame_matrix",
    "register_site",
    "registrations",
    "site_polygon",
]
