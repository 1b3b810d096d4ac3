"""Pixel change between the registered dates of a site, in its frame.

Each date is resampled through its registration onto one working grid over the site (the
reference's pixels, decimated to at most ``max_side``), consecutive dates are compared
where both hold pixels inside the site, and the change mask becomes polygons: each with
its area (m² where the frame's pixel size is known) and a kind — *appeared* (more built
structure after), *removed* (less: cleared or destroyed), *altered* (as much, but
different). Built structure is measured as the length of long straight edges (line
segments of at least ``STRAIGHT_M``): roofs, walls, roads and vehicles have them; debris,
vegetation and bare ground do not — edge strength alone would call the rubble of a
destroyed town new structure (on the Joplin pair's 8 ha, straight edges of 6 m or more
fall from 7.7 to 3.1 km while edge strength rises).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from shapely import affinity
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select

from sitewatch import __version__, geo
from sitewatch.change.methods import ChangeMap, ChangeMethod, change_map, change_model
from sitewatch.change.quiet import DEFAULT_FALSE_ALARM, QuietPairs
from sitewatch.dates import day
from sitewatch.errors import BadInputError
from sitewatch.files import write_json_atomic, write_text_atomic, write_with_atomic
from sitewatch.formats.geojson import rounded
from sitewatch.formats.layers import Field, FieldType, Layer, Value
from sitewatch.formats.vector import VectorFormat, write_layers
from sitewatch.frame import warp
from sitewatch.register import image_to_frame, site_polygon
from sitewatch.scene import open_scaled
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import ChangedRegion, ChangePair
from sitewatch.store.serial import Lock, serialise

NODATA = 255  # in the change map: outside the site or where a date has no pixels
STRAIGHT_M = 5.0  # a straight edge at least this long is built structure


class ChangeKind(StrEnum):
    APPEARED = "appeared"
    REMOVED = "removed"
    ALTERED = "altered"


@dataclass(frozen=True)
class ChangeRegion:
    """One changed region: its outline in frame pixels (and lon/lat where the frame is on a
    map), area, kind and the built structure (straight edges) before and after."""

    kind: ChangeKind
    frame_polygon: BaseGeometry
    area_m2: float | None
    area_px: float
    straight_before_px: float  # length of straight edges inside, frame pixels
    straight_after_px: float
    wgs84: BaseGeometry | None = None


@dataclass(frozen=True)
class PairChange:
    """The change between two dates of a site."""

    before: str  # sha256
    after: str
    before_name: str
    after_name: str
    before_date: datetime | None
    after_date: datetime | None
    compared_m2: float | None
    compared_px: float
    regions: list[ChangeRegion]
    map_path: Path | None = None

    def changed_m2(self, kind: ChangeKind | None = None) -> float | None:
        if self.compared_m2 is None:
            return None
        return sum(r.area_m2 or 0.0 for r in self.regions if kind is None or r.kind == kind)

    def changed_px(self, kind: ChangeKind | None = None) -> float:
        return sum(r.area_px for r in self.regions if kind is None or r.kind == kind)

    @property
    def changed_share(self) -> float:
        return self.changed_px() / self.compared_px if self.compared_px > 0 else 0.0


@dataclass
class ChangeReport:
    site: str
    method: ChangeMethod
    frame_gsd_m: float | None
    grid_scale: float = 1.0  # working-grid pixels per frame pixel
    pairs: list[PairChange] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # images left out, with why
    files: list[Path] = field(default_factory=list)
    run_id: int | None = None  # the change run that stored it
    # the method's changed share on quiet pairs (the change model's, where measured) and
    # the stated rate of false alarms per compared pair that alerts are raised at
    quiet: QuietPairs | None = None
    false_alarm: float = DEFAULT_FALSE_ALARM

    @property
    def quiet_level(self) -> float | None:
        """The changed share a quiet pair passes at the stated false-alarm rate."""
        return None if self.quiet is None else self.quiet.level(self.false_alarm)

    def alert(self, pair: PairChange) -> bool | None:
        """The pair changed more than quiet pairs do at the stated rate (None: the method
        has no measured quiet pairs to say it by)."""
        level = self.quiet_level
        return None if level is None else pair.changed_share > level


@dataclass(frozen=True)
class _Date:
    sha256: str
    name: str
    acquired: datetime | None
    path: Path
    width: int
    height: int
    to_frame: np.ndarray


@dataclass(frozen=True)
class _Grid:
    """The working grid: frame pixel = (grid pixel / scale) + origin."""

    x0: float
    y0: float
    scale: float
    width: int
    height: int

    @property
    def from_frame(self) -> np.ndarray:
        s = self.scale
        return np.array([[s, 0, -s * self.x0], [0, s, -s * self.y0], [0, 0, 1.0]])


def change_site(
    catalog: Catalog,
    name: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    method: ChangeMethod = ChangeMethod.IRMAD,
    out: Path | None = None,
    min_area_m2: float = 20.0,
    max_side: int = 2048,
    progress: Callable[[str], None] | None = None,
    model: Path | None = None,
    false_alarm: float = DEFAULT_FALSE_ALARM,
) -> ChangeReport:
    """Compare each pair of consecutive registered dates of site ``name`` (within
    ``since``…``until``); with ``out``, write a change map per pair (GeoTIFF in the frame,
    georeferenced where the frame is) and the regions (GeoJSON on a map frame, JSON in
    frame pixels otherwise) and the changed-area series (CSV). ``model``: a change model file
    other than the shipped one, for the model method. A pair alerts when it changed more
    than a quiet pair does at ``false_alarm`` per pair (where the method's quiet pairs are
    measured: the change model's)."""
    if not 0 < false_alarm < 1:
        raise BadInputError("false alarm rate", f"{false_alarm!r} is not in (0, 1)",
                            "give a share of quiet pairs, e.g. 0.01")  # fmt: skip
    dates, skipped, polygon, gsd, georef = _dates(catalog, name, since, until)
    if len(dates) < 2:
        raise BadInputError(
            name,
            f"{len(dates)} registered, dated image(s) in that window; change needs two",
            f"ingest and register more imagery (`sitewatch register {name}`)",
        )
    params: dict[str, Any] = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "min_area_m2": min_area_m2,
        "max_side": max_side,
    }
    quiet = None
    if method == ChangeMethod.MODEL:  # which model made the change is part of the run
        net = change_model(model)
        params["model"] = net.version
        quiet = net.info.quiet
        if quiet is not None:  # what its alerts and the claims checked on it rest on
            params["quiet_pairs"] = quiet.to_metrics()
            params["false_alarm_per_pair"] = false_alarm
            params["quiet_level_share"] = quiet.level(false_alarm)
    with catalog.run("change", str(method), __version__, params) as run_id:
        report = _compare(dates, skipped, polygon, gsd, georef, name, method, out,
                          min_area_m2, max_side, progress, model, quiet, false_alarm)  # fmt: skip
        _store(catalog, name, run_id, report)
        report.run_id = run_id
    return report


def _compare(
    dates: list[_Date], skipped: list[str], polygon: BaseGeometry, gsd: float | None,
    georef: tuple[list[float], str] | None, name: str, method: ChangeMethod, out: Path | None,
    min_area_m2: float, max_side: int, progress: Callable[[str], None] | None,
    model: Path | None = None, quiet: QuietPairs | None = None,
    false_alarm: float = DEFAULT_FALSE_ALARM,
) -> ChangeReport:  # fmt: skip
    """Each consecutive pair's change (and, with ``out``, the files)."""
    grid = _grid(polygon, max_side)
    inside = _polygon_mask(polygon, grid)
    report = ChangeReport(name, method, gsd, grid.scale, skipped=skipped, quiet=quiet,
                          false_alarm=false_alarm)  # fmt: skip
    # the pixel size of the working grid, in m: frame pixels are the reference's
    pixel_m = gsd / grid.scale if gsd else None
    min_px = max(4.0, (min_area_m2 / pixel_m**2) if pixel_m else 16.0)
    previous = _resampled(dates[0], grid)
    for before, after in itertools.pairwise(dates):
        if before.acquired == after.acquired:  # two pieces of one acquisition: not a change
            report.skipped.append(f"{before.name}: acquired at the same time as {after.name}")
            previous = _resampled(after, grid)  # the next pair starts from this piece
            continue
        current = _resampled(after, grid)
        valid = previous[1] & current[1] & inside
        cmap = change_map(previous[0], current[0], method, valid, model=model, gsd_m=pixel_m)
        kept = np.zeros(valid.shape, bool)
        regions = _regions(cmap, previous[0], current[0], grid, min_px, pixel_m, georef, kept)
        pair = PairChange(
            before.sha256, after.sha256, before.name, after.name, before.acquired,
            after.acquired, None if pixel_m is None else float(valid.sum()) * pixel_m**2,
            float(valid.sum()) / grid.scale**2, regions,
        )  # fmt: skip
        if out is not None:
            pair = _write_map(pair, kept, valid, grid, out, georef)
            report.files.append(pair.map_path)  # type: ignore[arg-type]
        report.pairs.append(pair)
        if progress:
            progress(f"{before.name} → {after.name}")
        previous = current
    if out is not None:
        report.files += _write_regions(report, out, georef is not None)
    return report


def _store(catalog: Catalog, name: str, run_id: int, report: ChangeReport) -> None:
    """Keep each pair's change in the catalog (after its files are written), replacing
    what an earlier run stored for the same two images; pairs of other images stay."""
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        serialise(s, Lock.SITE, site.id)
        ids = {link.image.sha256: link.image.id for link in site.image_links}
        for pair in report.pairs:
            before, after = ids.get(pair.before), ids.get(pair.after)
            if before is None or after is None:  # unlinked from the site meanwhile
                continue
            for old in s.scalars(
                select(ChangePair).where(
                    ChangePair.site_id == site.id,
                    ChangePair.before_image_id == before,
                    ChangePair.after_image_id == after,
                )
            ):
                s.delete(old)
            regions = [_row(r) for r in pair.regions]
            s.add(
                ChangePair(
                    site_id=site.id, run_id=run_id, before_image_id=before,
                    after_image_id=after, method=str(report.method),
                    compared_m2=pair.compared_m2, compared_px=pair.compared_px,
                    map_path=None if pair.map_path is None else str(pair.map_path),
                    regions=regions,
                )
            )  # fmt: skip


def _dates(
    catalog: Catalog, name: str, since: datetime | None, until: datetime | None
) -> tuple[list[_Date], list[str], BaseGeometry, float | None, tuple[list[float], str] | None]:
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        reference = site.reference_image
        if reference is None:
            raise BadInputError(
                name, "the site has no frame yet", f"run `sitewatch register {name}` first"
            )
        polygon = site_polygon(site, reference)
        gsd = reference.gsd_m
        georef = (
            (list(reference.transform), reference.crs_wkt)
            if reference.transform is not None and reference.crs_wkt is not None
            else None
        )
        dates, skipped = [], []
        for link in site.image_links:
            image = link.image
            if image.acquired_at is None:
                skipped.append(f"{image.original_name}: no acquisition date")
                continue
            if (since and image.acquired_at < since) or (until and image.acquired_at > until):
                continue
            h = image_to_frame(s, site, image)
            if h is None:
                skipped.append(f"{image.original_name}: not registered to the frame")
                continue
            dates.append(
                _Date(
                    image.sha256,
                    image.original_name,
                    image.acquired_at,
                    catalog.readable_path(image),
                    image.width,
                    image.height,
                    h,
                )
            )
    dates.sort(key=lambda d: (d.acquired, d.sha256))
    return dates, skipped, polygon, gsd, georef


def _grid(polygon: BaseGeometry, max_side: int) -> _Grid:
    x0, y0, x1, y1 = (float(v) for v in polygon.bounds)
    x0, y0 = np.floor(x0), np.floor(y0)
    w, h = max(1.0, np.ceil(x1) - x0), max(1.0, np.ceil(y1) - y0)
    scale = min(1.0, max_side / max(w, h))
    return _Grid(x0, y0, scale, max(1, round(w * scale)), max(1, round(h * scale)))


def _polygon_mask(polygon: BaseGeometry, grid: _Grid) -> np.ndarray:
    from rasterio.features import rasterize

    m = grid.from_frame
    on_grid = affinity.affine_transform(polygon, [m[0, 0], 0, 0, m[1, 1], m[0, 2], m[1, 2]])
    return rasterize(
        [(on_grid, 1)], out_shape=(grid.height, grid.width), fill=0, dtype="uint8"
    ).astype(bool)


def _resampled(date: _Date, grid: _Grid) -> tuple[np.ndarray, np.ndarray]:
    """The date's pixels on the grid and where it has them."""
    to_grid = grid.from_frame @ date.to_frame
    # read at about the grid's resolution: the linear scale of image → grid
    linear = np.sqrt(abs(np.linalg.det(to_grid[:2, :2] / to_grid[2, 2])))
    read_scale = float(min(1.0, max(linear, 1e-3) * 1.5))
    scene = open_scaled(date.path, read_scale)
    try:
        pixels = scene.read(0, 0, scene.width, scene.height)
        actual = scene.scale
    finally:
        scene.close()
    from_read = to_grid @ np.diag([1 / actual, 1 / actual, 1.0])
    size = (grid.width, grid.height)
    warped = warp(pixels, from_read, size)
    valid = warp(np.full(pixels.shape[:2], 255, np.uint8), from_read, size) >= 255
    return warped, valid


def _regions(
    cmap: ChangeMap,
    before: np.ndarray,
    after: np.ndarray,
    grid: _Grid,
    min_px: float,
    pixel_m: float | None,
    georef: tuple[list[float], str] | None,
    kept: np.ndarray,
) -> list[ChangeRegion]:
    """The regions of change at least ``min_px`` large; ``kept`` is set to their mask."""
    import cv2
    from rasterio.features import shapes

    # one pixel's noise is not change: open, then close small gaps within a region
    kernel = np.ones((3, 3), np.uint8)
    opened = cv2.morphologyEx(cmap.mask.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    mask = (cv2.morphologyEx(opened, cv2.MORPH_CLOSE, kernel) > 0) & cmap.valid
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    pixels = np.bincount(labels.ravel(), minlength=count)
    small = pixels < min_px
    small[0] = True  # the background
    labels[small[labels]] = 0  # regions too small to keep are no change, in the map too
    mask = (labels > 0).astype(np.uint8)
    kept[:] = mask > 0
    shortest = STRAIGHT_M / pixel_m if pixel_m else 10.0
    lines_b = np.bincount(labels.ravel(), _straight(before, shortest).ravel(), count)
    lines_a = np.bincount(labels.ravel(), _straight(after, shortest).ravel(), count)
    to_frame = np.linalg.inv(grid.from_frame)
    on_frame = [to_frame[0, 0], 0, 0, to_frame[1, 1], to_frame[0, 2], to_frame[1, 2]]
    # a difference of less than one shortest straight edge is no difference
    margin = 1.5
    out = []
    for geom, value in shapes(labels.astype(np.int32), mask=mask.astype(bool), connectivity=8):
        k = int(value)
        if k == 0 or pixels[k] < min_px:
            continue
        lb, la = float(lines_b[k]) / grid.scale, float(lines_a[k]) / grid.scale
        floor = shortest / grid.scale
        kind = (
            ChangeKind.APPEARED if la > margin * lb + floor
            else ChangeKind.REMOVED if lb > margin * la + floor
            else ChangeKind.ALTERED
        )  # fmt: skip
        # pixel-edge outlines touch themselves at corners: made valid (buffer 0) here; their
        # stairs are simplified within half a grid pixel (a tenth of the vertices), while
        # the areas stay the pixel counts
        outline = shape(geom).buffer(0).simplify(0.5, preserve_topology=True)
        frame_poly = affinity.affine_transform(outline, on_frame)
        wgs84 = _to_wgs84(frame_poly, georef) if georef is not None else None
        area_m2 = None if pixel_m is None else float(pixels[k]) * pixel_m**2
        area_px = float(pixels[k]) / grid.scale**2
        out.append(
            ChangeRegion(kind, frame_poly, area_m2, area_px, round(lb, 1), round(la, 1), wgs84)
        )
    return out


def _straight(rgb: np.ndarray, shortest: float) -> np.ndarray:
    """A map of the straight edges at least ``shortest`` pixels long (LSD line segments,
    drawn one pixel wide)."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    found = cv2.createLineSegmentDetector().detect(np.ascontiguousarray(grey))[0]
    canvas = np.zeros(grey.shape, np.uint8)
    if found is None:
        return canvas.astype(np.float32)
    for x0, y0, x1, y1 in found.reshape(-1, 4):
        if np.hypot(x1 - x0, y1 - y0) >= shortest:
            cv2.line(canvas, (round(x0), round(y0)), (round(x1), round(y1)), 1, 1)
    return canvas.astype(np.float32)


def _to_wgs84(frame_poly: BaseGeometry, georef: tuple[list[float], str]) -> BaseGeometry:
    a, b, c, d, e, f = georef[0][:6]
    native = affinity.affine_transform(frame_poly, [a, b, d, e, c, f])
    return geo.reproject(native, geo.checked_crs(georef[1])).buffer(0)


def _stem(pair: PairChange) -> str:
    before = f"{day(pair.before_date)}-{pair.before[:8]}"
    return f"change-{before}-{day(pair.after_date)}-{pair.after[:8]}"


def _write_map(
    pair: PairChange,
    kept: np.ndarray,
    valid: np.ndarray,
    grid: _Grid,
    out: Path,
    georef: tuple[list[float], str] | None,
) -> PairChange:
    """The change mask (1 change, 0 none, 255 no data) as a GeoTIFF (COG) on the grid."""
    import rasterio
    from affine import Affine

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{_stem(pair)}.tif"
    band = np.where(valid, kept.astype(np.uint8), NODATA).astype(np.uint8)
    profile: dict[str, Any] = {
        "driver": "COG", "width": grid.width, "height": grid.height, "count": 1,
        "dtype": "uint8", "nodata": NODATA, "compress": "deflate",
    }  # fmt: skip
    if georef is not None:
        profile["transform"] = Affine(*geo.grid_transform(georef[0], grid.x0, grid.y0, grid.scale))
        profile["crs"] = rasterio.crs.CRS.from_wkt(georef[1])

    def write(tmp: Path) -> None:
        import warnings

        with warnings.catch_warnings():  # a frame without a map is a plain pixel grid
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(band, 1)
                dst.update_tags(
                    SITEWATCH_BEFORE_SHA256=pair.before, SITEWATCH_AFTER_SHA256=pair.after,
                    SITEWATCH_VALUES="1 change, 0 no change, 255 no data",
                    SITEWATCH_FRAME_ORIGIN=f"{grid.x0} {grid.y0}",
                    SITEWATCH_FRAME_SCALE=f"{grid.scale}",
                )  # fmt: skip

    write_with_atomic(path, write)
    return PairChange(**{**pair.__dict__, "map_path": path})


REGION_FIELDS = (
    Field("site", FieldType.STRING, "site name"),
    Field("kind", FieldType.STRING, "appeared, removed or altered"),
    Field("area_m2", FieldType.REAL, "changed area, square metres (empty: pixel size unknown)"),
    Field("area_frame_px", FieldType.REAL, "changed area, site-frame pixels"),
    Field("before_sha256", FieldType.STRING, "the earlier image"),
    Field("after_sha256", FieldType.STRING, "the later image"),
    Field("before_date", FieldType.STRING, "the earlier image's acquisition day"),
    Field("after_date", FieldType.STRING, "the later image's acquisition day"),
    Field("straight_before_px", FieldType.REAL, "straight edges inside, earlier (frame px)"),
    Field("straight_after_px", FieldType.REAL, "straight edges inside, later (frame px)"),
    Field("method", FieldType.STRING, "change method"),
    Field("frame_x_px", FieldType.REAL, "a point inside, site-frame pixels (x)"),
    Field("frame_y_px", FieldType.REAL, "a point inside, site-frame pixels (y)"),
)


def _write_regions(report: ChangeReport, out: Path, on_map: bool) -> list[Path]:
    """Every pair's regions — GeoJSON and (with the gis extra) GeoPackage, in lon/lat, on a
    map frame; JSON with the outlines in frame pixels otherwise (never pixels a GIS would
    read as degrees); a CSV table either way — and the changed-area series (CSV)."""
    layer = Layer("change_regions", f"Change at {report.site}", REGION_FIELDS)
    outlines = []
    for pair in report.pairs:
        for r in pair.regions:
            inside = r.frame_polygon.representative_point()
            values: dict[str, Value] = dict(
                site=report.site, kind=str(r.kind),
                area_m2=None if r.area_m2 is None else round(r.area_m2, 1),
                area_frame_px=round(r.area_px, 1), before_sha256=pair.before,
                after_sha256=pair.after, before_date=day(pair.before_date),
                after_date=day(pair.after_date), straight_before_px=r.straight_before_px,
                straight_after_px=r.straight_after_px, method=str(report.method),
                frame_x_px=round(inside.x, 1), frame_y_px=round(inside.y, 1),
            )  # fmt: skip
            on = geo.lonlat_polygons(r.wgs84) if on_map and r.wgs84 is not None else None
            layer.add(on, **values)
            # outlines to a pixel: a region's edge follows pixel edges
            outline = r.frame_polygon.simplify(0.5 / report.grid_scale)
            outlines.append({"type": "Feature", "geometry": rounded(mapping(outline), 2),
                             "properties": values})  # fmt: skip
    written = []
    kinds = [VectorFormat.GEOJSON] if on_map else []
    if on_map and importlib.util.find_spec("pyogrio") is not None:  # the gis extra
        kinds.append(VectorFormat.GPKG)
    for fmt in [*kinds, VectorFormat.CSV]:
        path = out / f"change-regions.{fmt.value}"
        write_layers(path, [layer], fmt, f"Change at {report.site}")
        written.append(path)
    if not on_map:
        path = out / "change-regions.json"
        doc = {"site": report.site, "coordinates": "site-frame pixels (x right, y down)",
               "features": outlines}  # fmt: skip
        write_json_atomic(path, doc)
        written.append(path)
    series = out / "change-series.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["before_date", "after_date", "before_sha256", "after_sha256", "compared_m2",
         "changed_m2", "appeared_m2", "removed_m2", "altered_m2", "regions",
         "changed_share", "quiet_level_share", "false_alarm_per_pair", "alert"]
    )  # fmt: skip
    level = report.quiet_level
    for p in report.pairs:
        areas = [p.compared_m2, p.changed_m2(), *(p.changed_m2(k) for k in ChangeKind)]
        alert = report.alert(p)
        writer.writerow(
            [day(p.before_date), day(p.after_date), p.before, p.after,
             *("" if a is None else f"{a:.1f}" for a in areas), len(p.regions),
             f"{p.changed_share:.5f}", "" if level is None else f"{level:.5f}",
             "" if level is None else report.false_alarm,
             "" if alert is None else str(alert).lower()]
        )  # fmt: skip
    write_text_atomic(series, buffer.getvalue())
    return [*written, series]


def _row(r: ChangeRegion) -> ChangedRegion:
    return ChangedRegion(
        kind=str(r.kind), area_m2=r.area_m2, area_px=r.area_px,
        straight_before_px=r.straight_before_px, straight_after_px=r.straight_after_px,
        frame_wkt=r.frame_polygon.wkt, geometry_wgs84_wkt=None if r.wgs84 is None else r.wgs84.wkt,
    )  # fmt: skip
