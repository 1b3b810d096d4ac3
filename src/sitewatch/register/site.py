"""Register every image of a site into the site frame, chaining where direct matching fails.

The site frame is the pixel grid of the site's reference image: the one named with
``site add --reference`` for frame sites; for map sites, the image that covers most of the AOI
at the finest GSD, chosen once and kept so the frame never moves under stored results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch import __version__, geo
from sitewatch.cluster import worker_threads
from sitewatch.errors import BadInputError
from sitewatch.frame import project, scaling, warp
from sitewatch.register import features as ft
from sitewatch.register import joint as jt
from sitewatch.register.area import refine_by_windows
from sitewatch.register.georef import crs_homography, footprint_in, wgs84_to_pixels
from sitewatch.register.imagery import load_gray
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Image, Registration, RegistrationStatus, Site, SiteKind
from sitewatch.store.serial import Lock, serialise

METHOD = "sift-magsac"
WORKER = "worker"  # the method recorded for an image whose task failed on a Dask worker


@dataclass(frozen=True)
class RegisterConfig:
    """How images are registered to the site frame."""

    match: ft.MatchConfig = field(default_factory=ft.MatchConfig)
    min_overlap: float = 0.02  # below this fraction of the site polygon, the image is left out
    refine: bool = True  # refine map-based alignment of georeferenced images by image matching
    max_refine_shift_m: float = 40.0  # a larger correction means matching went wrong
    joint: bool = True  # adjust the images matched by features jointly (``joint``)
    joint_partners: int = 8  # each image is tied to its most-overlapping images, up to this
    joint_min_overlap: float = 0.05  # of the smaller footprint, for two images to be tied
    joint_points: int = 1500  # tie points kept per pair (evenly drawn): bounds the solve


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

    image: ImageFacts
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
    executor: Executor | None = None,
) -> RegisterReport:
    """Map every image linked to site ``name`` into its frame and store the transforms.

    Images registered before are kept unless ``force``. An image that cannot be registered
    (no overlap, too few consistent matches, degenerate fit) is stored as failed with the
    reason, so monitoring leaves it out visibly. With an ``executor`` (a Dask client's, see
    ``sitewatch.cluster``) each image is matched to the reference as a task of its own;
    chaining the few that fail, and storing, stay here.
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
        return _register_all(catalog, name, run_id, force, config, progress, executor)


@dataclass(frozen=True)
class ImageFacts:
    """What registration reads of a catalog image, its file included: plain values, so a
    worker on another machine registers it without the catalog."""

    sha256: str
    original_name: str
    path: str
    width: int
    height: int
    crs_wkt: str | None
    transform: list[float] | None
    gsd_m: float | None

    @property
    def georeferenced(self) -> bool:
        return self.crs_wkt is not None

    @classmethod
    def of(cls, catalog: Catalog, image: Image) -> ImageFacts:
        """The image's facts; a lost file fails here (``Catalog.readable_path``)."""
        return cls(
            image.sha256, image.original_name, str(catalog.readable_path(image)), image.width,
            image.height, image.crs_wkt, image.transform, image.gsd_m,
        )  # fmt: skip


@dataclass(frozen=True)
class RegisterTask:
    """One image to match against the site's reference (a task for ``register_task``)."""

    moving: ImageFacts
    reference: ImageFacts
    polygon: BaseGeometry
    config: RegisterConfig


# a worker's last reference, kept between its tasks: every task of a site matches against it
_REFERENCE: dict[tuple[str, ft.MatchConfig], _Work] = {}


def register_task(task: RegisterTask) -> ImageRegistration:
    """Register one image against the reference, without the catalog (runs on a worker)."""
    threads = worker_threads()
    if threads is not None:  # OpenCV would use every core in each of the host's workers
        import cv2

        cv2.setNumThreads(threads)
    key = (task.reference.sha256, task.config.match)
    cache = {task.reference.sha256: _REFERENCE[key]} if key in _REFERENCE else {}
    result = _register_one(task.moving, task.reference, task.polygon, cache, task.config)
    if task.reference.sha256 in cache:
        _REFERENCE.clear()
        _REFERENCE[key] = cache[task.reference.sha256]
    return result


def _register_all(
    catalog: Catalog,
    name: str,
    run_id: int,
    force: bool,
    config: RegisterConfig,
    progress: Callable[[str], None] | None,
    executor: Executor | None,
) -> RegisterReport:
    # read, then close: no transaction stays open while images are matched (minutes on a
    # cluster; a restarted server or an idle-transaction timeout would lose all of it)
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        site_id = site.id
        images = [ln.image for ln in site.image_links]
        reference = site.reference_image
        assert reference is not None  # register_site chose it (choose_reference) before the run
        polygon = site_polygon(site, reference)
        previous = registrations(s, site)
        images.sort(key=lambda im: (im.id != reference.id, im.acquired_at is None, im.id))
        results: dict[int, ImageRegistration] = {}
        matrices: dict[int, np.ndarray] = {}
        todo = []
        for image in images:
            prior = previous.get(image.id)
            if prior is not None and prior.status == RegistrationStatus.OK and not force:
                results[image.id] = _from_row(prior)
                matrices[image.id] = frame_matrix(prior)
            else:
                todo.append(image)
    # an image's file is looked up when it is first read: stored results need none
    facts: dict[int, ImageFacts] = {}

    def fact(image: Image) -> ImageFacts:
        if image.id not in facts:
            facts[image.id] = ImageFacts.of(catalog, image)
        return facts[image.id]

    cache: dict[str, _Work] = {}
    tasks = [RegisterTask(fact(im), fact(reference), polygon, config) for im in todo]
    done = _against_reference(tasks, cache, progress, executor)
    for image, res in zip(todo, done, strict=True):
        results[image.id] = res
        if res.ok:
            assert res.matrix is not None  # an ok registration has its matrix (_finish)
            matrices[image.id] = res.matrix
    work = _SiteWork(images, fact, reference, polygon, cache, config, results, matrices)
    _chain_failures(work)
    if config.joint:
        _adjust_jointly(work)
    with catalog.session() as s:
        serialise(s, Lock.SITE, site_id)  # a second register of the site waits, then updates
        site = catalog.get_site(s, name)
        stored = registrations(s, site)
        for image in images:
            res = results[image.id]
            if res.reused:
                continue
            row = stored.get(image.id) or Registration(site_id=site_id, image_id=image.id)
            _fill(row, res, run_id, s)
            s.add(row)
    return RegisterReport(name, reference.sha256, [results[im.id] for im in images])


def _against_reference(
    tasks: list[RegisterTask],
    cache: dict[str, _Work],
    progress: Callable[[str], None] | None,
    executor: Executor | None,
) -> Iterator[ImageRegistration]:
    """Each task's registration, in order: here (sharing ``cache``), or all submitted at
    once to ``executor``, where a task that fails (its worker lost after Dask's retries, a
    file that worker cannot read) is that image's failed registration, not the run's."""
    if executor is None:
        for t in tasks:
            if progress:
                progress(t.moving.original_name)
            yield _register_one(t.moving, t.reference, t.polygon, cache, t.config)
        return
    futures = [executor.submit(register_task, t) for t in tasks]
    try:
        for t, future in zip(tasks, futures, strict=True):
            try:
                result = future.result()
            except Exception as exc:  # whatever a worker raised: this image fails, in one line
                why = (str(exc).strip().splitlines() or [""])[0][:300]
                result = _failed(
                    t.moving, WORKER, f"failed on a Dask worker ({type(exc).__name__}: {why})", None
                )
            if progress:
                progress(t.moving.original_name)
            yield result
    finally:
        for future in futures:
            future.cancel()


def _register_one(
    image: ImageFacts,
    reference: ImageFacts,
    polygon: BaseGeometry,
    cache: dict[str, _Work],
    config: RegisterConfig,
) -> ImageRegistration:
    if image.sha256 == reference.sha256:
        return _finish(image, polygon, config, "reference", np.eye(3), None, 0, 0, 0.0)
    if image.georeferenced and reference.georeferenced:
        return _register_by_map(image, reference, polygon, cache, config)
    fit = _match_pair(image, reference, cache, config)
    if not fit.ok:
        return _failed(image, "features", f"no match to the reference: {fit.reason}", fit)
    assert fit.matrix is not None  # fit.ok is exactly "has a matrix"
    return _finish(
        image, polygon, config, "features", fit.matrix, None, fit.matches, fit.inliers, fit.rmse
    )


def _register_by_map(
    image: ImageFacts,
    reference: ImageFacts,
    polygon: BaseGeometry,
    cache: dict[str, _Work],
    config: RegisterConfig,
) -> ImageRegistration:
    try:
        h0, _residual = crs_homography(image, reference)
    except ValueError as exc:
        return _failed(image, "crs", str(exc), None)
    coarse = _finish(image, polygon, config, "crs", h0, None, 0, 0, None)
    if not config.refine or not coarse.ok:
        return coarse
    mov, ref = _work(image, cache, config), _work(reference, cache, config)
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


@dataclass
class _SiteWork:
    """What a site's registration works on after matching each image to the reference:
    the images, their facts (read once), the site polygon, the matching cache and the
    results and frame transforms so far (updated in place)."""

    images: list[Image]
    fact: Callable[[Image], ImageFacts]
    reference: Image
    polygon: BaseGeometry
    cache: dict[str, _Work]
    config: RegisterConfig
    results: dict[int, ImageRegistration]
    matrices: dict[int, np.ndarray]


def _chain_failures(w: _SiteWork) -> None:
    """Images that do not match the reference try every registered image, until none gains."""
    images, fact, reference, polygon = w.images, w.fact, w.reference, w.polygon
    cache, config, results, matrices = w.cache, w.config, w.results, w.matrices
    by_id = {im.id: im for im in images}
    progress = True
    while progress:
        progress = False
        for image in images:
            res = results[image.id]
            # a map registration, or a fit that just misses the site, is no matching failure;
            # an image a worker could not handle is not retried here
            if res.ok or res.method in ("crs", WORKER) or res.matrix is not None:
                continue
            for hub_id, hub_matrix in list(matrices.items()):
                if hub_id == reference.id or hub_id == image.id:
                    continue
                fit = _match_pair(fact(image), fact(by_id[hub_id]), cache, config)
                if not fit.ok:
                    continue
                chained = _finish(
                    fact(image),
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


JOINED = "+joint"  # appended to the method of an image whose transform was adjusted jointly


def _adjust_jointly(w: _SiteWork) -> None:
    """Adjust the transforms of the images matched by features (directly or by a chain)
    all at once, from the ground matches of every well-overlapping pair (``joint``).

    The reference and results stored before (kept unless ``--force``) are held fixed, so
    the frame never moves under stored results; map-only registrations stay out (their
    error is the georeferencing's, not matching's)."""
    images, fact, reference, polygon = w.images, w.fact, w.reference, w.polygon
    cache, config, results, matrices = w.cache, w.config, w.results, w.matrices
    members = [
        im
        for im in images
        if im.id in matrices
        and results[im.id].ok
        and (im.id == reference.id or results[im.id].reused or results[im.id].method in _JOINABLE)
        and results[im.id].method != "crs"
    ]
    fixed = {k for k, im in enumerate(members) if im.id == reference.id or results[im.id].reused}
    if len(members) - len(fixed) < 2:
        # one image to place has one pair to rest on: adjusting it "jointly" would refit that
        # pair in a poorer family (at most affine), with nothing to reconcile
        return
    footprints = [footprint_in((im.width, im.height), matrices[im.id]) for im in members]
    pairs: set[tuple[int, int]] = set()
    for a, fa in enumerate(footprints):
        shared = [
            (fa.intersection(fb).area / max(min(fa.area, fb.area), 1e-9), b)
            for b, fb in enumerate(footprints)
            if b != a
        ]
        best = sorted((x for x in shared if x[0] >= config.joint_min_overlap), reverse=True)
        for _share, b in best[: config.joint_partners]:
            if not (a in fixed and b in fixed):
                pairs.add((min(a, b), max(a, b)))
    found = (_tie(members, a, b, fact, cache, config, matrices) for a, b in sorted(pairs))
    ties = [t for t in found if t is not None]
    initial = [matrices[im.id] for im in members]
    # each transform in the family its own fit chose, at most affine: a satellite far away
    # sees flat ground affinely over a few km, and a homography's perspective terms, held
    # only by partial overlaps, bend the far edges, where crops overlap (to be measured
    # against homographies on more sites: bench/registration.py --only crops-in-frame)
    families = [jt.family_of(h) for h in initial]
    families = [f if f != "homography" else "affine" for f in families]
    solved = jt.adjust(initial, families, fixed, ties)
    # each pair chose its own ground layer; the solution is the consensus of all of them.
    # Gather every pair's matches again around the consensus, ever tighter, and solve again:
    # a pair that settled on roofs now contributes its ground instead
    for tolerance in (config.match.parallax_px / 2, config.match.ransac_px):
        found = (_retie(t, members, solved.matrices, tolerance, fact, cache, config) for t in ties)
        ties = [t for t in found if t is not None]
        solved = jt.adjust(solved.matrices, families, fixed, ties)
    for k, im in enumerate(members):
        rms = solved.image_rms_px[k]
        if k in fixed or rms is None:
            continue
        new = solved.matrices[k]
        if ft.degenerate(new, (im.height, im.width)):
            continue
        res = results[im.id]
        mine = [t for t in ties if members[t.a].id == im.id or members[t.b].id == im.id]
        adjusted = _finish(
            fact(im), polygon, config, res.method + JOINED, new, res.via,
            sum(len(t.src) for t in mine), sum(len(t.src) for t in mine), rms, res.shift_m,
        )  # fmt: skip
        if adjusted.ok:
            results[im.id] = adjusted
            matrices[im.id] = new


_JOINABLE = ("features", "chain")


def _tie(
    members: list[Image],
    a: int,
    b: int,
    fact: Callable[[Image], ImageFacts],
    cache: dict[str, _Work],
    config: RegisterConfig,
    matrices: dict[int, np.ndarray],
) -> jt.Tie | None:
    """The ground matches of two images whose transforms say they overlap, in source
    pixels: the pair registered on its own (``features.register_ground``), kept only if
    it lands near where those transforms put the images."""
    ia, ib = members[a], members[b]
    mov, fix = _work(fact(ia), cache, config), _work(fact(ib), cache, config)
    # the pair registered on its own: a transform resting on one pair's fit cannot
    # guide the others without passing its error on
    layer = ft.register_ground(mov.features, fix.features, config.match, mov.gray.shape)
    if layer is None or len(layer.src) < config.match.min_inliers:
        return None
    a_to_b = np.linalg.inv(matrices[ib.id]) @ matrices[ia.id]
    predicted = project(fix.to_working @ a_to_b @ np.linalg.inv(mov.to_working), layer.src)
    # the transforms may be off by tens of pixels (that is what is being mended), but not
    # by the width of an apron: beyond that the pair matched another place
    if np.median(np.linalg.norm(predicted - layer.dst, axis=1)) > 4 * config.match.parallax_px:
        return None
    return _subsampled(a, b, layer.src / mov.scale, layer.dst / fix.scale, config)


def _retie(
    tie: jt.Tie,
    members: list[Image],
    current: list[np.ndarray],
    tolerance: float,
    fact: Callable[[Image], ImageFacts],
    cache: dict[str, _Work],
    config: RegisterConfig,
) -> jt.Tie | None:
    """The pair's height layer nearest to where the ``current`` transforms put it (median
    distance within ``tolerance`` working pixels), with its own matches: a plane of this
    pair, chosen by the consensus of all pairs rather than by its own spread."""
    mov = _work(fact(members[tie.a]), cache, config)
    fix = _work(fact(members[tie.b]), cache, config)
    a_to_b = np.linalg.inv(current[tie.b]) @ current[tie.a]
    working = fix.to_working @ a_to_b @ np.linalg.inv(mov.to_working)
    ft.seeded()
    found = ft.layers(mov.features, fix.features, working, config.match, mov.gray.shape)

    def off(layer: ft.Layer) -> float:
        return float(np.median(np.linalg.norm(project(working, layer.src) - layer.dst, axis=1)))

    near = [(off(layer), layer) for layer in found if off(layer) <= tolerance]
    if not near:
        return None
    # the nearest layer; of layers as near as one height layer's tolerance, the largest (a
    # few dozen stray matches can fall on the consensus too)
    nearest = min(d for d, _layer in near)
    layer = max(
        (L for d, L in near if d <= nearest + config.match.layer_px), key=lambda L: len(L.src)
    )
    return _subsampled(tie.a, tie.b, layer.src / mov.scale, layer.dst / fix.scale, config)


def _subsampled(a: int, b: int, src: np.ndarray, dst: np.ndarray, config: RegisterConfig) -> jt.Tie:
    if len(src) > config.joint_points:  # evenly drawn, the same every time
        keep = np.linspace(0, len(src) - 1, config.joint_points).round().astype(int)
        src, dst = src[keep], dst[keep]
    return jt.Tie(a, b, src.astype(np.float64), dst.astype(np.float64))


def _match_pair(
    moving: ImageFacts, fixed: ImageFacts, cache: dict[str, _Work], config: RegisterConfig
) -> ft.Fit:
    """Feature registration moving → fixed, with the matrix and RMSE in source pixels."""
    mov, fix = _work(moving, cache, config), _work(fixed, cache, config)
    fit = ft.register(mov.features, fix.features, config.match, mov.gray.shape)
    if not fit.ok:
        return fit
    assert fit.rmse is not None  # every fit with a matrix has its RMSE
    matrix = np.linalg.inv(fix.to_working) @ fit.matrix @ mov.to_working
    return replace(fit, matrix=matrix / matrix[2, 2], rmse=fit.rmse / fix.scale)


def _work(image: ImageFacts, cache: dict[str, _Work], config: RegisterConfig) -> _Work:
    if image.sha256 not in cache:
        gray, scale = load_gray(Path(image.path), config.match.max_side)
        cache[image.sha256] = _Work(image, gray, scale, ft.extract(gray, config.match))
    return cache[image.sha256]


def _finish(
    image: ImageFacts,
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


def _failed(image: ImageFacts, method: str, reason: str, fit: ft.Fit | None) -> ImageRegistration:
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
