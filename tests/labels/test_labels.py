"""Labels: Airbus CSV and COCO import, COCO/GeoJSON export, the full shared Airbus set."""

import csv
import json
from pathlib import Path

import pytest
import rasterio
import rasterio.warp
from sqlalchemy import func, select

import sitewatch
from sitewatch import Catalog, IngestOptions
from sitewatch.errors import BadInputError, ConflictError, DatasetNotFoundError
from sitewatch.store.models import Image, Label
from tests.conftest import AIRPORT, JOPLIN, building_label


def _label_count(catalog: Catalog) -> int:
    with catalog.session() as s:
        return s.scalar(select(func.count(Label.id)))


def test_airbus_csv_import_of_the_demo_site(catalog: Catalog) -> None:
    result = sitewatch.import_labels(catalog, AIRPORT / "annotations.csv")
    assert (result.labels, result.images) == (162, 5)
    # scene fc1ab8ce was annotated twice over: 29 of its 58 boxes repeat another
    assert result.duplicates == 29
    with open(AIRPORT / "annotations.csv", newline="") as fh:
        first = next(csv.DictReader(fh))
    with catalog.session() as s:
        label = s.scalar(select(Label).where(Label.source_id == first["id"]))
        image = s.get(Image, label.image_id)
    points = eval(first["geometry"])  # trusted test data
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert (label.x0, label.y0, label.x1, label.y1) == (min(xs), min(ys), max(xs), max(ys))
    assert image.original_name == first["image_id"]
    assert image.date_is_illustrative  # the images were ingested with their sidecars
    again = sitewatch.import_labels(catalog, AIRPORT / "annotations.csv")
    assert again.already_imported and _label_count(catalog) == 162


def test_coco_round_trip(catalog: Catalog, tmp_path: Path) -> None:
    sitewatch.import_labels(catalog, AIRPORT / "annotations.csv", name="truth")
    out = tmp_path / "truth.coco.json"
    assert sitewatch.export_labels(catalog, out, "coco", label_set="truth")[0] == 133
    coco = json.loads(out.read_text())
    assert len(coco["images"]) == 5 and len(coco["annotations"]) == 133
    # one canonical category (what detections are called too); the source's names are kept
    assert coco["categories"] == [{"id": 1, "name": "aircraft", "supercategory": "object"}]
    assert {a.get("source_class") for a in coco["annotations"]} == {
        "Airplane",
        "Truncated_airplane",
    }
    other = Catalog(tmp_path / "other")
    result = sitewatch.import_labels(other, out, images_dir=AIRPORT, name="again")
    assert (result.labels, result.images, result.duplicates) == (133, 5, 0)

    def boxes(cat: Catalog) -> list:
        with cat.session() as s:
            rows = s.execute(
                select(Image.sha256, Label.class_name, Label.x0, Label.y0, Label.x1, Label.y1)
                .join(Image, Label.image_id == Image.id)
                .where(Label.duplicate.is_(False))
            ).all()
        return sorted(rows)

    assert boxes(other) == boxes(catalog)


def test_geojson_export_pixel_and_map_coordinates(catalog: Catalog, tmp_path: Path) -> None:
    building_label(catalog, tmp_path)
    sitewatch.import_labels(catalog, AIRPORT / "annotations.csv")
    out = tmp_path / "all.geojson"
    count, summary = sitewatch.export_labels(catalog, out, "geojson")
    assert count == 134 and summary.placed == {"detections": 1}
    assert summary.unplaced == {"detections": 133}  # the airport's pixels stay out of GeoJSON
    features = json.loads(out.read_text())["features"]
    assert len(features) == 1 and features[0]["properties"]["class"] == "building"
    ring = features[0]["geometry"]["coordinates"][0]
    with rasterio.open(JOPLIN / "joplin-pre.tif") as ds:
        x, y = ds.xy(200, 100, offset="ul")
        lon, lat = rasterio.warp.transform(ds.crs, "EPSG:4326", [x], [y])
    nearest = min(abs(v[0] - lon[0]) + abs(v[1] - lat[0]) for v in ring)
    assert nearest < 1e-6  # the box's top-left corner, to the 6 decimals written
    assert features[0]["properties"]["x0_px"] == 100 and features[0]["properties"]["y0_px"] == 200


def test_labels_errors(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        sitewatch.import_labels(catalog, tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,image_id,geometry,class\n1,a.jpg,not a polygon,Airplane\n")
    with pytest.raises(BadInputError, match="line 2: geometry"):
        sitewatch.import_labels(catalog, bad)
    missing = tmp_path / "missing.csv"
    missing.write_text('id,image_id,geometry,class\n1,zz.jpg,"[(0, 0), (5, 0), (5, 5)]",A\n')
    with pytest.raises(DatasetNotFoundError, match="not found"):
        sitewatch.import_labels(catalog, missing, images_dir=AIRPORT)
    outside = tmp_path / "outside.csv"
    name = "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"
    outside.write_text(
        f'id,image_id,geometry,class\n1,{name},"[(3000, 3000), (3010, 3000), '
        f'(3010, 3010)]",Airplane\n'
    )
    with pytest.raises(BadInputError, match="outside"):
        sitewatch.import_labels(catalog, outside, images_dir=AIRPORT)
    assert _label_count(catalog) == 0  # the label set is all-or-nothing
    sitewatch.import_labels(catalog, AIRPORT / "annotations.csv", name="x")
    copy = tmp_path / "annotations.csv"
    copy.write_text((AIRPORT / "annotations.csv").read_text() + "\n")
    with pytest.raises(ConflictError, match="another file"):
        sitewatch.import_labels(catalog, copy, images_dir=AIRPORT, name="x")


def test_full_shared_airbus_set(catalog: Catalog, shared_datasets: Path) -> None:
    root = shared_datasets / "airbus-aircraft"
    result = sitewatch.import_labels(
        catalog,
        root / "annotations.csv",
        options=IngestOptions(allow_undated=True, store="reference"),
    )
    assert (result.labels, result.images) == (2598, 83)
    assert result.duplicates == 181  # seven scenes annotated twice over
    assert result.failures == []
    with catalog.session() as s:
        classes = dict(
            s.execute(select(Label.class_name, func.count()).group_by(Label.class_name)).all()
        )
    assert classes == {"Airplane": 2522, "Truncated_airplane": 76}
    assert catalog.count_images() == 83


def test_coco_with_a_repeated_key_or_nan_is_refused_in_one_line(tmp_path: Path) -> None:
    from sitewatch.formats.annotations import read_coco

    dup = tmp_path / "dup.json"
    dup.write_text('{"images": [], "images": [], "annotations": [], "categories": []}')
    nan = tmp_path / "nan.json"
    nan.write_text('{"images": [], "annotations": [{"bbox": [NaN, 0, 1, 1]}], "categories": []}')
    for path in (dup, nan):
        with pytest.raises(BadInputError) as err:
            read_coco(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
