"""Shared fixtures: a fresh catalog per test, GeoTIFF/JPEG factories, the real demo data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from PIL import Image as PILImage
from rasterio.transform import Affine

from sitewatch import Catalog, add_frame_site, monitor_site
from sitewatch.detect import run_detector, select_images
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.monitor.stored import load_monitoring
from sitewatch.register import register_site

from . import pg

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
AIRPORT = EXAMPLES / "airport"
JOPLIN = EXAMPLES / "joplin"
SHARED = Path(os.environ.get("SITEWATCH_SHARED", ROOT.parent / "shared")) / "datasets"
DEMO_REF = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"
# the shipped aircraft model's operating threshold (its card), which a retrained model moves
AIRCRAFT_THRESHOLD = float(
    json.loads((ROOT / "src/sitewatch/models/aircraft.json").read_text())["threshold"]
)
# screenshots and other files a reviewer may want to look at after a run
ARTIFACTS = Path(os.environ.get("SITEWATCH_TEST_ARTIFACTS", ROOT / "test-artifacts"))


@pytest.fixture(scope="session", autouse=True)
def backend() -> Iterator[pg.Cluster | None]:
    """The database backend of this run: SQLite files (None), or with
    ``SITEWATCH_TEST_BACKEND=postgresql`` a throwaway PostGIS cluster in which every
    workspace a test opens gets a database of its own."""
    if not pg.enabled():
        yield None
        return
    from sitewatch.config import DEFAULT_WORKSPACE, Settings

    original = Settings.resolve.__func__  # type: ignore[attr-defined]
    with pg.cluster() as cluster, pytest.MonkeyPatch.context() as mp:

        def resolve(cls, workspace=None, db_url=None):  # type: ignore[no-untyped-def]
            if not db_url and not os.environ.get("SITEWATCH_DB"):
                ws = workspace or os.environ.get("SITEWATCH_HOME") or DEFAULT_WORKSPACE
                cluster.provide(Path(ws))
            return original(cls, workspace, db_url)

        mp.setattr(Settings, "resolve", classmethod(resolve))
        yield cluster


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip a test of SQLite's own behaviour (its file, its journal) in the PostgreSQL run."""
    return pytest.mark.skipif(pg.enabled(), reason=f"SQLite only: {reason}")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    cat = Catalog(tmp_path / "workspace")
    yield cat
    cat.close()


@pytest.fixture
def dask_cluster() -> Iterator[object]:
    """An existing Dask cluster of two worker processes, as `dask scheduler` would run
    (skipped without the scale extra)."""
    import logging

    distributed = pytest.importorskip("distributed", reason="Dask is the scale extra")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster:  # fmt: skip
        yield cluster


def busy_worker_killer(client: Any) -> tuple[Callable[..., None], threading.Event]:
    """A progress callback that, the first time it is called while a worker of ``client``'s
    cluster is busy with a task, kills that worker's process (SIGKILL, mid-task), and the
    event it sets when it has."""
    pids = client.run(os.getpid)  # worker address → its process
    killed = threading.Event()

    def kill_one(*_args: object) -> None:
        if not killed.is_set():
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                killed.set()
                os.kill(pids[busy[0]], signal.SIGKILL)

    return kill_one, killed


@pytest.fixture
def shared_datasets() -> Path:
    if not (SHARED / "airbus-aircraft" / "annotations.csv").is_file():
        pytest.skip(f"shared datasets not found at {SHARED} (set SITEWATCH_SHARED); CI has them")
    return SHARED


def write_geotiff(
    path: Path,
    *,
    crs: str | None = "EPSG:32615",
    transform: Affine | None = None,
    width: int = 64,
    height: int = 48,
    bands: int = 3,
    dtype: str = "uint8",
    tags: dict[str, str] | None = None,
    seed: int = 0,
    pixels: np.ndarray | None = None,
) -> Path:
    """A real tiled GeoTIFF of ``pixels`` (bands, rows, cols), or of random pixels (different
    seeds → different hashes)."""
    transform = transform or Affine(0.5, 0, 500_000, 0, -0.5, 4_100_000)
    if pixels is None:
        pixels = np.random.default_rng(seed).integers(0, 255, (bands, height, width))
    data = pixels.astype(dtype)
    bands, height, width = data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=bands,
        dtype=dtype,
        crs=crs,
        transform=transform,
        tiled=width >= 256 and height >= 256,
    ) as ds:
        ds.write(data)
        if tags:
            ds.update_tags(**tags)
    return path


def write_jpeg(
    path: Path, *, size: tuple[int, int] = (64, 48), exif_time: str | None = None, seed: int = 0
) -> Path:
    """A small real JPEG, optionally with an EXIF DateTimeOriginal ('YYYY:MM:DD HH:MM:SS')."""
    rng = np.random.default_rng(seed)
    im = PILImage.fromarray(rng.integers(0, 255, (size[1], size[0], 3)).astype("uint8"))
    exif = PILImage.Exif()
    if exif_time:
        exif.get_ifd(0x8769)[0x9003] = exif_time
    im.save(path, "JPEG", quality=90, exif=exif.tobytes())
    return path


@pytest.fixture
def geotiff_factory(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(name: str | None = None, **kwargs) -> Path:  # type: ignore[no-untyped-def]
        n = next(counter)
        return write_geotiff(tmp_path / (name or f"scene{n}.tif"), seed=n, **kwargs)

    return make


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests save screenshots (``SITEWATCH_TEST_ARTIFACTS``, default ./test-artifacts)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def monitored(tmp_path_factory: pytest.TempPathFactory):
    """The demo airport detected, registered and monitored once per session (≈ 10 s); tests
    that write must work on a copy."""
    catalog = Catalog(tmp_path_factory.mktemp("report") / "workspace")
    add_frame_site(catalog, "apt", str(DEMO_REF))
    ingest(catalog, [AIRPORT], IngestOptions(site="apt"))
    run_detector(catalog, select_images(catalog, [], "apt"))
    register_site(catalog, "apt")
    assert "has not been monitored yet" in load_monitoring(catalog, "apt").note
    result = monitor_site(catalog, "apt", write_chips=False)
    yield catalog, result
    catalog.close()


def copy_catalog(catalog: Catalog, dest: Path) -> Catalog:
    """A writable copy of a catalog's workspace (SQLite file, WAL and image store; on
    PostgreSQL, its database copied as a template)."""
    if catalog.engine.dialect.name == "postgresql":
        from sitewatch.config import URL_FILE

        cluster = pg.ACTIVE
        assert cluster is not None, "a PostgreSQL catalog outside the backend fixture"
        catalog.engine.dispose()  # a template database must have no connections
        cluster.disconnect(cluster.database_of(catalog.workspace))
        shutil.copytree(catalog.workspace, dest, ignore=shutil.ignore_patterns(URL_FILE))
        cluster.provide(dest, template=cluster.database_of(catalog.workspace))
        return Catalog(dest)
    with catalog.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    shutil.copytree(catalog.workspace, dest)
    return Catalog(dest)


def table_counts(workspace: Path) -> dict[str, int]:
    """Rows in each of the catalog's tables (read without opening a Catalog, which would
    close runs it finds dead), and the runs still marked running."""
    from sqlalchemy import create_engine, inspect

    from sitewatch.config import Settings
    from sitewatch.store.spatial import POSTGIS_TABLES

    engine = create_engine(Settings.resolve(workspace).db_url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names()) - POSTGIS_TABLES
            counts = {
                t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one()
                for t in sorted(tables)
            }
            counts["running runs"] = conn.exec_driver_sql(
                "SELECT count(*) FROM runs WHERE status = 'running'"
            ).scalar_one()
    finally:
        engine.dispose()
    return counts


def run_at_once(*targets: Callable[[], object], timeout: float = 120) -> None:
    """Run the callables in threads of their own (concurrency tests) and wait for them all."""
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)


def building_label(catalog: Catalog, folder: Path) -> None:
    """Ingest the Joplin GeoTIFF and import one COCO "building" box on it (a label with
    map coordinates), through a COCO file written to ``folder``."""
    import json

    from sitewatch.labels import import_labels

    ingest(catalog, [JOPLIN / "joplin-pre.tif"], IngestOptions(allow_undated=True))
    coco = {
        "images": [{"id": 1, "file_name": "joplin-pre.tif", "width": 675, "height": 565}],
        "categories": [{"id": 3, "name": "building"}],
        "annotations": [{"id": 9, "image_id": 1, "category_id": 3, "bbox": [100, 200, 50, 40]}],
    }
    (folder / "b.json").write_text(json.dumps(coco))
    import_labels(catalog, folder / "b.json", images_dir=JOPLIN)


def retag_model(dest: Path, source: Path | None = None, **info: object) -> Path:
    """A real second detector: a copy of the shipped ONNX model (or ``source``) whose
    ``ModelInfo`` metadata is changed by ``info`` (name, classes, thresholds, metrics …).
    The weights are the aircraft model's, so it finds the same objects under its own
    class names: enough to run two models side by side without training one."""
    import json

    import onnx

    from sitewatch.detect.model import DEFAULT_MODEL, METADATA_KEY

    model = onnx.load(str(source or DEFAULT_MODEL))
    entry = next(p for p in model.metadata_props if p.key == METADATA_KEY)
    entry.value = json.dumps(json.loads(entry.value) | info)
    dest.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dest))
    return dest
