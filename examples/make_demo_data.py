"""Rebuild the bundled demo data from the shared datasets (run once by a maintainer).

    python examples/make_demo_data.py ../shared/datasets

- airport/: the five acquisitions of airport site-02 of the Airbus Aircraft Detection sample
  (CC BY-NC-SA 4.0), their boxes, and provenance sidecars with *illustrative* dates (the
  dataset publishes none).
- joplin/: a ~400 × 330 m window of the Joplin, Missouri tornado pre/post tiles, pre kept in
  UTM 15N (tiled GeoTIFF) and post in EPSG:4326 (COG), plus an AOI over the window.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import rasterio
from rasterio.merge import merge
from rasterio.shutil import copy as rio_copy
from rasterio.warp import transform_bounds
from rasterio.windows import from_bounds

HERE = Path(__file__).parent
AIRBUS_CREDIT = "Airbus Aircraft Detection sample dataset, © Airbus DS Intelligence"
AIRPORT_SITE = "site-02"  # in the shipped detector's training since v2 (all airports)
# one scene per acquisition (a1 and a4 have several crops: the ones over the main apron)
AIRPORT_IMAGES = {
    "site-02-a1": "ef92f434-c41b-4423-9218-4514c49f00c6.jpg",
    "site-02-a2": "78400c58-1a7c-4342-a1fb-2117cb7cbc8b.jpg",
    "site-02-a3": "7c2da441-819f-4ddd-8293-f4be5213d69e.jpg",
    "site-02-a4": "babb0ef2-ef2d-4cab-b3e2-230ae2418cdc.jpg",
    "site-02-a5": "fc1ab8ce-e531-46ed-b74b-0374cd58cf2a.jpg",
}
ILLUSTRATIVE_DATES = ["2024-03-04", "2024-04-08", "2024-04-22", "2024-05-13", "2024-06-10"]
# lon/lat window spanning the edge of the damage track
JOPLIN_BOUNDS = (-94.4930, 37.0672, -94.4885, 37.0702)


def airport(shared: Path) -> None:
    src = shared / "airbus-aircraft"
    dst = HERE / "airport"
    dst.mkdir(exist_ok=True)
    with open(src / "sites.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["image_id"] in AIRPORT_IMAGES.values()]
    rows.sort(key=lambda r: r["acquisition_id"])
    for row, date in zip(rows, ILLUSTRATIVE_DATES, strict=True):
        shutil.copyfile(src / "images" / row["image_id"], dst / row["image_id"])
        sidecar = {
            "acquired": date,
            "date_is_illustrative": True,
            "provider": "Airbus DS (Pléiades)",
            "credit": AIRBUS_CREDIT,
            "licence": "CC BY-NC-SA 4.0",
            "gsd": 0.5,
            "notes": f"Airbus sample {AIRPORT_SITE}, acquisition {row['acquisition_id']}; "
            "no date is published, this one is illustrative.",
        }
        (dst / (Path(row["image_id"]).stem + ".json")).write_text(json.dumps(sidecar, indent=1))
    keep = {r["image_id"] for r in rows}
    with (
        open(src / "annotations.csv", newline="") as fh,
        open(dst / "annotations.csv", "w", newline="") as out,
    ):
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(r for r in reader if r["image_id"] in keep)


def joplin(shared: Path) -> None:
    src = shared / "joplin-pre-post"
    dst = HERE / "joplin"
    dst.mkdir(exist_ok=True)
    profile = {
        "driver": "GTiff",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "JPEG",
        "photometric": "YCBCR",
        "jpeg_quality": 90,
    }
    with rasterio.open(src / "pre" / "tile_1361-10160.tif") as ds:
        window = (
            from_bounds(
                *transform_bounds("EPSG:4326", ds.crs, *JOPLIN_BOUNDS), transform=ds.transform
            )
            .round_offsets()
            .round_lengths()
        )
        data = ds.read(window=window)
        meta = {
            **ds.profile,
            **profile,
            "width": window.width,
            "height": window.height,
            "transform": ds.window_transform(window),
        }
    with rasterio.open(dst / "joplin-pre.tif", "w", **meta) as out:
        out.write(data)
    post = [rasterio.open(src / "post" / n) for n in ("tile_32524-5137.tif", "tile_32524-6161.tif")]
    data, transform = merge(post, bounds=JOPLIN_BOUNDS)
    meta = {
        **post[0].profile,
        **profile,
        "width": data.shape[2],
        "height": data.shape[1],
        "transform": transform,
    }
    for ds in post:
        ds.close()
    tmp = dst / "post-tmp.tif"
    with rasterio.open(tmp, "w", **meta) as out:
        out.write(data)
    rio_copy(tmp, dst / "joplin-post.tif", driver="COG", compress="JPEG", quality=90)
    tmp.unlink()
    lon0, lat0, lon1, lat1 = JOPLIN_BOUNDS
    pad = 0.0004  # AOI well inside both images
    ring = [
        [lon0 + pad, lat0 + pad],
        [lon1 - pad, lat0 + pad],
        [lon1 - pad, lat1 - pad],
        [lon0 + pad, lat1 - pad],
        [lon0 + pad, lat0 + pad],
    ]
    aoi = {
        "type": "Feature",
        "properties": {"name": "joplin-south"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    (dst / "aoi.geojson").write_text(json.dumps(aoi, indent=1))


if __name__ == "__main__":
    shared_root = Path(
        sys.argv[1] if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "datasets"
    )
    airport(shared_root)
    joplin(shared_root)
