"""`sitewatch change SITE` on real imagery: the Joplin tornado pair (a map frame in two
CRSs: maps in the frame's CRS, regions as RFC 7946 GeoJSON and GeoPackage that GDAL opens)
and the demo airport (a pixel frame: regions in frame pixels, never as degrees); bad
requests are one line."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image as PILImage
from shapely.geometry import box, shape
from typer.testing import CliRunner

import sitewatch
from sitewatch import add_frame_site, add_geo_site
from sitewatch.change import ChangeKind, change_site
from sitewatch.cli import app
from sitewatch.ingest import Dated, IngestOptions, Provenance, ingest
from sitewatch.register import register_site
from tests.conftest import DEMO_REF, JOPLIN

OGR = shutil.which("ogrinfo")


@pytest.fixture
def joplin(catalog: sitewatch.Catalog) -> sitewatch.Catalog:
    add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson")
    for name, day in (("joplin-pre.tif", 1), ("joplin-post.tif", 23)):
        acquired = Dated(datetime(2011, 5, day, tzinfo=UTC), "test")
        when = Provenance(acquired=acquired, date_is_illustrative=True)
        assert ingest(catalog, [JOPLIN / name], IngestOptions(provenance=when)).ok
    report = register_site(catalog, "joplin")
    assert all(r.ok for r in report.results), [r.reason for r in report.results]
    return catalog


def test_the_tornado_is_outlined_on_the_map(joplin: sitewatch.Catalog, tmp_path: Path) -> None:
    out = tmp_path / "change"
    report = change_site(joplin, "joplin", out=out)
    assert len(report.pairs) == 1
    pair = report.pairs[0]
    # the AOI is about 330 × 240 m, almost all of it destroyed between the dates
    assert pair.compared_m2 is not None and 50_000 < pair.compared_m2 < 100_000
    changed = pair.changed_m2()
    assert changed is not None and changed > 0.3 * pair.compared_m2
    assert pair.changed_m2(ChangeKind.REMOVED) > pair.changed_m2(ChangeKind.APPEARED)
    # the change map: in the frame's CRS, 0/1 inside, 255 outside the site
    assert pair.map_path is not None
    with rasterio.open(pair.map_path) as ds:
        assert ds.crs is not None and ds.nodata == 255
        band = ds.read(1)
        assert set(np.unique(band).tolist()) <= {0, 1, 255}
        assert 0.3 < (band == 1).sum() / (band != 255).sum() < 1
    doc = json.loads((out / "change-regions.geojson").read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert len(doc["features"]) == len(pair.regions)
    total = sum(f["properties"]["area_m2"] for f in doc["features"])
    assert total == pytest.approx(changed, rel=0.01)
    aoi = shape(json.loads((JOPLIN / "aoi.geojson").read_text())["geometry"]).buffer(1e-4)
    assert all(aoi.contains(shape(f["geometry"])) for f in doc["features"])
    gv = pytest.importorskip("geojson_validator", reason="geojson-validator is a dev extra")
    assert gv.validate_structure(doc, check_crs=True) == {}
    rows = list(csv.DictReader((out / "change-series.csv").open()))
    assert [(r["before_date"], r["after_date"]) for r in rows] == [("2011-05-01", "2011-05-23")]
    assert float(rows[0]["changed_m2"]) == pytest.approx(changed, abs=0.1)
    if OGR is None:
        pytest.skip("GDAL's tools (apt gdal-bin) are missing")
    gpkg = str(out / "change-regions.gpkg")
    info = subprocess.run(["ogrinfo", "-ro", "-so", gpkg, "change_regions"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert f"Feature Count: {len(pair.regions)}" in info.stdout and "EPSG" in info.stdout
    gdal = subprocess.run(["gdalinfo", str(pair.map_path)], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert "LAYOUT=COG" in gdal.stdout and "NoData Value=255" in gdal.stdout


def test_a_pixel_frame_keeps_regions_in_frame_pixels(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An apron (a crop of a demo scene) and the same view later with a new shed painted
    in: the shed is found, as appeared, and regions stay in frame pixels, never degrees.
    (Two real dates of this apron differ mostly by parallax and shadows, which the
    training-free baselines call change: bench/change.py is to measure that.)"""
    window = (slice(900, 1500), slice(1000, 1700))
    first = np.asarray(PILImage.open(DEMO_REF))[window]
    later = first.copy()
    later[80:120, 560:620] = (90, 90, 90)  # a new shed on the apron, 20 × 30 m at 0.5 m:
    later[82:118, 562:618] = (215, 212, 205)  # walls, roof,
    later[99:101, 562:618] = (120, 120, 118)  # and its ridge
    paths = []
    for name, pixels, day in (("first.png", first, 1), ("later.png", later, 8)):
        PILImage.fromarray(pixels).save(tmp_path / name)
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"acquired": f"2024-03-0{day}", "gsd": 0.5})
        )
        paths.append(tmp_path / name)
    add_frame_site(catalog, "apron", str(paths[0]))
    assert ingest(catalog, paths[1:], IngestOptions(site="apron")).ok
    assert all(r.ok for r in register_site(catalog, "apron").results)
    out = tmp_path / "change"
    run = CliRunner().invoke(app, ["--workspace", str(catalog.workspace), "change", "apron",
                                   "--out", str(out)])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "no alerts: this irmad method has no measured rate" in " ".join(run.output.split())
    assert not (out / "change-regions.geojson").exists()  # no map: no degrees
    doc = json.loads((out / "change-regions.json").read_text())
    assert doc["coordinates"].startswith("site-frame pixels")
    shed = box(560, 80, 620, 120)
    found = [shape(f["geometry"]) for f in doc["features"]]
    assert any(g.intersection(shed).area > 0.8 * shed.area for g in found)
    rows = list(csv.DictReader((out / "change-regions.csv").open()))
    assert len(rows) == len(found) and all(r["lon_deg"] == "" for r in rows)
    hit = [r for r, g in zip(rows, found, strict=True) if g.intersects(shed)]
    assert any(r["kind"] == "appeared" for r in hit), hit
    series = list(csv.DictReader((out / "change-series.csv").open()))
    assert [(r["before_date"], r["after_date"]) for r in series] == [("2024-03-01", "2024-03-08")]
    (tif,) = out.glob("change-*.tif")
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning), rasterio.open(tif) as ds:
        assert ds.crs is None and ds.read(1).shape == (600, 700)


def _fails(workspace: Path, *args: str) -> str:
    run = CliRunner().invoke(app, ["--workspace", str(workspace), "change", *args])
    assert run.exit_code == 1, run.output
    assert run.output.count("error:") == 1 and "Traceback" not in run.output
    return run.output


def test_bad_change_requests_are_one_line(joplin: sitewatch.Catalog, tmp_path: Path) -> None:
    ws = joplin.workspace
    assert "no site named" in _fails(ws, "nowhere")
    assert "after --to" in _fails(ws, "joplin", "--from", "2011-06-01", "--to", "2011-05-01")
    assert "change needs two" in _fails(ws, "joplin", "--from", "2011-05-10")
    assert "unknown change method" in _fails(ws, "joplin", "--method", "magic")
    assert "not an area" in _fails(ws, "joplin", "--min-area", "nan")
    for rate in ("0", "1", "nan", "-0.1"):
        assert "not a share in (0, 1)" in _fails(ws, "joplin", "--false-alarm", rate)
    assert "does not exist" in _fails(ws, "joplin", "--model", str(tmp_path / "none.onnx"))
    assert "--method cva" in _fails(ws, "joplin", "--method", "cva", "--model", "x.onnx")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "is a file" in _fails(ws, "joplin", "--out", str(a_file))
