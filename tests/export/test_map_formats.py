"""Map exports opened by the tools users carry them to: GDAL/OGR (ogrinfo, ogr2ogr,
gdaltransform, gdalinfo), a GeoJSON validator, and a GeoPackage round trip."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import shape
from typer.testing import CliRunner

from sitewatch.cli import app
from sitewatch.errors import ConflictError
from sitewatch.export import export_site
from sitewatch.hashing import sha256_file
from tests.conftest import DEMO_REF
from tests.export.conftest import CROP, SCALE, UTM

OGR = shutil.which("ogrinfo")
DEMO_SHA = sha256_file(DEMO_REF)
needs_gdal = pytest.mark.skipif(OGR is None, reason="GDAL's tools (apt gdal-bin) are missing")


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return done.stdout


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text())["features"]


def test_geojson_is_rfc7946_and_matches_gdaltransform(placed, tmp_path: Path) -> None:
    catalog, tif = placed
    out = tmp_path / "detections.geojson"
    summary = export_site(catalog, "placed", out)
    doc = json.loads(out.read_text())
    assert "crs" not in doc and doc["type"] == "FeatureCollection"
    feats = doc["features"]
    assert len(feats) == summary.placed["detections"] > 20
    assert summary.unplaced["detections"] == 0  # the JPEG is placed through its registration
    gv = pytest.importorskip("geojson_validator", reason="geojson-validator is a dev extra")
    assert gv.validate_structure(doc, check_crs=True) == {}
    problems = gv.validate_geometries(doc)
    assert problems["invalid"] == {} and problems["problematic"] == {}, problems
    for f in feats:
        ring = f["geometry"]["coordinates"][0]
        assert shape(f["geometry"]).exterior.is_ccw  # RFC 7946 right-hand rule
        assert all(len(str(v).split(".")[-1]) <= 6 for xy in ring for v in xy)
        assert all(not isinstance(v, list | dict) for v in f["properties"].values())
        assert f["properties"]["date_illustrative"] is True
    if OGR is None:
        pytest.skip("gdaltransform is missing (apt gdal-bin)")
    # the GeoTIFF's own boxes: corner for corner, where GDAL puts those pixels
    own = [f for f in feats if f["properties"]["image"] == tif.name]
    assert own, "no detections on the georeferenced image"
    corners = [
        [(p["x0_px"], p["y0_px"]), (p["x1_px"], p["y0_px"]), (p["x1_px"], p["y1_px"]),
         (p["x0_px"], p["y1_px"])]
        for p in (f["properties"] for f in own)
    ]  # fmt: skip
    pixels = "\n".join(f"{x} {y}" for box in corners for x, y in box)
    done = subprocess.run(["gdaltransform", "-t_srs", "EPSG:4326", str(tif)], input=pixels,
                          capture_output=True, text=True, check=True)  # fmt: skip
    gdal = np.array([[float(v) for v in line.split()[:2]] for line in done.stdout.splitlines()])
    worst = 0.0
    for i, f in enumerate(own):
        ring = np.array(f["geometry"]["coordinates"][0])
        for corner in gdal[4 * i : 4 * i + 4]:  # each GDAL corner is a vertex of our ring
            worst = max(worst, float(np.abs(ring - corner).max(axis=1).min()))
    assert worst < 6e-7  # rounding to 6 decimals, ≈ 5 cm


def test_registered_jpeg_lands_on_its_georeferenced_twin(placed, tmp_path: Path) -> None:
    catalog, tif = placed
    out = tmp_path / "d.geojson"
    export_site(catalog, "placed", out)
    feats = _features(out)
    twin = [shape(f["geometry"]).centroid for f in feats if f["properties"]["image"] == tif.name]
    news = [f for f in feats if f["properties"]["image"] == "news-photo.jpg"]
    assert news and all("registration" in f["properties"]["placed_by"] for f in news)
    # the same scene cropped and shrunk: placed through its registration, each box of the
    # JPEG lies on a box of the GeoTIFF (0.5 m pixels; boxes cut by the crop edge may not)
    metres_per_degree = 111_320 * np.cos(np.radians(twin[0].y))
    misses = []
    for f in news:
        c = shape(f["geometry"]).centroid
        misses.append(min(np.hypot((c.x - t.x) * metres_per_degree, (c.y - t.y) * 111_320)
                          for t in twin))  # fmt: skip
    # boxes found again on coarser pixels jitter by about a metre; edge-cut ones more
    assert len(news) >= 10
    assert np.median(misses) < 1.5 and np.mean(np.array(misses) < 3.0) >= 0.75, misses
    # the placement itself, against the crop and scale the photo was made with
    from sitewatch.export.placement import of_image, own
    from sitewatch.store.models import Image

    with catalog.session() as s:
        photo = s.query(Image).filter(Image.original_name == "news-photo.jpg").one()
        frame = s.query(Image).filter(Image.original_name == tif.name).one()
        placed = of_image(s, photo)
        truth = own(frame)
    assert placed is not None and truth is not None and placed.homography is not None
    grid = np.array([(x, y) for x in (50, 800, 1550) for y in (50, 700, 1400)], float)
    expected = truth.lonlat(grid / SCALE + np.array(CROP[:2]))
    err_m = np.abs(placed.lonlat(grid) - expected) * [metres_per_degree, 111_320]
    assert err_m.max() < 0.5  # under a pixel of the frame, across the whole photo


@needs_gdal
def test_geojson_survives_a_geopackage_round_trip(placed, tmp_path: Path) -> None:
    catalog, _ = placed
    src = tmp_path / "d.geojson"
    export_site(catalog, "placed", src)
    gpkg, back = tmp_path / "d.gpkg", tmp_path / "back.geojson"
    _run("ogr2ogr", "-f", "GPKG", str(gpkg), str(src))
    _run("ogr2ogr", "-f", "GeoJSON", "-lco", "COORDINATE_PRECISION=6", str(back), str(gpkg))
    a, b = _features(src), _features(back)
    assert len(a) == len(b)
    for fa, fb in zip(a, b, strict=True):
        assert fa["properties"] == fb["properties"]
        ca = np.array(fa["geometry"]["coordinates"][0])
        cb = np.array(fb["geometry"]["coordinates"][0])
        assert ca.shape == cb.shape and np.abs(ca - cb).max() < 1e-9


@needs_gdal
def test_geopackage_and_kml_open_in_gdal_with_every_layer(placed, tmp_path: Path) -> None:
    catalog, _ = placed
    expected = {"site": "Polygon", "footprints": "Polygon", "detections": "Polygon",
                "changes": "Point"}  # fmt: skip
    gpkg = tmp_path / "placed.gpkg"
    summary = export_site(catalog, "placed", gpkg)
    listing = _run("ogrinfo", "-ro", "-so", str(gpkg))
    for name, kind in expected.items():
        assert f"{name} ({kind})" in listing
    for name, n in summary.placed.items():
        info = _run("ogrinfo", "-ro", "-so", str(gpkg), name)
        assert f"Feature Count: {n}" in info
        assert 'EPSG",4326' in info.replace(" ", "")
    info = _run("ogrinfo", "-ro", "-so", str(gpkg), "detections")
    for field in ("score: Real", "x0_px: Real", "date_illustrative: Integer(Boolean)",
                  "placed_by: String", "acquired: String"):  # fmt: skip
        assert field in info
    assert summary.placed["changes"] > 0 and summary.placed["footprints"] == 2
    for suffix in ("kml", "kmz"):
        path = tmp_path / f"placed.{suffix}"
        export_site(catalog, "placed", path)
        assert "LIBKML" in _run("ogrinfo", "-ro", "-so", str(path)) or "KML" in _run(
            "ogrinfo", "-ro", "-so", str(path)
        )
        for name, n in summary.placed.items():
            dump = _run("ogrinfo", "-ro", "-al", "-q", str(path), name)
            assert dump.count("OGRFeature(") == n, (suffix, name)
            if n:
                assert "site (String) = placed" in dump  # typed ExtendedData read back
        dets = _run("ogrinfo", "-ro", "-al", "-q", str(path), "detections")
        assert "score (Real) = " in dets


def test_csv_names_units_keeps_pixels_and_the_illustrative_flag(placed, tmp_path: Path) -> None:
    catalog, _ = placed
    out = tmp_path / "d.csv"
    summary = export_site(catalog, "placed", out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == summary.placed["detections"]
    header = list(rows[0])
    assert {"x0_px", "y1_px", "lon_deg", "lat_deg", "date_illustrative", "score"} <= set(header)
    assert all(r["date_illustrative"] == "true" for r in rows)
    assert all(-180 <= float(r["lon_deg"]) <= 180 for r in rows)


def test_pixel_only_site_is_refused_for_map_formats_and_kept_in_csv(monitored, tmp_path) -> None:
    catalog, _ = monitored
    for suffix in ("geojson", "gpkg", "kml", "kmz"):
        out = tmp_path / f"apt.{suffix}"
        with pytest.raises(ConflictError, match="nothing on the map"):
            export_site(catalog, "apt", out)
        assert not out.exists() and not list(tmp_path.iterdir())  # nothing half-written
    out = tmp_path / "apt.csv"
    summary = export_site(catalog, "apt", out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == summary.unplaced["detections"] > 50
    assert all(r["lon_deg"] == "" and float(r["x1_px"]) > float(r["x0_px"]) for r in rows)


def test_cli_export_says_what_went_where_and_fails_in_one_line(placed, monitored, tmp_path):  # type: ignore[no-untyped-def]
    catalog, _ = placed
    runner = CliRunner()
    ws = str(catalog.workspace)
    res = runner.invoke(app, ["--workspace", ws, "export", "placed", str(tmp_path / "p.gpkg")])
    assert res.exit_code == 0, res.output
    assert "detections:" in res.output and "changes:" in res.output
    res = runner.invoke(app, ["--workspace", ws, "export", "placed", str(tmp_path / "p.shp")])
    assert res.exit_code != 0 and "unknown export format 'shp'" in res.output
    res = runner.invoke(
        app, ["--workspace", ws, "export", "placed", str(tmp_path / "p.geojson"), "--layer",
              "site", "--layer", "changes"],
    )  # fmt: skip
    assert res.exit_code != 0 and "holds one layer" in res.output
    res = runner.invoke(app, ["--workspace", ws, "export", "placed", str(tmp_path / "x.gpkg"),
                              "--layer", "nope"])  # fmt: skip
    assert res.exit_code != 0 and "unknown layer 'nope'" in res.output
    assert len(res.output.strip().splitlines()) == 1


@needs_gdal
def test_registered_jpeg_as_a_cloud_optimized_geotiff_in_the_frame(placed, monitored, tmp_path):  # type: ignore[no-untyped-def]
    import rasterio
    from rasterio.windows import Window

    from sitewatch.export.warp import export_registered

    catalog, tif = placed
    out = tmp_path / "news-in-frame.tif"
    photo = next(tif.parent.glob("news-photo.jpg"))
    summary = export_registered(catalog, "placed", str(photo), out)
    assert "LAYOUT=COG" in _run("gdalinfo", str(out))
    with rasterio.open(out) as warped, rasterio.open(tif) as ref:
        assert warped.crs.to_string() == UTM and warped.count == 4
        assert warped.colorinterp[3].name == "alpha"
        # the grid is the reference's: whole-pixel offsets, same pixel size
        assert warped.transform.a == ref.transform.a and warped.transform.e == ref.transform.e
        dx = (warped.transform.c - ref.transform.c) / ref.transform.a
        dy = (warped.transform.f - ref.transform.f) / ref.transform.e
        # the crop's corner, to the pixel, and the crop's extent back at full size
        assert dx == round(dx) and dy == round(dy)
        assert abs(dx - CROP[0]) <= 2 and abs(dy - CROP[1]) <= 2
        assert abs(warped.width - (CROP[2] - CROP[0])) <= 3
        a = warped.read([1, 2, 3], window=Window(100, 100, 1600, 1500)).astype(float)
        b = ref.read([1, 2, 3], window=Window(100 + dx, 100 + dy, 1600, 1500)).astype(float)
        assert np.abs(a - b).mean() < 15  # resampled back onto its twin, not shifted
    assert summary.residual_px is not None and summary.residual_px < 2
    frame_only, _ = monitored
    with pytest.raises(ConflictError, match="no georeferenced frame"):
        export_registered(frame_only, "apt", DEMO_SHA, tmp_path / "x.tif")
    assert not (tmp_path / "x.tif").exists()
