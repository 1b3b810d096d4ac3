"""Scale: the pipeline over many scenes and sites on one and two local Dask workers, and the
catalog's questions at size on SQLite and on PostgreSQL/PostGIS. Prints one JSON object.

    python bench/scale.py orchestration [--scenes 10000] [--sites 1000]
    python bench/scale.py compute [--scenes 500]
    python bench/scale.py queries [--images 10000] [--detections 1000000]

``orchestration``: generated small GeoTIFFs (256 px at 0.5 m, random texture, one site each)
referenced in place (``store="reference"``); ingest rate and linking to 1,000 map sites, then
detect with the shipped aircraft model in this process, on one Dask worker and on two (one
core each), and the catalog's size. ``compute``: real 2,560 px airport scenes (the shared
Airbus images in their eight flips and rotations, so every file is distinct content),
detect in this process and on one and two Dask workers. ``queries``: a catalog filled in
bulk (sites, images with footprints, one detect run per image, detections with map
geometry, one monitoring series per site), then the questions users ask of it, timed p50/p95.

PostgreSQL runs start a throwaway server (tests/pg.py: initdb + pg_ctl on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/pg.py: the throwaway PostgreSQL server

AIRBUS = Path(os.environ.get("SITEWATCH_AIRBUS", ROOT.parent / "shared/datasets/airbus-aircraft"))
EPSG = 32615
SIDE = 256  # pixels of a small scene
GSD = 0.5
SPACING = 1000.0  # metres between sites
START = datetime(2024, 1, 1, tzinfo=UTC)


@contextmanager
def backend(name: str, root: Path) -> Iterator[str | None]:
    """The catalog URL for ``name`` (None: the workspace's SQLite file)."""
    if name == "sqlite":
        yield None
        return
    from tests.pg import TEMPLATE, Cluster

    server = Cluster()
    try:
        yield server.provide(root / "ws", TEMPLATE)
    finally:
        server.stop()


def catalog_bytes(catalog) -> int:
    from sqlalchemy import text

    if catalog.engine.dialect.name == "postgresql":
        with catalog.engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())
    db = Path(catalog.engine.url.database)
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def site_centre(k: int, sites: int) -> tuple[float, float]:
    per_row = int(np.ceil(np.sqrt(sites)))
    return 400_000 + SPACING * (k % per_row), 4_000_000 + SPACING * (k // per_row)


# ---------------------------------------------------------------------------- orchestration


def small_scenes(folder: Path, scenes: int, sites: int) -> list[Path]:
    """``scenes`` GeoTIFFs spread over ``sites`` places, weekly, each a little off centre."""
    import rasterio
    from rasterio.transform import Affine

    rng = np.random.default_rng(0)
    paths = []
    for i in range(scenes):
        k, week = i % sites, i // sites
        x, y = site_centre(k, sites)
        dx, dy = rng.uniform(-20, 20, 2)
        date = (START + timedelta(weeks=week)).strftime("%Y%m%d")
        path = folder / f"site{k:05d}_{date}.tif"
        texture = rng.integers(60, 160, (3, SIDE, SIDE), dtype=np.uint8)
        with rasterio.open(
            path, "w", driver="GTiff", width=SIDE, height=SIDE, count=3, dtype="uint8",
            crs=f"EPSG:{EPSG}", compress="deflate",
            transform=Affine(GSD, 0, x - 64 + dx, 0, -GSD, y + 64 + dy),
        ) as ds:  # fmt: skip
            ds.write(texture)
        paths.append(path)
    return paths


def add_sites(catalog, folder: Path, sites: int) -> float:
    """Map sites of 200 m around each place (an AOI GeoJSON each); returns seconds."""
    from pyproj import Transformer

    import sitewatch

    to_map = Transformer.from_crs(EPSG, 4326, always_xy=True)
    start = time.perf_counter()
    for k in range(sites):
        x, y = site_centre(k, sites)
        ring = [to_map.transform(x + a, y + b) for a, b in
                ((-100, -100), (100, -100), (100, 100), (-100, 100), (-100, -100))]  # fmt: skip
        aoi = folder / f"site{k:05d}.geojson"
        aoi.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
        sitewatch.add_geo_site(catalog, f"site{k:05d}", aoi)
    return time.perf_counter() - start


def timed_detect(catalog, images, executor, threads, force: bool) -> dict:
    import sitewatch

    start = time.perf_counter()
    report = sitewatch.run_detector(
        catalog, images, force=force, executor=executor, threads=threads
    )
    seconds = time.perf_counter() - start
    failed = [r.error for r in report.results if r.error is not None]
    assert not failed, failed[:3]
    return {"seconds": round(seconds, 1), "scenes_per_s": round(len(images) / seconds, 2)}


@contextmanager
def dask_workers(n: int) -> Iterator[tuple[object, int]]:
    """``n`` local Dask worker processes of one thread each, and the onnxruntime threads
    each task gets (one core per worker)."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster, set_as_default=False) as client:  # fmt: skip
        yield client.get_executor(), 1


def detect_three_ways(catalog, images) -> dict:
    """In this process (onnxruntime on every core), then one and two Dask workers of one
    core each: the scaling efficiency is T(1 worker) / (2 × T(2 workers))."""
    out = {"in_process": timed_detect(catalog, images, None, None, force=False)}
    for n in (1, 2):
        with dask_workers(n) as (executor, threads):
            out[f"dask_{n}_worker{'s' if n > 1 else ''}"] = timed_detect(
                catalog, images, executor, threads, force=True
            )
    one, two = out["dask_1_worker"]["seconds"], out["dask_2_workers"]["seconds"]
    out["scaling_efficiency_1_to_2"] = round(one / (2 * two), 3)
    return out


def orchestration(scenes: int, sites: int, backends: list[str]) -> dict:
    import sitewatch
    from sitewatch.store.models import Image

    results: dict = {"scenes": scenes, "sites": sites, "scene_px": SIDE}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        start = time.perf_counter()
        files = small_scenes(data, scenes, sites)
        results["generate_s"] = round(time.perf_counter() - start, 1)
        for name in backends:
            root = Path(tmp) / name
            with backend(name, root) as url:
                catalog = sitewatch.Catalog(root / "ws", db_url=url)
                sites_s = add_sites(catalog, root, sites)
                options = sitewatch.IngestOptions(
                    store="reference", date_regex=r"_(?P<date>\d{8})\.tif$"
                )
                start = time.perf_counter()
                report = sitewatch.ingest(catalog, files, options)
                ingest_s = time.perf_counter() - start
                assert report.ok, [o for o in report.outcomes if o.error][:3]
                linked = sum(1 for o in report.outcomes if o.sites)
                with catalog.session() as s:
                    images = list(s.query(Image).order_by(Image.id))
                res = {
                    "add_sites_s": round(sites_s, 1),
                    "ingest_s": round(ingest_s, 1),
                    "ingest_files_per_s": round(scenes / ingest_s, 1),
                    "linked_to_a_site": linked,
                    "detect": detect_three_ways(catalog, images),
                    "catalog_mb": round(catalog_bytes(catalog) / 1e6, 1),
                }
                results[name] = res
                catalog.close()
    return results


# --------------------------------------------------------------------------------- compute


def real_scenes(folder: Path, scenes: int) -> list[Path]:
    """``scenes`` 2,560 px airport scenes: each shared image in its eight flips/rotations."""
    import cv2

    sources = sorted((AIRBUS / "images").glob("*.jpg"))
    if not sources:
        raise SystemExit(f"no Airbus images under {AIRBUS} (set SITEWATCH_AIRBUS)")
    paths = []
    for i in range(scenes):
        src, turn = sources[i % len(sources)], i // len(sources)
        if turn >= 8:
            raise SystemExit(f"only {8 * len(sources)} distinct scenes from {len(sources)} images")
        img = cv2.imread(str(src))
        img = np.rot90(img, turn % 4)
        if turn >= 4:
            img = img[:, ::-1]
        path = folder / f"{src.stem}-{turn}.jpg"
        cv2.imwrite(str(path), np.ascontiguousarray(img), [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def compute(scenes: int) -> dict:
    import sitewatch
    from sitewatch.store.models import Image

    with tempfile.TemporaryDirectory() as tmp:
        files = real_scenes(Path(tmp), scenes)
        catalog = sitewatch.Catalog(Path(tmp) / "ws")
        options = sitewatch.IngestOptions(store="reference", allow_undated=True)
        report = sitewatch.ingest(catalog, files, options)
        assert report.ok, [o for o in report.outcomes if o.error][:3]
        with catalog.session() as s:
            images = list(s.query(Image).order_by(Image.id))
        side = images[0].width
        out = {"scenes": len(images), "scene_px": side, **detect_three_ways(catalog, images)}
        per_scene = out["in_process"]["seconds"] / len(images)
        out["in_process_s_per_scene"] = round(per_scene, 3)
        out["in_process_s_per_km2"] = round(per_scene / (side * GSD / 1000) ** 2, 3)
        catalog.close()
    return out


# --------------------------------------------------------------------------------- queries


def fill(catalog, images: int, sites: int, detections: int) -> dict:
    """Bulk rows: sites with AOIs, images with footprints (one site each, weekly), a detect
    run per image with its detections (map geometry), a monitoring series per site."""
    from pyproj import Transformer
    from sqlalchemy import insert

    from sitewatch.store.models import (
        Detection,
        Image,
        ImageSite,
        Observation,
        Run,
        Site,
    )

    to_map = Transformer.from_crs(EPSG, 4326, always_xy=True)
    rng = np.random.default_rng(1)
    per_image = detections // images

    centres = [to_map.transform(*site_centre(k, sites)) for k in range(sites)]

    def square(k: int, dx: float, dy: float, half: float) -> str:
        """A square of ``half`` metres around (dx, dy) metres from site k's centre (a local
        flat-earth step: exact enough for a benchmark, and a million of them stay cheap)."""
        lon0, lat0 = centres[k]
        per_lat, per_lon = 1 / 111_320, 1 / (111_320 * np.cos(np.radians(lat0)))
        corners = ((-half, -half), (half, -half), (half, half), (-half, half))
        pts = [(lon0 + (dx + a) * per_lon, lat0 + (dy + b) * per_lat) for a, b in corners]
        ring = ", ".join(f"{lon:.7f} {lat:.7f}" for lon, lat in [*pts, pts[0]])
        return f"POLYGON(({ring}))"

    start = time.perf_counter()
    now = datetime.now(UTC)
    with catalog.session() as s:
        s.execute(insert(Site), [
            {"id": k + 1, "name": f"site{k:05d}", "kind": "geo",
             "aoi_wgs84_wkt": square(k, 0, 0, 100)} for k in range(sites)
        ])  # fmt: skip
        s.execute(insert(Run), [
            {"id": k + 1, "stage": "monitor", "method": "counts", "version": "bench",
             "status": "ok", "parameters": {"alerts": {}, "detectors": {}},
             "started_at": now, "finished_at": now} for k in range(sites)
        ])  # fmt: skip
        image_rows, link_rows, run_rows, obs_rows = [], [], [], []
        for i in range(images):
            k, week = i % sites, i // sites
            when = START + timedelta(weeks=week)
            image_rows.append({
                "id": i + 1, "sha256": f"{i:064x}", "stored_path": f"/bench/{i}.tif",
                "original_path": f"/bench/{i}.tif", "original_name": f"{i}.tif",
                "file_size": 1, "format": "GTiff", "width": SIDE, "height": SIDE, "bands": 3,
                "dtype": "uint8", "crs_epsg": EPSG, "footprint_wgs84_wkt": square(k, 0, 0, 64),
                "gsd_m": GSD, "acquired_at": when, "extra": {}, "ingested_at": now,
            })  # fmt: skip
            link_rows.append({"image_id": i + 1, "site_id": k + 1, "method": "aoi",
                              "coverage": 0.4, "linked_at": now})  # fmt: skip
            run_rows.append({
                "id": sites + i + 1, "stage": "detect", "method": "sitewatch-aircraft",
                "version": "bench", "status": "ok", "image_id": i + 1,
                "parameters": {"classes": ["aircraft"], "threshold": 0.5},
                "started_at": now, "finished_at": now,
            })  # fmt: skip
            n = int(rng.poisson(per_image))
            obs_rows.append({
                "site_id": k + 1, "run_id": k + 1, "image_id": i + 1, "acquired_at": when,
                "class_name": "aircraft", "count": n, "estimate": float(n),
                "low": 0.8 * n, "high": 1.2 * n + 2, "coverage": 1.0, "partial": False,
                "used": True,
            })  # fmt: skip
        s.execute(insert(Image), image_rows)
        s.execute(insert(ImageSite), link_rows)
        s.execute(insert(Run), run_rows)
        s.execute(insert(Observation), obs_rows)
    written = 0
    batch = []
    for i in range(images):
        for _ in range(per_image):
            dx, dy = rng.uniform(-60, 60, 2)
            px, py = rng.uniform(0, SIDE - 20, 2)
            batch.append({
                "image_id": i + 1, "run_id": sites + i + 1, "class_name": "aircraft",
                "score": float(rng.uniform(0.02, 1)), "x0": px, "y0": py, "x1": px + 20,
                "y1": py + 20, "geometry_wgs84_wkt": square(i % sites, dx, dy, 5),
            })  # fmt: skip
        if len(batch) >= 50_000 or i == images - 1:
            with catalog.session() as s:
                s.execute(insert(Detection), batch)
            written += len(batch)
            batch = []
    if catalog.engine.dialect.name == "postgresql":  # planner statistics, as autovacuum would
        from sqlalchemy import text

        with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("ANALYZE"))
    return {"fill_s": round(time.perf_counter() - start, 1), "detections": written}


def timed(fn: Callable[[int], object], repeats: int, pick: Callable[[], int]) -> dict:
    fn(pick())  # warm the connection pool and caches
    times = []
    for _ in range(repeats):
        arg = pick()
        start = time.perf_counter()
        fn(arg)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "n": repeats,
    }


def questions(catalog, images: int, sites: int) -> dict:
    """The timed questions, through the product's own code where it has one."""
    from shapely import wkt as shapely_wkt
    from sqlalchemy import and_, func, select

    from sitewatch.monitor.stored import load_monitoring
    from sitewatch.store.catalog import select_detect_runs, selected_detections
    from sitewatch.store.models import Detection, Image, ImageSite, Observation, Site
    from sitewatch.store.spatial import overlapping

    rng = np.random.default_rng(2)
    dialect = catalog.engine.dialect.name

    def site() -> int:
        return int(rng.integers(1, sites + 1))

    def series(k: int) -> None:
        """All observations of one site between two dates (SQL)."""
        with catalog.session() as s:
            rows = s.execute(
                select(Observation.acquired_at, Observation.class_name, Observation.estimate,
                       Observation.low, Observation.high)
                .where(Observation.site_id == k,
                       Observation.acquired_at.between(START + timedelta(weeks=2),
                                                       START + timedelta(weeks=8)))
                .order_by(Observation.acquired_at)
            ).all()  # fmt: skip
        assert rows, k

    def monitoring(k: int) -> None:
        """The same through the product (load_monitoring: what report and dashboard read)."""
        load_monitoring(catalog, f"site{k - 1:05d}")

    def above_usual(_k: int) -> None:
        """Sites whose latest count is above their usual range (mean + 2 sd of the earlier
        counts), over every site at once."""
        o = Observation
        latest_at = (
            select(o.site_id, func.max(o.acquired_at).label("at"))
            .where(o.used.is_(True)).group_by(o.site_id).subquery()
        )  # fmt: skip
        latest = (
            select(o.site_id, o.estimate)
            .join(latest_at, and_(o.site_id == latest_at.c.site_id,
                                  o.acquired_at == latest_at.c.at))
            .subquery()
        )  # fmt: skip
        usual = (
            select(o.site_id, func.avg(o.estimate).label("m"),
                   func.avg(o.estimate * o.estimate).label("m2"))
            .join(latest_at, o.site_id == latest_at.c.site_id)
            .where(o.used.is_(True), o.acquired_at < latest_at.c.at)
            .group_by(o.site_id).subquery()
        )  # fmt: skip
        excess = latest.c.estimate - usual.c.m
        with catalog.session() as s:
            s.execute(
                select(latest.c.site_id)
                .join(usual, usual.c.site_id == latest.c.site_id)
                .where(excess > 0, excess * excess > 4 * (usual.c.m2 - usual.c.m * usual.c.m))
            ).all()  # fmt: skip

    def counted_boxes(i: int) -> None:
        """One image's counted detections (the viewer): run selection, then the boxes."""
        with catalog.session() as s:
            runs = select_detect_runs(s, [i])
            selected_detections(s, {c: r[i] for c, r in runs.items()})

    def images_over_aoi(k: int) -> None:
        """Images whose footprint meets a site's AOI (linking a new site)."""
        with catalog.session() as s:
            area = s.get(Site, k).aoi_wgs84_wkt
            query = select(Image.id, Image.footprint_wgs84_wkt)
            where = overlapping(Image.footprint_wgs84_wkt, area, dialect)
            if where is not None:
                query = query.where(where)
            shape = shapely_wkt.loads(area)
            hits = [i for i, fp in s.execute(query) if shapely_wkt.loads(fp).intersects(shape)]
            assert hits

    def detections_in_polygon(k: int) -> None:
        """Detections inside a polygon (a site's AOI), in the database on PostGIS."""
        with catalog.session() as s:
            area = s.get(Site, k).aoi_wgs84_wkt
            images = select(ImageSite.image_id).where(ImageSite.site_id == k)
            query = select(Detection.id, Detection.geometry_wgs84_wkt)
            where = overlapping(Detection.geometry_wgs84_wkt, area, dialect)
            # SQLite has no spatial index: the site's images narrow it first
            query = (
                query.where(where)
                if where is not None
                else query.where(Detection.image_id.in_(images))
            )
            shape = shapely_wkt.loads(area)
            hits = [i for i, g in s.execute(query) if shapely_wkt.loads(g).intersects(shape)]
            assert hits

    return {
        "site_series_between_dates": timed(series, 200, site),
        "site_series_load_monitoring": timed(monitoring, 50, site),
        "sites_latest_above_usual_range": timed(above_usual, 10, site),
        "image_counted_detections": timed(
            counted_boxes, 200, lambda: int(rng.integers(1, images + 1))
        ),
        "images_over_a_site_aoi": timed(images_over_aoi, 20, site),
        "detections_in_a_site_polygon": timed(detections_in_polygon, 50, site),
    }


def queries(images: int, detections: int, sites: int, backends: list[str]) -> dict:
    import sitewatch

    results: dict = {"images": images, "detections": detections, "sites": sites}
    for name in backends:
        with tempfile.TemporaryDirectory() as tmp, backend(name, Path(tmp)) as url:
            catalog = sitewatch.Catalog(Path(tmp) / "ws", db_url=url)
            res = fill(catalog, images, sites, detections)
            res["catalog_mb"] = round(catalog_bytes(catalog) / 1e6, 1)
            res |= questions(catalog, images, sites)
            results[name] = res
            catalog.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("part", choices=["orchestration", "compute", "queries"])
    parser.add_argument("--scenes", type=int, default=None)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--detections", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    machine = {"cpus": os.cpu_count(), "machine": platform.machine(),
               "processor": platform.processor() or platform.machine()}  # fmt: skip
    if args.part == "orchestration":
        out = orchestration(args.scenes or 10_000, args.sites, backends)
    elif args.part == "compute":
        out = compute(args.scenes or 500)
    else:
        out = queries(args.images, args.detections, args.sites, backends)
    print(json.dumps({"part": args.part, "machine": machine, **out}, indent=1))


if __name__ == "__main__":
    main()
