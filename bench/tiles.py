"""Dashboard tile latency on a large COG; prints JSON.

    python bench/tiles.py [--size 16384] [--tiles 300] [--format webp|png] [--workdir DIR]

Builds a ``size``² 3-band COG (JPEG-compressed, internal overviews, 0.5 m UTM) by tiling the
Joplin demo scene with per-block brightness changes, ingests it as the reference of a site,
then requests ``--tiles`` distinct 256 px tiles through the app (FastAPI's in-process client:
routing, catalog lookups, reading, resampling and encoding; no network) from both tile
routes, at zooms from full resolution down to six levels of overview:

* ``frame``: ``/api/sites/{name}/frame/{sha}/{z}/{x}/{y}.webp`` (Leaflet CRS.Simple);
* ``map``: ``/api/images/{sha}/map/{z}/{x}/{y}.webp`` (Web Mercator, rio-tiler).

Each tile is requested once (no server-side tile cache exists; an open dataset is reused).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine
from rasterio.warp import transform_bounds

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "examples" / "joplin" / "joplin-pre.tif"


def build_cog(path: Path, size: int) -> float:
    """Write the test COG; returns seconds taken."""
    start = time.perf_counter()
    with rasterio.open(SOURCE) as src:
        texture = src.read([1, 2, 3])
    th, tw = texture.shape[1:]
    rng = np.random.default_rng(0)
    tmp = path.with_suffix(".tmp.tif")
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
        "crs": "EPSG:32615", "transform": Affine(0.5, 0, 360_000, 0, -0.5, 4_110_000),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
        "photometric": "RGB", "BIGTIFF": "IF_SAFER",
    }  # fmt: skip
    with rasterio.open(tmp, "w", **profile) as dst:
        step = 2048
        for y in range(0, size, step):
            for x in range(0, size, step):
                h, w = min(step, size - y), min(step, size - x)
                ys = (np.arange(y, y + h) % th)[:, None]
                xs = (np.arange(x, x + w) % tw)[None, :]
                gain = rng.uniform(0.7, 1.3)
                block = np.clip(texture[:, ys, xs].astype(np.float32) * gain, 0, 255)
                dst.write(block.astype(np.uint8), window=((y, y + h), (x, x + w)))
    with rasterio.open(tmp) as src:
        rasterio.shutil.copy(
            src, path, driver="COG", compress="JPEG", quality=85, blocksize=512,
            overview_resampling="average", BIGTIFF="IF_SAFER",
        )  # fmt: skip
    tmp.unlink()
    return time.perf_counter() - start


def tiles_for(route: str, z_full: int, size: int, bounds: tuple, rng: np.random.Generator, n: int):
    """``n`` distinct (z, x, y) inside the image, spread over seven zoom levels."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    picked: set[tuple[int, int, int]] = set()
    while len(picked) < n:
        dz = int(rng.integers(0, min(7, z_full + 1)))
        if route == "frame":
            z = z_full - dz
            span = math.ceil(size / 256 / 2**dz)
            picked.add((z, int(rng.integers(0, span)), int(rng.integers(0, span))))
        else:
            z = z_full - dz
            lon = rng.uniform(bounds[0], bounds[2])
            lat = rng.uniform(bounds[1], bounds[3])
            t = tms.tile(lon, lat, z)
            picked.add((t.z, t.x, t.y))
    return sorted(picked, key=lambda _t: rng.random())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--tiles", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--format", choices=("webp", "png"), default="webp")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from sitewatch import Catalog, add_frame_site
    from sitewatch.web import create_app
    from sitewatch.web.security import Access
    from sitewatch.web.tiles import max_zoom

    work = args.workdir or Path(tempfile.mkdtemp(prefix="sitewatch-tiles-"))
    work.mkdir(parents=True, exist_ok=True)
    cog = work / f"large-{args.size}.tif"
    built = None if cog.is_file() else build_cog(cog, args.size)
    with rasterio.open(cog) as ds:
        overviews = ds.overviews(1)
        bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
        assert ds.profile.get("tiled") and overviews, "not a tiled COG with overviews"
    os.environ.setdefault("GDAL_CACHEMAX", "256")
    catalog = Catalog(work / "workspace")
    name = "large"
    with catalog.session() as s:
        from sqlalchemy import select

        from sitewatch.store.models import Site

        exists = s.scalar(select(Site.id).where(Site.name == name)) is not None
    if not exists:
        from sitewatch.ingest import IngestOptions, ingest
        from sitewatch.ingest.provenance import given

        ingest(catalog, [cog], IngestOptions(provenance=given("2024-01-01")))
        add_frame_site(catalog, name, str(cog))
    with catalog.session() as s:
        sha = catalog.find_image(s, cog).sha256
    app = create_app(catalog, Access("bench", True))
    rng = np.random.default_rng(1)
    results = {}
    with TestClient(app, base_url="http://127.0.0.1") as client:
        z_frame = max_zoom(args.size, args.size)
        # the zoom where a Mercator tile pixel is about a 0.5 m ground pixel at this latitude
        lat = (bounds[1] + bounds[3]) / 2
        z_map = round(math.log2(156543.03 * math.cos(math.radians(lat)) / 0.5))
        routes = {
            "frame": (f"/api/sites/{name}/frame/{sha}", z_frame),
            "map": (f"/api/images/{sha}/map", z_map),
        }
        for route, (prefix, z_full) in routes.items():
            client.get(f"{prefix}/{z_full}/0/0.webp")  # open the dataset once
            times, sizes = [], []
            for z, x, y in tiles_for(route, z_full, args.size, bounds, rng, args.tiles):
                start = time.perf_counter()
                res = client.get(f"{prefix}/{z}/{x}/{y}.{args.format}")
                times.append(time.perf_counter() - start)
                assert res.status_code == 200, res.text
                sizes.append(len(res.content))
            ms = np.array(times) * 1000
            results[route] = {
                "tiles": len(ms),
                "zooms": [max(0, z_full - 6), z_full],
                "p50_ms": round(float(np.percentile(ms, 50)), 1),
                "p95_ms": round(float(np.percentile(ms, 95)), 1),
                "max_ms": round(float(ms.max()), 1),
                "tiles_per_s": round(len(ms) / (sum(times)), 1),
                "format": args.format,
                "mean_kb": round(float(np.mean(sizes)) / 1024, 1),
            }
    catalog.close()
    print(json.dumps({
        "cog": {"size_px": args.size, "file_mb": round(cog.stat().st_size / 2**20, 1),
                "overviews": overviews, "build_s": round(built, 1) if built else None},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "routes": results,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
