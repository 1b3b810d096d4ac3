"""Clumsy and hostile export targets and inputs: one line naming the cause, nothing
overwritten that is not the export's own file, nothing half-written left behind."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from shapely.geometry import box
from typer.testing import CliRunner

import sitewatch
from sitewatch import Catalog
from sitewatch.cli import app
from sitewatch.errors import OutputError
from sitewatch.export import export_detections, export_site
from sitewatch.files import owner_tag
from sitewatch.formats import Field, FieldType, Layer
from sitewatch.formats.kml import kml_document
from sitewatch.formats.table import records_csv
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.report.render import write_report
from sitewatch.store.models import Run
from tests.conftest import JOPLIN, building_label, copy_catalog


def _dead_tag() -> str:
    host, pid, _start = owner_tag().rsplit(".", 2)
    return f"{host}.{pid}.1"  # this pid with another start time: a previous, dead process


def test_exports_never_overwrite_the_catalog_a_device_or_a_pipe(placed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog, _ = placed
    # the catalog's own files: its SQLite database (on PostgreSQL there is none here)
    db = catalog.workspace / "catalog.sqlite"
    own = catalog.settings.image_store / "x.gpkg"
    before = db.stat().st_size if db.exists() else None
    for target in (db, own) if before is not None else (own,):
        with pytest.raises(OutputError, match="catalog's own database or image store"):
            export_site(catalog, "placed", target, fmt="gpkg")
    with pytest.raises(OutputError, match="catalog's own database"):
        write_report(catalog, "placed", tmp_path / "r.html", pdf=db if before else own)
    assert not (tmp_path / "r.html").exists()
    assert (before is None or db.stat().st_size == before) and sitewatch.list_sites(catalog)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="is not a regular file"):
        export_site(catalog, "placed", fifo)
    assert fifo.is_fifo()


def test_a_geopackage_named_otherwise_and_leftovers_of_a_killed_write(placed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog, _ = placed
    # GDAL picks its driver by suffix when it reopens a file: a .kml name must not matter
    out = tmp_path / "layers.kml"
    export_site(catalog, "placed", out, fmt="gpkg")
    assert out.read_bytes()[:16] == b"SQLite format 3\x00"
    # what a writer killed mid-GeoPackage left: the file and SQLite's journal beside it
    target = tmp_path / "x.gpkg"
    dead = [tmp_path / f".tmp-{_dead_tag()}-0123456789ab-x.gpkg{side}"
            for side in ("", "-journal", ".gpkg", ".gpkg-journal")]  # fmt: skip
    for leftover in dead:
        leftover.write_bytes(b"half")
    export_site(catalog, "placed", target)
    assert not any(p.exists() for p in dead)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layers.kml", "x.gpkg"]


def test_a_site_with_nothing_detected_exports_an_empty_collection(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "ws")
    sitewatch.add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson")
    ingest(catalog, [JOPLIN / "joplin-pre.tif"], IngestOptions(allow_undated=True))
    out = tmp_path / "d.geojson"
    summary = export_site(catalog, "joplin", out)
    assert summary.placed == {"detections": 0}
    assert json.loads(out.read_text())["features"] == []
    catalog.close()


def test_coco_results_of_no_detections_are_an_empty_list(placed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    work = copy_catalog(placed[0], tmp_path / "ws")
    with work.session() as s:  # a detection run that found nothing
        run = Run(stage="detect", method="m", version="1", parameters={}, status="ok")
        s.add(run)
        s.flush()
        run_id = run.id
    out = tmp_path / "none.json"
    export_detections(work, [run_id], out, "coco")
    assert json.loads(out.read_text()) == []  # COCO.loadRes takes this; a dataset it refuses
    work.close()


def test_labels_export_goes_by_suffix(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "ws")
    building_label(catalog, tmp_path)
    catalog.close()
    ws = str(tmp_path / "ws")
    runner = CliRunner()
    for name, start in (("l.gpkg", b"SQLite format 3"), ("l.json", b"{"), ("l.csv", b"site,")):
        res = runner.invoke(app, ["--workspace", ws, "labels", "export", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
        assert (tmp_path / name).read_bytes().startswith(start), name
    res = runner.invoke(app, ["--workspace", ws, "labels", "export", str(tmp_path / "c.txt"),
                              "--format", "COCO"])  # fmt: skip
    assert res.exit_code == 0 and json.loads((tmp_path / "c.txt").read_text())["annotations"]


def test_detect_writes_every_file_it_can_and_names_the_one_it_cannot(monitored, tmp_path) -> None:  # type: ignore[no-untyped-def]
    work = copy_catalog(monitored[0], tmp_path / "ws")
    work.close()
    g, c = tmp_path / "d.geojson", tmp_path / "d.csv"
    res = CliRunner().invoke(
        app, ["--workspace", str(tmp_path / "ws"), "detect", "--site", "apt", "--geojson", str(g),
              "--csv", str(c)],
    )  # fmt: skip
    assert res.exit_code == 1
    assert not g.exists() and len(list(csv.DictReader(c.open()))) > 50
    assert res.stderr.count("no map coordinates") == 1


def test_kml_holds_no_character_xml_cannot(tmp_path: Path) -> None:
    layer = Layer("detections", "t", (Field("image", FieldType.STRING),))
    layer.add(box(10, 10, 10.001, 10.001), image="evil\x01name\x0b.tif")
    body = kml_document([layer], "name\x00")
    root = ET.fromstring(body)  # well-formed
    assert "evil\ufffdname\ufffd.tif" in body.decode()
    assert root is not None
    if shutil.which("ogrinfo"):
        path = tmp_path / "x.kml"
        path.write_bytes(body)
        subprocess.run(["ogrinfo", "-ro", "-so", str(path)], check=True, capture_output=True)


def test_csv_numbers_keep_their_decimals() -> None:
    rows = [{"a": 123.4567, "b": 1234567.0, "c": 99_999_999.5, "d": -0.00001, "e": True}]
    text = records_csv(rows, {"a": "a", "b": "b", "c": "c", "d": "d", "e": "e"})
    assert text.splitlines()[1] == "123.4567,1234567,99999999.5,0,true"
