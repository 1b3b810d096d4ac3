"""Pixel change on real imagery; prints JSON.

    python bench/change.py [--data ../shared/datasets]

1. Nuisance only: the ten NAIP dates of one quarter-quad (4 bands, 5 m, seasons and years
   apart, fields in other crops, no construction to speak of), each consecutive pair
   resampled onto the first date's grid through the map: the fraction of the area each
   method calls changed, and the same per km². Target: below 1 % (bench/RESULTS.md: both
   baselines are far above it).
2. Joplin before/after the 2011 tornado (the demo window and the whole shared overlap),
   registered by ``register_site``: the fraction called changed inside and outside today's
   building footprints (almost everything between the roads was destroyed; the labels are
   not change masks, so this is a sanity check, not a score).
3. Real destroyed buildings, labelled by eye (``bench/labels/joplin-destroyed.geojson``):
   on the Joplin tile that no model trained on (``tile_1361-10160``), each 2020 footprint
   was looked at on the 2011 dates (before and after side by side, outline drawn) and
   marked destroyed (99), unclear (11: a roof left, a tarpaulin) or no building in 2011
   (27: lawn, trees). Each method runs on the whole tile (after resampled onto before's
   grid through the map; their offset is 0.5–2 px), and a destroyed building counts as
   found when half its footprint is called changed: the recall of real destruction, per
   building and per pixel. There are no intact buildings in the tile to score precision
   on; the airport pairs' quiet false change is that side.

The methods: the trained change model where one is at hand (the shipped file, or
``--model PATH``), beside CVA (Otsu on standardised bands) and IR-MAD (χ² at 1 %), the
training-free floor of issue 18.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from sitewatch.change import ChangeMethod, change_map
from sitewatch.change.model import DEFAULT_CHANGE_MODEL

MODEL: Path | None = None  # the change model file scored (main sets it)
METHODS = [ChangeMethod.CVA, ChangeMethod.IRMAD]  # and the model, where there is one


def naip(
    folder: Path, methods: list[ChangeMethod] | None = None, model: Path | None = None
) -> dict:
    """Each method's share of the area called changed on each consecutive pair (``methods``
    and ``model``: default the bench's)."""
    import rasterio
    from rasterio.warp import Resampling, reproject

    methods = METHODS if methods is None else methods
    model = MODEL if model is None else model
    files = sorted(folder.glob("m_*.tif"))
    per_method: dict[str, list[float]] = {m.value: [] for m in methods}
    pairs = []
    for before, after in itertools.pairwise(files):
        with rasterio.open(before) as a:
            grid_a = a.read()
            profile = a.profile
            valid_a = a.read_masks(1) > 0
            with rasterio.open(after) as b:
                grid_b = np.zeros_like(grid_a)
                reproject(
                    b.read(), grid_b, src_transform=b.transform, src_crs=b.crs,
                    dst_transform=a.transform, dst_crs=a.crs, resampling=Resampling.bilinear,
                    dst_nodata=0,
                )  # fmt: skip
        valid = valid_a & (grid_b > 0).all(axis=0) & (grid_a > 0).all(axis=0)
        x, y = np.moveaxis(grid_a, 0, -1), np.moveaxis(grid_b, 0, -1)
        row = {"pair": f"{before.stem[-8:]}–{after.stem[-8:]}"}
        for m in methods:
            gsd = abs(profile["transform"].a)  # 5 m: the model resamples what it was not trained on
            found = change_map(x, y, m, valid, model=model, gsd_m=gsd).mask
            fraction = float(found.sum() / valid.sum())
            per_method[m.value].append(fraction)
            row[m.value] = round(fraction, 4)
        pairs.append(row)
    pixel_m2 = abs(profile["transform"].a * profile["transform"].e)
    return {
        "pairs": pairs,
        "pixel_m2": pixel_m2,
        **{
            m: {
                "mean_false_change": float(np.mean(v)),
                "max_false_change": float(np.max(v)),
                "false_change_m2_per_km2": float(np.mean(v)) * 1e6,
            }
            for m, v in per_method.items()
        },
    }


def joplin(data: Path, demo: Path) -> dict:
    import tempfile
    from datetime import UTC, datetime

    import shapely
    from shapely.geometry import shape

    import sitewatch
    from sitewatch import add_geo_site
    from sitewatch.change import change_site
    from sitewatch.ingest import Dated, IngestOptions, Provenance, ingest
    from sitewatch.register import register_site

    buildings = [
        shape(f["geometry"])
        for f in json.loads((data / "joplin_buildings.geojson").read_text())["features"]
    ]
    footprints = shapely.union_all(buildings)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        cat = sitewatch.Catalog(Path(tmp) / "ws")
        add_geo_site(cat, "joplin", demo / "aoi.geojson")
        for name, day in (("joplin-pre.tif", 1), ("joplin-post.tif", 23)):
            when = Provenance(acquired=Dated(datetime(2011, 5, day, tzinfo=UTC), "bench"))
            ingest(cat, [demo / name], IngestOptions(provenance=when))
        register_site(cat, "joplin")
        for m in METHODS:
            report = change_site(cat, "joplin", method=m, model=MODEL)
            pair = report.pairs[0]
            changed = shapely.union_all([r.wgs84 for r in pair.regions])
            compared = pair.compared_m2 or 0.0
            share_in = (
                changed.intersection(footprints).area / max(changed.area, 1e-12)
                if not changed.is_empty
                else 0.0
            )
            out[m.value] = {
                "compared_m2": round(compared),
                "changed_fraction": round((pair.changed_m2() or 0.0) / max(compared, 1), 3),
                "kinds_m2": {
                    k: round(sum(r.area_m2 or 0 for r in pair.regions if r.kind == k))
                    for k in ("appeared", "removed", "altered")
                },
                "changed_inside_footprints_share": round(share_in, 3),
            }
    return out


def joplin_destroyed(
    data: Path, labels: Path, methods: list[ChangeMethod] | None = None, model: Path | None = None
) -> dict:
    import rasterio
    from rasterio.features import rasterize
    from rasterio.warp import Resampling, reproject, transform_geom

    with rasterio.open(data / "pre" / "tile_1361-10160.tif") as pre:
        before = np.moveaxis(pre.read()[:3], 0, -1)
        grid, crs, gsd = pre.transform, pre.crs, abs(pre.transform.a)
    after = np.zeros_like(before)
    for f in sorted((data / "post").glob("*.tif")):
        with rasterio.open(f) as post:
            part = np.zeros((3, *before.shape[:2]), np.uint8)
            reproject(
                post.read()[:3], part, src_transform=post.transform, src_crs=post.crs,
                dst_transform=grid, dst_crs=crs, resampling=Resampling.bilinear, dst_nodata=0,
            )  # fmt: skip
            part = np.moveaxis(part, 0, -1)
            covered = part.any(axis=2)
            after[covered] = part[covered]
    valid = before.any(axis=2) & after.any(axis=2)
    methods = METHODS if methods is None else methods
    model = MODEL if model is None else model
    features = json.loads(labels.read_text())["features"]
    masks: dict[str, list[np.ndarray]] = {}
    for f in features:
        geom = transform_geom("OGC:CRS84", crs, f["geometry"])
        mask = rasterize([(geom, 1)], out_shape=valid.shape, transform=grid).astype(bool)
        masks.setdefault(f["properties"]["label"], []).append(mask & valid)
    destroyed = [m for m in masks["destroyed"] if m.any()]
    out: dict = {"buildings": {k: len(v) for k, v in masks.items()}}
    for m in methods:
        found = change_map(before, after, m, valid, model=model, gsd_m=gsd).mask
        shares = [float(found[d].mean()) for d in destroyed]
        pixels = np.logical_or.reduce(destroyed)
        out[m.value] = {
            "building_recall": round(float(np.mean([s >= 0.5 for s in shares])), 3),
            "pixel_recall": round(float(found[pixels].mean()), 3),
            "median_share_called_changed": round(float(np.median(shares)), 3),
            "tile_share_called_changed": round(float(found[valid].mean()), 3),
            "no_building_share_called_changed": round(
                float(found[np.logical_or.reduce(masks["no_building"])].mean()), 3
            ),
        }
    return out


def scored(folder: Path, only: str | None = None) -> dict:
    """Each method on LEVIR-layout pairs (those whose name matches regular expression
    ``only``: the places a model was not trained on): pooled precision, recall, F1, IoU,
    and the share of the area each calls changed beside the labelled share."""
    import re
    import tempfile

    from sitewatch.change import evaluate_pairs

    if only is not None:  # a folder of links to the chosen pairs
        keep = re.compile(only)
        chosen = Path(tempfile.mkdtemp(prefix="sitewatch-pairs-"))
        for sub in ("A", "B", "label"):
            (chosen / sub).mkdir()
            for f in (folder / sub).iterdir():
                if keep.search(f.stem):
                    (chosen / sub / f.name).symlink_to(f.resolve())
        folder = chosen
    out = {}
    for m in METHODS:
        r = evaluate_pairs(folder, m, model=MODEL)
        per = r.pop("per_pair")
        out[m.value] = {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
        out[m.value]["pairs_with_labelled_change"] = sum(p["changed_truth"] > 0 for p in per)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument(
        "--pairs", type=Path, help="LEVIR-layout pairs to score too (bench/change_pairs.py)"
    )
    parser.add_argument("--model", type=Path, help="a change model file (default: the shipped one)")
    parser.add_argument(
        "--only", help="score the --pairs whose names match this (e.g. held-out airports)"
    )
    parser.add_argument(
        "--methods", help="comma-separated methods to run (default: every one at hand)"
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to leave out: naip, joplin, destroyed",
    )
    args = parser.parse_args()
    global MODEL
    MODEL = args.model or (DEFAULT_CHANGE_MODEL if DEFAULT_CHANGE_MODEL.is_file() else None)
    if MODEL is not None:
        METHODS.insert(0, ChangeMethod.MODEL)
    if args.methods:
        METHODS[:] = [ChangeMethod.named(m) for m in args.methods.split(",")]
    skip = set(args.skip.split(","))
    t0 = time.perf_counter()
    result: dict = {"methods": [m.value for m in METHODS]}
    if "naip" not in skip:
        result["nuisance_naip"] = naip(args.data / "naip-timeseries")
    if "joplin" not in skip:
        result["joplin_demo_window"] = joplin(
            args.data / "joplin-pre-post", Path(__file__).parents[1] / "examples" / "joplin"
        )
    if "destroyed" not in skip:
        result["joplin_destroyed_buildings"] = joplin_destroyed(
            args.data / "joplin-pre-post",
            Path(__file__).parent / "labels" / "joplin-destroyed.geojson",
        )
    if args.pairs is not None:
        result["pairs"] = scored(args.pairs, args.only)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
