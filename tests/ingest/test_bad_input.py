"""Bad input: one clear line naming the file and the cause; the rest lands; nothing is lost."""

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine
from sqlalchemy import func, select, text
from typer.testing import CliRunner

import sitewatch
from sitewatch import Catalog, IngestOptions
from sitewatch.cli import app
from sitewatch.hashing import sha256_file
from sitewatch.store.models import Image, ImageSite, Run
from tests.conftest import AIRPORT, write_geotiff, write_jpeg


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width``×``height`` with one tiny IDAT chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def make_bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of bad file with the phrase its error must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    bad: dict[str, tuple[Path, str]] = {}
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    bad["empty"] = (empty, "empty")
    real = (AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg").read_bytes()
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(real[: len(real) // 3])
    (folder / "truncated.json").write_text(json.dumps({"acquired": "2024-01-01"}))
    bad["truncated jpeg"] = (truncated, "truncated")
    tif = write_geotiff(folder / "whole.tif", width=512, height=512, seed=7)
    cut = folder / "truncated.tif"
    cut.write_bytes(tif.read_bytes()[: tif.stat().st_size // 2])
    tif.unlink()
    bad["truncated geotiff"] = (cut, "truncated or corrupt")
    corrupt = folder / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00" + np.random.default_rng(1).bytes(4000))
    bad["corrupt tiff"] = (corrupt, "corrupt")
    notimage = folder / "notes.tif"
    notimage.write_text("this is a shopping list, not a GeoTIFF\n")
    bad["not an image"] = (notimage, "not an image")
    local = folder / "local-crs.tif"
    with rasterio.open(
        local,
        "w",
        driver="GTiff",
        width=32,
        height=32,
        count=1,
        dtype="uint8",
        crs=CRS.from_wkt('LOCAL_CS["site grid",UNIT["metre",1],AXIS["E",EAST],AXIS["N",NORTH]]'),
        transform=Affine(1, 0, 0, 0, -1, 100),
    ) as ds:
        ds.write(np.zeros((1, 32, 32), "uint8"))
    bad["unknown crs"] = (local, "unknown or unusable CRS")
    nocrs = write_geotiff(folder / "no-crs.tif", crs=None, seed=8)
    bad["transform without crs"] = (nocrs, "no CRS")
    undated = write_jpeg(folder / "undated.jpg", seed=9)
    bad["missing date"] = (undated, "no acquisition time")
    baddate = write_jpeg(folder / "bad-date.jpg", seed=10)
    (folder / "bad-date.json").write_text(json.dumps({"acquired": "last tuesday"}))
    bad["unparseable date"] = (baddate, "unparseable acquisition time 'last tuesday'")
    typo = write_jpeg(folder / "typo.jpg", seed=11)
    (folder / "typo.json").write_text(json.dumps({"aquired": "2024-01-01"}))
    bad["sidecar typo"] = (typo, "unknown sidecar key(s) aquired")
    huge = _png_header_only(folder / "huge.png", 2_000_000, 20)
    bad["absurd dimensions"] = (huge, "absurd dimensions")
    tiny = _png_header_only(folder / "tiny.png", 4, 4)
    bad["icon-sized"] = (tiny, "too small")
    return bad


def _dump(catalog: Catalog) -> list:
    """Every row of every catalog table (but runs), to compare states."""
    with catalog.engine.connect() as conn:
        rows = []
        for table in ("images", "sites", "image_sites", "labels", "label_sets", "detections"):
            rows += [(table, *r) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    return rows


def test_batch_reports_each_bad_file_and_ingests_the_rest(catalog: Catalog, tmp_path: Path) -> None:
    bad = make_bad_files(tmp_path / "bad")
    assert len(bad) >= 6
    good = [
        write_geotiff(
            tmp_path / f"good{i}.tif", seed=100 + i, tags={"ACQUISITION_DATE": f"2024-05-0{i + 1}"}
        )
        for i in range(2)
    ]
    report = sitewatch.ingest(catalog, [good[0], *(p for p, _ in bad.values()), good[1]])
    by_path = {o.path: o for o in report.outcomes}
    for kind, (path, phrase) in bad.items():
        outcome = by_path[path]
        assert outcome.status == "failed", kind
        assert outcome.message.startswith(str(path)), (kind, outcome.message)
        assert phrase in outcome.message, (kind, outcome.message)
        assert "\n" not in outcome.message
    assert [by_path[p].status for p in good] == ["ingested", "ingested"]
    with catalog.session() as s:
        assert s.scalar(select(func.count(Image.id))) == 2
        run = s.scalar(select(Run).where(Run.stage == "ingest"))
        assert run.status == "partial" and run.finished_at is not None
    stored = sorted((catalog.workspace / "images").rglob("*"))
    files = [p for p in stored if p.is_file()]
    assert len(files) == 2 and not any(p.name.startswith(".incoming") for p in stored)
    assert {sha256_file(p) for p in files} == {sha256_file(p) for p in good}


def test_ingesting_twice_changes_nothing(catalog: Catalog, tmp_path: Path) -> None:
    files = [write_geotiff(tmp_path / f"s{i}.tif", seed=i) for i in range(3)]
    opts = IngestOptions(allow_undated=True)
    first = sitewatch.ingest(catalog, files, opts)
    before = _dump(catalog)
    store_before = sorted(p.name for p in (catalog.workspace / "images").rglob("*.tif"))
    second = sitewatch.ingest(catalog, files, opts)
    assert [o.status for o in first.outcomes] == ["ingested"] * 3
    assert [o.status for o in second.outcomes] == ["duplicate"] * 3
    assert all("already in the catalog" in o.message for o in second.outcomes)
    assert _dump(catalog) == before
    assert sorted(p.name for p in (catalog.workspace / "images").rglob("*.tif")) == store_before


def test_same_content_under_another_name_is_a_duplicate(catalog: Catalog, tmp_path: Path) -> None:
    a = write_geotiff(tmp_path / "a.tif", seed=5)
    b = tmp_path / "copy-of-a.tif"
    b.write_bytes(a.read_bytes())
    report = sitewatch.ingest(catalog, [a, b], IngestOptions(allow_undated=True))
    assert [o.status for o in report.outcomes] == ["ingested", "duplicate"]


def test_failed_catalog_write_leaves_no_file_behind(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sitewatch.ingest import pipeline

    def boom(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise sitewatch.SitewatchError("simulated catalog failure")

    monkeypatch.setattr(pipeline, "auto_link_image", boom)
    path = write_geotiff(tmp_path / "a.tif", seed=3)
    report = sitewatch.ingest(catalog, [path], IngestOptions(allow_undated=True))
    assert report.outcomes[0].status == "failed"
    assert [p for p in (catalog.workspace / "images").rglob("*") if p.is_file()] == []
    with catalog.session() as s:
        assert s.scalar(select(func.count(Image.id))) == 0
        assert s.scalar(select(func.count(ImageSite.id))) == 0


def test_cli_batch_exit_code_and_one_line_per_failure(tmp_path: Path) -> None:
    bad = make_bad_files(tmp_path / "bad")
    good = write_geotiff(tmp_path / "good.tif", seed=42, tags={"ACQUISITION_DATE": "2024-05-01"})
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "--workspace",
            str(tmp_path / "ws"),
            "ingest",
            str(good),
            str(tmp_path / "bad"),
            str(tmp_path / "does-not-exist.tif"),
        ],
    )
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    # the folder walk finds every bad raster (not the sidecars or notes), plus the missing path
    assert len(errors) == len(bad) + 1, result.stderr
    assert any("does-not-exist.tif: no such file" in e for e in errors)
    assert "1 ingested" in result.stdout
    assert Catalog(tmp_path / "ws").count_images() == 1


def test_cli_unknown_site_fails_before_anything_is_written(tmp_path: Path) -> None:
    good = write_geotiff(tmp_path / "good.tif", seed=42)
    result = CliRunner().invoke(
        app, ["-w", str(tmp_path / "ws"), "ingest", str(good), "--site", "nowhere", "--undated"]
    )
    assert result.exit_code == 1
    assert "no site named 'nowhere'" in result.stderr
    assert Catalog(tmp_path / "ws").count_images() == 0


def test_cli_bad_acquired_flag(tmp_path: Path) -> None:
    good = write_geotiff(tmp_path / "good.tif", seed=42)
    result = CliRunner().invoke(
        app, ["-w", str(tmp_path / "ws"), "ingest", str(good), "--acquired", "2024-13-45"]
    )
    assert result.exit_code == 1
    assert "--acquired: unparseable --acquired '2024-13-45'" in result.stderr
