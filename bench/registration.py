"""Registration accuracy on real imagery; prints JSON.

    python bench/registration.py [--data ../shared/datasets] [--warps 20]

1. Known warps: Airbus scenes warped by random homographies (±6°, ±6 % scale, shifts,
   slight perspective) with brightness/contrast changes and crops; corner RMSE in pixels.
2. Exact crops: images of one ``acquisition_id`` are pixel-identical crops, offset by
   multiples of 256 px; the error is the distance to the nearest such pure translation.
3. Different dates: every pair of acquisitions of a site; how many register, and the cycle
   consistency A→B→C vs A→C inside the triple overlap.
4. Joplin pre (UTM) / post (EPSG:4326) tiles: through the map, then image refinement; the
   residual left after refinement, measured again by correlation windows, in metres.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from shapely.geometry import Point

from sitewatch import Catalog, add_geo_site
from sitewatch.frame import project, warp
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.register import RegisterConfig, register_site
from sitewatch.register import features as ft
from sitewatch.register.area import refine_by_windows
from sitewatch.register.georef import footprint_in
from sitewatch.register.imagery import load_gray

CFG = ft.MatchConfig()


def corner_rmse(h: np.ndarray, truth: np.ndarray, w: int, hh: int) -> float:
    c = np.array([[0, 0], [w, 0], [w, hh], [0, hh]], float)
    d = project(h, c) - project(truth, c)
    return float(np.sqrt((d**2).sum(axis=1).mean()))


def pair(moving: np.ndarray, fixed: np.ndarray, fm=None, ff=None) -> ft.Fit:
    fm = fm or ft.extract(moving, CFG)
    ff = ff or ft.extract(fixed, CFG)
    return ft.register(fm, ff, CFG, moving.shape)


def known_warps(images: list[Path], n: int) -> dict:
    rng = np.random.default_rng(0)
    errors = []
    for i in range(n):
        gray, _ = load_gray(images[i % len(images)], 4096)
        a, s = np.deg2rad(rng.uniform(-6, 6)), rng.uniform(0.94, 1.06)
        truth = np.array(
            [
                [s * np.cos(a), -s * np.sin(a), rng.uniform(-80, 80)],
                [s * np.sin(a), s * np.cos(a), rng.uniform(-80, 80)],
                [rng.uniform(-4e-6, 4e-6), rng.uniform(-4e-6, 4e-6), 1.0],
            ]
        )  # moving → reference
        size = (2200, 2200)
        moving = warp(gray, np.linalg.inv(truth), size)
        moving = np.clip(moving * rng.uniform(0.6, 1.3) + rng.uniform(-30, 30), 1, 255)
        fit = pair(moving.astype(np.uint8), gray)
        errors.append(corner_rmse(fit.matrix, truth, *size) if fit.ok else float("inf"))
    e = np.array(errors)
    return {"cases": n, "max_px": float(e.max()), "median_px": float(np.median(e)),
            "within_1px": float((e <= 1).mean())}  # fmt: skip


def exact_crops(groups: dict[str, list[Path]]) -> dict:
    errors, failed = [], 0
    for paths in groups.values():
        grays = {p: load_gray(p, 4096)[0] for p in paths}
        feats = {p: ft.extract(g, CFG) for p, g in grays.items()}
        for a, b in itertools.combinations(paths, 2):
            fit = pair(grays[a], grays[b], feats[a], feats[b])
            if not fit.ok:
                failed += 1  # crops of one acquisition may not overlap at all
                continue
            shift = np.round(fit.matrix[:2, 2] / 256) * 256
            truth = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1.0]])
            errors.append(corner_rmse(fit.matrix, truth, 2560, 2560))
    e = np.array(errors)
    return {"pairs_registered": len(errors), "pairs_not_overlapping_or_failed": failed,
            "max_px": float(e.max()), "median_px": float(np.median(e)),
            "within_0_5px": float((e <= 0.5).mean())}  # fmt: skip


def dates(sites: dict[str, dict[str, Path]]) -> dict:
    ok, tried, cycles, where, failed = 0, 0, [], [], []
    for acqs in sites.values():
        if len(acqs) < 2:
            continue
        grays = {k: load_gray(p, 4096)[0] for k, p in acqs.items()}
        feats = {k: ft.extract(g, CFG) for k, g in grays.items()}
        fits = {}
        for a, b in itertools.permutations(acqs, 2):
            fit = pair(grays[a], grays[b], feats[a], feats[b])
            if a < b:
                tried += 1
                ok += fit.ok
                if not fit.ok:
                    failed.append(f"{a}–{b[-2:]}: {fit.reason}")
            if fit.ok:
                fits[a, b] = fit.matrix
        for a, b, c in itertools.permutations(acqs, 3):
            if (a, b) in fits and (b, c) in fits and (a, c) in fits:
                box = footprint_in((2560, 2560), np.eye(3))
                common = box.intersection(
                    footprint_in((2560, 2560), np.linalg.inv(fits[a, b]))
                ).intersection(footprint_in((2560, 2560), np.linalg.inv(fits[a, c])))
                if common.area < 0.05 * box.area:
                    continue
                x0, y0, x1, y1 = common.bounds
                grid = np.array(
                    [
                        [x, y]
                        for x in np.linspace(x0, x1, 8)
                        for y in np.linspace(y0, y1, 8)
                        if common.contains(Point(x, y))
                    ]
                )
                d = project(fits[b, c] @ fits[a, b], grid) - project(fits[a, c], grid)
                cycles.append(float(np.sqrt((d**2).sum(axis=1).mean())))
                where.append(f"{a}→{b[-2:]}→{c[-2:]}")
    cy = np.array(cycles)
    worst = [f"{where[i]}: {cy[i]:.1f} px" for i in np.argsort(cy)[::-1][:8]]
    return {"pairs": tried, "registered": ok, "cycles": len(cycles),
            "cycle_max_px": float(cy.max()), "cycle_median_px": float(np.median(cy)),
            "cycles_within_2px": float((cy <= 2).mean()), "worst_cycles": worst,
            "not_registered": failed}  # fmt: skip


def crops_in_frame(
    sites: dict[str, dict[str, list[Path]]], only: set[str] | None, joint: bool
) -> dict:
    """Crops of one acquisition, each registered on its own to a site frame on another
    date's scene (``register_site``, as a user runs it): their transforms must agree up to
    the crops' exact offset. Every acquisition of a site serves as the reference in turn;
    per pair of crops, the RMS and max disagreement (frame px) over their common area."""
    per_pair, where, ties = [], [], []
    for site, acqs in sorted(sites.items()):
        if (only and site not in only) or len(acqs) < 2:
            continue
        if not any(len(crops) > 1 for crops in acqs.values()):
            continue
        offsets = _crop_offsets(acqs)
        for ref_acq, ref_crops in sorted(acqs.items()):
            everything = [p for c in acqs.values() for p in c]
            matrices, tie_rms = _registered(site, ref_crops[0], everything, joint)
            ties += tie_rms
            for acq, crops in sorted(acqs.items()):
                if acq == ref_acq:
                    continue
                for a, b in itertools.combinations(crops, 2):
                    if (a, b) not in offsets or a not in matrices or b not in matrices:
                        continue
                    d = _disagreement(matrices[a], matrices[b], offsets[a, b])
                    per_pair.append(d)
                    where.append(f"{site} frame {ref_acq[-2:]}: {acq[-2:]} crops "
                                 f"{a.name[:8]}/{b.name[:8]}")  # fmt: skip
    rms = np.array([d[0] for d in per_pair])
    worst = np.array([d[1] for d in per_pair])
    order = np.argsort(worst)[::-1][:10]
    return {"pairs": len(per_pair), "median_rms_px": float(np.median(rms)),
            "median_max_px": float(np.median(worst)), "max_px": float(worst.max()),
            "within_1px_rms": float((rms <= 1).mean()),
            "within_2px_max": float((worst <= 2).mean()),
            # per jointly adjusted image, the RMS frame distance of its tie points: how far
            # each pair's own ground fit sits from the one frame (a cycle through the joint
            # frame closes exactly; this is what is left of the pairs' disagreement)
            "joint_images": len(ties),
            "joint_tie_rms_median_px": float(np.median(ties)) if ties else None,
            "joint_tie_rms_max_px": float(np.max(ties)) if ties else None,
            "joint_tie_rms_within_2px": float((np.array(ties) <= 2).mean()) if ties else None,
            "worst": [f"{where[i]}: rms {rms[i]:.1f}, max {worst[i]:.1f} px"
                      for i in order]}  # fmt: skip


def _crop_offsets(acqs: dict[str, list[Path]]) -> dict[tuple[Path, Path], np.ndarray]:
    """Per overlapping pair of crops of one acquisition, the exact translation a → b
    (integer pixels: the crops are cut from one raster)."""
    out = {}
    for crops in acqs.values():
        grays = {p: load_gray(p, 4096)[0] for p in crops}
        for a, b in itertools.combinations(crops, 2):
            fit = pair(grays[a], grays[b])
            if fit.ok:
                t = np.round(fit.matrix[:2, 2])
                out[a, b] = np.array([[1.0, 0, t[0]], [0, 1.0, t[1]], [0, 0, 1.0]])
    return out


def _registered(
    site: str, reference: Path, images: list[Path], joint: bool
) -> tuple[dict[Path, np.ndarray], list[float]]:
    """Each image's registration to a frame site on ``reference`` (ok ones only), and the
    tie RMS of each jointly adjusted image."""
    from sitewatch import add_frame_site

    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp) / "ws")
        ingest(cat, [reference], IngestOptions(store="reference", allow_undated=True))
        add_frame_site(cat, site, str(reference))
        others = [p for p in images if p != reference]
        ingest(cat, others, IngestOptions(store="reference", allow_undated=True, site=site))
        report = register_site(cat, site, config=RegisterConfig(joint=joint))
        by_name = {p.name: p for p in images}
        ok = [r for r in report.results if r.ok]
        joined = [r.rmse_px for r in ok if r.method.endswith("+joint") and r.rmse_px is not None]
        return {by_name[r.name]: r.matrix for r in ok}, joined


def _disagreement(ta: np.ndarray, tb: np.ndarray, a_to_b: np.ndarray) -> tuple[float, float]:
    """RMS and max of |T_a(p) − T_b(S p)| over a grid of a's pixels that b also holds."""
    xs = np.linspace(0, 2560, 17)
    grid = np.array([[x, y] for x in xs for y in xs])
    inside = project(a_to_b, grid)
    keep = np.all((inside >= 0) & (inside <= 2560), axis=1)
    d = np.linalg.norm(project(ta, grid[keep]) - project(tb @ a_to_b, grid[keep]), axis=1)
    return float(np.sqrt((d**2).mean())), float(d.max())


def joplin(folder: Path) -> dict:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp) / "ws")
        pre, post = sorted((folder / "pre").glob("*.tif")), sorted((folder / "post").glob("*.tif"))
        opts = IngestOptions(store="reference", allow_undated=True)
        ingest(cat, pre + post, opts)
        for i, p in enumerate(post):
            aoi = Path(tmp) / f"aoi{i}.geojson"
            with cat.session() as s:
                fp = cat.find_image(s, str(p)).footprint_wgs84_wkt
            from shapely import wkt

            geom = wkt.loads(fp).buffer(-0.0004)
            aoi.write_text(json.dumps({"type": "Polygon",
                                       "coordinates": [list(geom.exterior.coords)]}))  # fmt: skip
            add_geo_site(cat, f"post{i}", aoi)
            with cat.session() as s:
                site = cat.get_site(s, f"post{i}")
                site.reference_image = cat.find_image(s, str(p))
                if len(site.image_links) < 2:
                    continue
            report = register_site(cat, f"post{i}")
            with cat.session() as s:
                ref = cat.find_image(s, str(p))
                ref_gray, _ = load_gray(cat.image_path(ref), 4096)
                for r in report.results:
                    if r.method == "reference" or not r.ok:
                        continue
                    img = cat.find_image(s, r.sha256)
                    gray, _ = load_gray(cat.image_path(img), 4096)
                    warped = warp(gray, r.matrix, ref_gray.shape[::-1])
                    # what a second refinement would still move, at the tile centre
                    again = refine_by_windows(warped, ref_gray)
                    centre = np.array([[ref_gray.shape[1] / 2, ref_gray.shape[0] / 2]])
                    residual = (
                        float(np.linalg.norm(project(again.matrix, centre) - centre))
                        if again.ok
                        else None
                    )
                    results.append({
                        "pre": img.original_name, "post": p.name, "method": r.method,
                        "overlap": r.overlap, "georef_shift_m": r.shift_m,
                        "window_rmse_m": None if r.rmse_px is None else r.rmse_px * 0.6,
                        "residual_after_m": None if residual is None else float(residual) * 0.6,
                    })  # fmt: skip
    refined = [r for r in results if r["method"] != "crs"]
    after = [r["residual_after_m"] for r in refined if r["residual_after_m"] is not None]
    return {"pairs": len(results), "refined": len(refined),
            "residual_after_median_m": float(np.median(after)) if after else None,
            "residual_after_max_m": float(np.max(after)) if after else None,
            "pairs_detail": results}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--warps", type=int, default=20)
    parser.add_argument("--only", choices=["crops-in-frame"], help="run this check alone")
    parser.add_argument("--sites", help="comma-separated sites for crops-in-frame")
    parser.add_argument(
        "--alone", action="store_true", help="register each image alone (no joint adjustment)"
    )
    args = parser.parse_args()
    air = args.data / "airbus-aircraft"
    with open(air / "sites.csv") as fh:
        rows = list(csv.DictReader(fh))
    groups, sites = defaultdict(list), defaultdict(dict)
    crops: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[r["acquisition_id"]].append(air / "images" / r["image_id"])
        sites[r["site_id"]].setdefault(r["acquisition_id"], air / "images" / r["image_id"])
        crops[r["site_id"]][r["acquisition_id"]].append(air / "images" / r["image_id"])
    t0 = time.perf_counter()
    only = set(args.sites.split(",")) if args.sites else None
    if args.only == "crops-in-frame":
        print(json.dumps({"crops_in_frame": crops_in_frame(crops, only, not args.alone),
                          "seconds": time.perf_counter() - t0}, indent=1))  # fmt: skip
        return
    out = {
        "known_warps": known_warps([air / "images" / r["image_id"] for r in rows[::9]], args.warps),
        "exact_crops": exact_crops({k: v for k, v in groups.items() if len(v) > 1}),
        "different_dates": dates(sites),
        "crops_in_frame": crops_in_frame(crops, only, not args.alone),
        "joplin": joplin(args.data / "joplin-pre-post"),
    }
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
