"""What the dashboard's JSON API serves, read from the catalog.

A site's page is its report's data (``report.build.report_dict``) plus what a map needs: the
site frame, the area, footprints. The overview is one line of that per site.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from sqlalchemy import select

from sitewatch import geo
from sitewatch.change import load_change
from sitewatch.claims.ledger import list_claims
from sitewatch.dates import day_or_none
from sitewatch.errors import BadInputError, NotFoundError
from sitewatch.formats.geojson import rounded
from sitewatch.frame import project
from sitewatch.monitor.stored import load_monitoring
from sitewatch.register.site import frame_matrix, image_to_frame, registrations, site_polygon
from sitewatch.report.build import report_dict
from sitewatch.store.catalog import Catalog, image_runs, run_threshold, select_detect_runs
from sitewatch.store.models import Detection, Image, ImageSite, RegistrationStatus, Site
from sitewatch.web.tiles import max_zoom


def site_detail(catalog: Catalog, name: str) -> dict[str, Any]:
    """Everything the site page shows: the report's data, the frame and the map geometry."""
    report = report_dict(load_monitoring(catalog, name), claims=list_claims(catalog, name))
    report["site_info"] = _site_info(catalog, name)
    report["state"] = site_state(report)
    return report


def site_state(report: dict[str, Any]) -> str:
    """``alert`` while an episode is open; ``warm-up`` while the newest full view has too
    little history for a baseline; ``unmonitored``; else ``normal``."""
    if report["note"]:
        return "unmonitored"
    if any(e["ongoing"] for eps in report["episodes"].values() for e in eps):
        return "alert"
    latest = [
        r["state"] for rows in report["series"].values() for r in rows if r["state"] != "partial"
    ]
    return "warm-up" if latest and latest[-1] == "warm-up" else "normal"


def overview(catalog: Catalog) -> list[dict[str, Any]]:
    """One entry per site: where it is, its latest count, a sparkline and its alert state."""
    with catalog.session() as s:
        names = s.scalars(select(Site.name).order_by(Site.name)).all()
    return [_overview_entry(site_detail(catalog, n)) for n in names]


def _overview_entry(report: dict[str, Any]) -> dict[str, Any]:
    info = report["site_info"]
    classes = report["classes"]
    # the class with the most counted views leads the line
    main = max(classes, key=lambda c: len(report["series"][c]), default=None)
    rows = [r for r in report["series"].get(main, []) if r["count"] is not None]
    full = [r for r in rows if not r["partial"]]
    latest = full[-1] if full else None
    return {
        "name": report["site"],
        "kind": info["kind"],
        "images": len(report["images"]),
        "first": info["first"],
        "last": info["last"],
        "class": main,
        "latest": None
        if latest is None
        else {k: latest[k] for k in ("date", "count", "estimate", "low", "high", "sha256")},
        "sparkline": [{"date": r["date"], "estimate": r["estimate"]} for r in full],
        "state": report["state"],
        "episodes": sum(len(e) for e in report["episodes"].values()),
        "aoi": info["aoi"],
        "map_image": info["map_image"],
        "note": report["note"],
    }


def _site_info(catalog: Catalog, name: str) -> dict[str, Any]:
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        ref = site.reference_image
        regs = registrations(s, site)
        images = s.scalars(
            select(Image).join(ImageSite).where(ImageSite.site_id == site.id).order_by(Image.id)
        ).all()
        dates = sorted(im.acquired_at for im in images if im.acquired_at)
        frame = None
        if ref is not None:
            area = site_polygon(site, ref)
            frame = {
                "reference": ref.sha256,
                "width": ref.width,
                "height": ref.height,
                "zmax": max_zoom(ref.width, ref.height),
                "area": mapping(area),
                "registered": {
                    im.sha256: {
                        "status": regs[im.id].status,
                        "reason": regs[im.id].reason,
                        "footprint": _footprint(im, frame_matrix(regs[im.id]))
                        if regs[im.id].status == RegistrationStatus.OK
                        else None,
                    }
                    for im in images
                    if im.id in regs
                },
            }
            if ref.id not in regs:  # a frame site's reference is its own frame
                frame["registered"][ref.sha256] = {
                    "status": "ok",
                    "reason": None,
                    "footprint": _footprint(ref, np.eye(3)),
                }
        geo_images = [im for im in images if im.footprint_wgs84_wkt]
        aoi = site.aoi_wgs84_wkt
        if aoi is None and geo_images:
            aoi = geo_images[0].footprint_wgs84_wkt
        latest_geo = max(geo_images, key=lambda im: im.acquired_at or im.ingested_at, default=None)
        return {
            "name": site.name,
            "kind": site.kind,
            "notes": site.notes,
            "first": day_or_none(dates[0]) if dates else None,
            "last": day_or_none(dates[-1]) if dates else None,
            "aoi": mapping(geo.load_wkt(aoi)) if aoi else None,
            "footprints": {
                im.sha256: mapping(geo.load_wkt(im.footprint_wgs84_wkt))
                for im in geo_images
                if im.footprint_wgs84_wkt  # as geo_images are chosen; narrows the type
            },
            "map_image": latest_geo.sha256 if latest_geo else None,
            "frame": frame,
        }


def _footprint(image: Image, matrix: np.ndarray) -> list[list[float]]:
    corners = np.array([[0, 0], [image.width, 0], [image.width, image.height], [0, image.height]])
    return [[round(float(x), 1), round(float(y), 1)] for x, y in project(matrix, corners)]


def frame_detections(catalog: Catalog, name: str, sha256: str) -> dict[str, Any]:
    """The boxes that count on one image, as quadrilaterals in the site frame: for each class,
    the run of the model that gives the site's series of that class (``select_detect_runs``),
    with every stored score so the page can move the threshold. ``thresholds`` and
    ``models`` are by class; ``threshold`` is the lowest of them, ``model`` all of them."""
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        image = image_of_site(catalog, s, site, sha256)
        matrix = image_to_frame(s, site, image)
        site_images = s.scalars(select(ImageSite.image_id).where(ImageSite.site_id == site.id))
        runs = image_runs(select_detect_runs(s, site_images.all()), image.id)
        rows: list[Detection] = []
        for cls, run in sorted(runs.items()):
            rows += s.scalars(
                select(Detection).where(Detection.run_id == run.id, Detection.class_name == cls)
            ).all()
        rows.sort(key=lambda d: (-d.score, d.id))
        boxes = []
        for d in rows:
            quad = np.array([[d.x0, d.y0], [d.x1, d.y0], [d.x1, d.y1], [d.x0, d.y1]], float)
            pts = project(matrix, quad) if matrix is not None else quad
            boxes.append({
                "class": d.class_name,
                "score": round(d.score, 4),
                "frame": [[round(float(x), 1), round(float(y), 1)] for x, y in pts],
            })  # fmt: skip
        models = {cls: f"{run.method} {run.version}" for cls, run in sorted(runs.items())}
        thresholds = {cls: run_threshold(run, cls) for cls, run in sorted(runs.items())}
        return {
            "image": sha256,
            "registered": matrix is not None,
            "model": ", ".join(dict.fromkeys(models.values())) or None,
            "threshold": min(thresholds.values()) if thresholds else None,
            "models": models,
            "thresholds": thresholds,
            "classes": sorted(runs),
            "detections": boxes,
        }


def frame_changes(catalog: Catalog, name: str, before: str, after: str) -> dict[str, Any]:
    """What monitoring matched between two dates of the site (a compared pair, in either
    order): each object's centre in frame pixels, its kind and whether a chip exists."""
    from sitewatch.store.models import ObjectChange

    with catalog.session() as s:
        site = catalog.get_site(s, name)
        ids = {sha: image_of_site(catalog, s, site, sha).id for sha in (before, after)}
        rows: Sequence[ObjectChange] = []
        for b, a in ((before, after), (after, before)):
            rows = s.scalars(
                select(ObjectChange)
                .where(
                    ObjectChange.site_id == site.id,
                    ObjectChange.before_image_id == ids[b],
                    ObjectChange.after_image_id == ids[a],
                )
                .order_by(ObjectChange.id)
            ).all()
            if rows:
                before, after = b, a
                break
        return {
            "before": before,
            "after": after,
            "compared": bool(rows),
            "objects": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "class": r.class_name,
                    "x": round(r.x, 1),
                    "y": round(r.y, 1),
                    "distance_m": None if r.distance_m is None else round(r.distance_m, 2),
                    "chip": bool(r.chip_path),
                }
                for r in rows
            ],
        }


MAX_OUTLINES = 500  # a pair's outlines the viewer gets by default: the largest regions


def frame_pixel_change(
    catalog: Catalog,
    name: str,
    before: str | None = None,
    after: str | None = None,
    limit: int = MAX_OUTLINES,
) -> dict[str, Any]:
    """The pixel change ``sitewatch change`` stored for the site: every pair of dates, or the
    one of ``before`` and ``after`` (in either order; none when that pair was not compared),
    with its areas by kind and the outlines of its ``limit`` largest regions in site-frame
    pixels (what the viewer draws; x right, y down from the reference image's corner)."""
    if (before is None) != (after is None):
        raise BadInputError("before/after", "a pair needs both dates' SHA-256",
                            "give both, or neither for every stored pair")  # fmt: skip
    stored = load_change(catalog, name)  # an unknown site: NotFoundError
    if before is not None and after is not None:
        with catalog.session() as s:
            site = catalog.get_site(s, name)
            for sha in (before, after):
                image_of_site(catalog, s, site, sha)
        wanted = {before.lower(), after.lower()}
        stored = [c for c in stored if {c.before, c.after} == wanted]
    pairs = []
    for c in stored:
        largest = sorted(c.regions, key=lambda r: -(c.region_area(r) or 0.0))
        outlines = []
        for r in largest[:limit]:
            shape = _polygonal(shapely.from_wkt(r.frame_wkt))
            if shape is None:
                continue
            area = c.region_area(r)
            outlines.append({
                "kind": r.kind,
                "area": None if area is None else round(area, 1),
                "area_px": round(r.area_px, 1),
                "outline": rounded(mapping(shape), 1),  # a tenth of a frame pixel
            })  # fmt: skip
        pairs.append({**c.summary(digits=1), "outlined": len(outlines), "outlines": outlines})
    return {"site": name, "limit": limit, "pairs": pairs}


def _polygonal(shape: Any) -> Any:
    """The polygons of a stored outline (a Polygon or MultiPolygon), None if it has none."""
    parts = [p for p in getattr(shape, "geoms", [shape]) if isinstance(p, Polygon) and p.area > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def change_chip(catalog: Catalog, name: str, change_id: int) -> bytes:
    """The before|after PNG monitoring wrote for one changed object of the site."""
    from sitewatch.errors import NotFoundError
    from sitewatch.store.models import ObjectChange

    with catalog.session() as s:
        site = catalog.get_site(s, name)
        row = s.get(ObjectChange, change_id)
        if row is None or row.site_id != site.id or not row.chip_path:
            raise NotFoundError(f"site {name!r} has no chip for change {change_id}")
        path = (catalog.workspace / row.chip_path).resolve()
    if not path.is_relative_to(catalog.workspace.resolve()) or not path.is_file():
        raise NotFoundError(f"the chip of change {change_id} is missing; re-run monitor")
    return path.read_bytes()


def image_of_site(catalog: Catalog, session: Any, site: Site, sha256: str) -> Image:
    """An image linked to ``site`` by its full SHA-256 (no prefixes, no paths)."""
    from sitewatch.errors import NotFoundError

    image = session.scalar(
        select(Image)
        .join(ImageSite)
        .where(ImageSite.site_id == site.id, Image.sha256 == sha256.lower())
    )
    if image is None:
        raise NotFoundError(f"site {site.name!r} has no image with SHA-256 {sha256[:64]!r}")
    return image


def site_detections_geojson(catalog: Catalog, name: str) -> dict[str, Any]:
    """Each image's latest detections at the model's operating threshold, as RFC 7946
    GeoJSON: those on images with map coordinates (the rest are in the CSV export)."""
    from sitewatch.export.layers import site_layers
    from sitewatch.formats.geojson import feature_collection

    return feature_collection(site_layers(catalog, name, {"detections"})[0])


# CSV headers name their units (a spreadsheet keeps no schema)
COUNT_COLUMNS = {
    "class": "class", "date": "date", "date_illustrative": "date_illustrative",
    "image": "image", "sha256": "sha256", "count": "count_objects",
    "estimate": "estimate_objects", "low": "low90_objects", "high": "high90_objects",
    "coverage": "coverage_fraction", "partial": "partial", "baseline": "baseline_objects",
    "usual_low": "usual_low_objects", "usual_high": "usual_high_objects", "state": "state",
}  # fmt: skip


def counts_csv(report: dict[str, Any]) -> str:
    """The report's count series, one row per image and class."""
    from sitewatch.formats.table import records_csv

    illustrative = {im["sha256"]: im["date_is_illustrative"] for im in report["images"]}
    rows = [
        {"class": cls, "date_illustrative": illustrative.get(row["sha256"]), **row}
        for cls, series in report["series"].items()
        for row in series
    ]
    return records_csv(rows, COUNT_COLUMNS)


def site_on_map(catalog: Catalog, name: str) -> bool:
    """Whether the site has anything with map coordinates to export (as ``sitewatch export``
    places it: a map area, an image's georeference, or a registration to a georeferenced
    frame)."""
    from sitewatch.export import on_map

    return on_map(catalog, name)


def shadow_check(
    catalog: Catalog,
    name: str,
    sha256: str,
    base: Sequence[float],
    tip: Sequence[float],
    when: str | None = None,
    days: tuple[date | None, date | None] = (None, None),
    height_m: float | None = None,
    height_sigma_m: float = 0.0,
    mark_m: float | None = None,
) -> dict[str, Any]:
    """A shadow marked on an image in the site frame, carried back to the image's own pixels
    and checked as `sitewatch verify sun IMAGE --base --tip` would (stored with the image)."""
    from sitewatch.verify.sunchecks import SunRequest, check_sun, claimed_or_days

    with catalog.session() as s:
        site = catalog.get_site(s, name)
        image = catalog.find_image(s, sha256)
        if not any(ln.image_id == image.id for ln in site.image_links):
            raise NotFoundError(f"{image.original_name} is not an image of site {name}")
        matrix = image_to_frame(s, site, image)
        if matrix is None:
            raise BadInputError(image.original_name, f"is not registered to {name}'s frame",
                                f"run `sitewatch register {name}`")  # fmt: skip
        back = np.linalg.inv(matrix)
    pixels = project(back, np.array([base, tip], dtype=float))
    claimed, searched = claimed_or_days(when or None, *days, names=("time", "from/to"))
    request = SunRequest(
        claimed=claimed, days=searched,
        base=(float(pixels[0, 0]), float(pixels[0, 1])),
        tip=(float(pixels[1, 0]), float(pixels[1, 1])),
        mark_m=mark_m, height_m=height_m, height_sigma_m=height_sigma_m,
    )  # fmt: skip
    return check_sun(catalog, sha256, request).to_dict()
