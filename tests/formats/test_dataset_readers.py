"""The five training-dataset readers on files written in each format's exact layout, with
real image files: boxes in pixels, the awkward parts of each format, and one clear error
naming the file and the line (or feature) for each malformed input.

The ``make_*`` builders are shared with tests/detect/test_train_formats.py: every dataset
has two places, so training can hold one out.
"""

from __future__ import annotations

import csv
import json
import shutil
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sitewatch.errors import BadInputError
from sitewatch.formats.annotations import (
    AnnotatedSet,
    BoxRecord,
    read_airbus_csv,
    read_coco,
    read_coco_set,
)
from sitewatch.formats.dota import read_dota
from sitewatch.formats.xview import read_xview
from sitewatch.formats.yolo import read_yolo

Box = tuple[float, float, float, float]
W, H = 200, 160


def write_image(path: Path, boxes: Sequence[Box] = (), size: tuple[int, int] = (W, H)) -> Path:
    """A real image (JPEG, PNG or TIFF by suffix): dark noise with a bright rectangle on
    each box, so a detector has something to learn."""
    w, h = size
    rng = np.random.default_rng(len(path.name) + w)
    pixels = rng.integers(20, 60, (h, w, 3)).astype(np.uint8)
    for x0, y0, x1, y1 in boxes:
        pixels[max(int(y0), 0) : int(y1), max(int(x0), 0) : int(x1)] = (230, 225, 210)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _lines(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# -- the datasets --------------------------------------------------------------------------

AIRBUS_BOXES = {
    "s1-a.jpg": [(20, 30, 60, 70), (120, 80, 170, 130)],
    "s2-a.jpg": [(60, 40, 110, 90)],
}


def make_airbus(root: Path) -> Path:
    """Airbus aircraft layout: annotations.csv (pixel polygons), images/, sites.csv."""
    rows = []
    for image, boxes in AIRBUS_BOXES.items():
        write_image(root / "images" / image, boxes)
        for x0, y0, x1, y1 in boxes:
            polygon = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
            rows.append([f"{image}-{x0}", image, str(polygon), "Airplane"])
    _csv(root / "annotations.csv", ["id", "image_id", "geometry", "class"], rows)
    _csv(
        root / "sites.csv",
        ["image_id", "site_id", "annotated"],
        [["s1-a.jpg", "site-1", 1], ["s2-a.jpg", "site-2", 1]],
    )
    return root


def make_coco(root: Path) -> Path:
    """COCO JSON with image fields (location, gsd) and a crowd box."""
    images = [
        {"id": 1, "file_name": "paris.jpg", "width": W, "height": H, "location": "paris"},
        {"id": 2, "file_name": "lyon.jpg", "width": W, "height": H, "location": "lyon"},
    ]
    images[0]["gsd"] = 0.3
    images[1]["gsd_m"] = 0.3
    annotations = [
        {"id": 11, "image_id": 1, "category_id": 1, "bbox": [20, 30, 40, 20], "iscrowd": 0},
        {"id": 12, "image_id": 1, "category_id": 2, "bbox": [100, 60, 80, 60], "iscrowd": 1},
        {"id": 13, "image_id": 2, "category_id": 1, "bbox": [50, 50, 30, 30]},
        {"id": 14, "image_id": 2, "category_id": 2, "bbox": [120, 80, 40, 30], "iscrowd": 0},
    ]
    categories = [{"id": 1, "name": "car"}, {"id": 2, "name": "truck"}]
    write_image(root / "images" / "paris.jpg", [(20, 30, 60, 50), (100, 60, 180, 120)])
    write_image(root / "images" / "lyon.jpg", [(50, 50, 80, 80), (120, 80, 160, 110)])
    doc = {"images": images, "annotations": annotations, "categories": categories}
    (root / "annotations.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


def make_yolo(root: Path) -> Path:
    """YOLO layout: boxes and a segmentation polygon normalised to each image's own size,
    an empty label file, an image with no label file, a label file with no image."""
    write_image(root / "images" / "a1.jpg", [(37.5, 60, 62.5, 100), (50, 40, 150, 120)])
    _lines(
        root / "labels" / "a1.txt",
        "0 0.25 0.5 0.125 0.25",
        "",
        "1 0.5 0.25 0.75 0.5 0.5 0.75 0.25 0.5",  # a diamond, as a segmentation polygon
    )
    write_image(root / "images" / "a2.png", [(60, 48, 100, 80)], size=(160, 128))
    # the second box pokes a hair past the right edge, as YOLO tools write them
    _lines(root / "labels" / "a2.txt", "0 0.5 0.5 0.25 0.25", "1 0.9375 0.5 0.13 0.25")
    write_image(root / "images" / "b1.jpg", [(137.5, 110, 162.5, 130)])
    _lines(root / "labels" / "b1.txt", "0 0.75 0.75 0.125 0.125")
    write_image(root / "images" / "b2.png")
    _lines(root / "labels" / "b2.txt")  # empty: an image with no objects
    write_image(root / "images" / "b3.tif")  # no label file: no objects either
    _lines(root / "labels" / "ghost.txt", "0 0.5 0.5 0.1 0.1")  # no image
    _lines(root / "classes.txt", "car", "truck")
    _csv(
        root / "images.csv",
        ["image", "city"],
        [[n, "alpha"] for n in ("a1.jpg", "a2.png")]
        + [[n, "beta"] for n in ("b1.jpg", "b2.png", "b3.tif")],
    )
    return root


def make_dota(root: Path) -> Path:
    """DOTA layout: header lines, oriented quadrilaterals, the difficult flag, gsd:null."""
    write_image(
        root / "images" / "g1.png",
        [(80, 20, 140, 80), (10, 10, 30, 30), (150, 100, 190, 130), (0, 140, 20, 158)],
    )
    _lines(
        root / "labelTxt" / "g1.txt",
        "imagesource:GoogleEarth",
        "gsd:0.146",
        "100 20 140 40 120 80 80 60 plane 0",  # a rotated rectangle
        "10 10 30 10 30 30 10 30 small-vehicle 1",  # difficult
        "150 100 190 100 190 130 150 130 small-vehicle",  # no difficult field
        "-2 140 20 140 20 158 -2 158 small-vehicle 0",  # past the left edge
    )
    write_image(root / "images" / "g2.jpg", [(60, 60, 100, 90), (130, 30, 170, 50)])
    _lines(
        root / "labelTxt" / "g2.txt",
        "imagesource:GF2",
        "gsd:null",
        "60 60 100 60 100 90 60 90 plane 0",
        "130 30 170 30 170 50 130 50 small-vehicle 0",
    )
    _lines(root / "labelTxt" / "orphan.txt", "imagesource:GoogleEarth", "gsd:0.2")
    return root


def _feature(image: str, type_id: int, bounds: str | None, geometry: object, fid: int) -> dict:
    props: dict[str, object] = {"image_id": image, "type_id": type_id, "feature_id": fid}
    if bounds is not None:
        props["bounds_imcoords"] = bounds
    return {"type": "Feature", "geometry": geometry, "properties": props}


SQUARE = [[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.51], [-0.1, 51.5]]]
XVIEW_FEATURES = [
    _feature("100.tif", 18, "20,30,40,50", {"type": "Polygon", "coordinates": SQUARE}, 1),
    _feature("100.tif", 73, "100,40,160,100", {"type": "MultiPolygon", "coordinates": [SQUARE]}, 2),
    _feature("200.tif", 18, "50,60,70,80", {"type": "Point", "coordinates": [-0.1, 51.5]}, 3),
    _feature("200.tif", 23, "120,90,160,110", None, 4),
    _feature("100.tif", 75, "0,0,10,10", {"type": "Polygon", "coordinates": SQUARE}, 5),
    _feature("300.tif", 82, "10,10,40,40", {"type": "Polygon", "coordinates": SQUARE}, 6),
    _feature("200.tif", 18, "5,5,5,20", {"type": "Polygon", "coordinates": SQUARE}, 7),
]


def make_xview(root: Path) -> Path:
    """xView: one GeoJSON for GeoTIFF-style chips; mixed geometry, unknown type ids."""
    doc = {"type": "FeatureCollection", "features": XVIEW_FEATURES}
    root.mkdir(parents=True, exist_ok=True)
    (root / "xView_train.geojson").write_text(json.dumps(doc), encoding="utf-8")
    write_image(root / "images" / "100.tif", [(20, 30, 40, 50), (100, 40, 160, 100)])
    write_image(root / "images" / "200.tif", [(50, 60, 70, 80), (120, 90, 160, 110)])
    write_image(root / "images" / "300.tif")
    return root


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "airbus-csv": make_airbus,
    "coco": make_coco,
    "yolo": make_yolo,
    "dota": make_dota,
    "xview": make_xview,
}


def boxes_of(found: AnnotatedSet, image: str) -> list[tuple[str, Box, bool]]:
    return [
        (r.class_name, (r.x0, r.y0, r.x1, r.y1), r.difficult)
        for r in found.boxes
        if r.file_name == image
    ]


def raises_naming(where: Path, *words: str) -> Callable[[Callable[[], object]], str]:
    """Call the reader: it must raise BadInputError naming ``where`` and each word."""

    def check(call: Callable[[], object]) -> str:
        with pytest.raises(BadInputError) as exc:
            call()
        message = str(exc.value)
        assert exc.value.path == str(where) and message.startswith(f"{where}: "), message
        for word in words:
            assert word in message, message
        assert "\n" not in message
        return message

    return check


# -- Airbus CSV ------------------------------------------------------------------------------


def test_airbus_polygons_become_boxes(tmp_path: Path) -> None:
    records = read_airbus_csv(make_airbus(tmp_path) / "annotations.csv")
    assert [(r.file_name, r.class_name, (r.x0, r.y0, r.x1, r.y1)) for r in records] == [
        (image, "Airplane", box) for image, boxes in AIRBUS_BOXES.items() for box in boxes
    ]
    assert records[0].source_id == "s1-a.jpg-20" and not any(r.difficult for r in records)


def test_airbus_bad_geometry_names_the_line(tmp_path: Path) -> None:
    csv_path = make_airbus(tmp_path) / "annotations.csv"
    rows = csv_path.read_text().splitlines()
    rows[2] = 'x,s1-a.jpg,"[(1, 2), (3, 4)",Airplane'
    csv_path.write_text("\n".join(rows) + "\n")
    raises_naming(csv_path, "line 3", "geometry")(lambda: read_airbus_csv(csv_path))


# -- COCO ------------------------------------------------------------------------------------


def test_coco_crowd_fields_and_gsd(tmp_path: Path) -> None:
    found = read_coco_set(make_coco(tmp_path) / "annotations.json")
    assert boxes_of(found, "paris.jpg") == [
        ("car", (20, 30, 60, 50), False),
        ("truck", (100, 60, 180, 120), True),  # iscrowd: 1 is an ignore region
    ]
    assert boxes_of(found, "lyon.jpg") == [
        ("car", (50, 50, 80, 80), False),
        ("truck", (120, 80, 160, 110), False),
    ]
    paris, lyon = found.images["paris.jpg"], found.images["lyon.jpg"]
    assert (paris.width, paris.height, paris.gsd_m, lyon.gsd_m) == (W, H, 0.3, 0.3)
    assert paris.fields == {"location": "paris", "gsd": "0.3"}
    assert lyon.fields == {"location": "lyon", "gsd_m": "0.3"}
    assert [r.source_id for r in found.boxes] == ["11", "12", "13", "14"]
    assert found.skipped == {}


def test_coco_malformed(tmp_path: Path) -> None:
    path = make_coco(tmp_path) / "annotations.json"
    doc = json.loads(path.read_text())
    del doc["categories"]
    path.write_text(json.dumps(doc))
    raises_naming(path, "not COCO", "categories")(lambda: read_coco_set(path))
    doc = json.loads(path.read_text()) | {"categories": [{"id": 1, "name": "car"}]}
    doc["annotations"][1]["bbox"] = [1, 2, "wide"]
    path.write_text(json.dumps(doc))
    raises_naming(path, "annotation 12", "bbox")(lambda: read_coco_set(path))
    doc["annotations"][1] = "not an annotation"
    path.write_text(json.dumps(doc))
    raises_naming(path, "annotation 1 ")(lambda: read_coco_set(path))


# -- YOLO ------------------------------------------------------------------------------------


def test_yolo_normalised_boxes_in_each_images_pixels(tmp_path: Path) -> None:
    found = read_yolo(make_yolo(tmp_path))
    assert boxes_of(found, "a1.jpg") == [
        ("car", (37.5, 60, 62.5, 100), False),
        ("truck", (50, 40, 150, 120), False),  # the polygon's extent
    ]
    # a2.png is 160 × 128: the same normalised numbers mean other pixels
    (car, edge) = boxes_of(found, "a2.png")
    assert car == ("car", (60, 48, 100, 80), False)
    assert edge[0] == "truck" and edge[1] == pytest.approx((139.6, 48, 160, 80))
    assert boxes_of(found, "b1.jpg") == [("car", (137.5, 110, 162.5, 130), False)]
    # the empty label file and the missing one: images with no objects, kept
    assert boxes_of(found, "b2.png") == boxes_of(found, "b3.tif") == []
    assert sorted(found.images) == ["a1.jpg", "a2.png", "b1.jpg", "b2.png", "b3.tif"]
    sizes = {n: (m.width, m.height) for n, m in found.images.items()}
    assert sizes["a2.png"] == (160, 128) and sizes["b3.tif"] == (W, H)
    assert found.skipped == {"label file without an image (ghost.txt)": 1}
    assert [r.source_id for r in found.boxes[:2]] == ["a1.txt:1", "a1.txt:3"]


@pytest.mark.parametrize(
    "yaml",
    [
        "names: [car, truck]\n",
        "path: .\ntrain: images\nnames:\n  0: car\n  1: truck\n",
        "names:\n  '1': truck\n  '0': car\n",
    ],
    ids=["list", "dict", "dict-string-keys"],
)
def test_yolo_names_from_data_yaml(tmp_path: Path, yaml: str) -> None:
    root = make_yolo(tmp_path)
    (root / "classes.txt").unlink()
    (root / "data.yaml").write_text(yaml)
    found = read_yolo(root)
    assert [r.class_name for r in found.boxes if r.file_name == "a1.jpg"] == ["car", "truck"]


@pytest.fixture(scope="module")
def yolo_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_yolo(tmp_path_factory.mktemp("yolo"))


def _copy(root: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(root, tmp_path / root.name))


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("2 0.5 0.5 0.1 0.1", ["line 2", "class 2 is not in the 2 class names"]),
        ("0 100 80 20 20", ["line 2", "normalised to 0…1", "'0 100 80 20 20'"]),
        ("0 0.5 0.5 0.1", ["line 2", "expected 4 numbers", "got 3"]),
        ("car 0.5 0.5 0.1 0.1", ["line 2", "is not 'class cx cy w h'"]),
        ("0 0.5 0.5 0 0.1", ["line 2", "no area"]),
    ],
    ids=["class-out-of-range", "pixels", "three-numbers", "class-name", "no-area"],
)
def test_yolo_bad_label_lines(yolo_set: Path, tmp_path: Path, line: str, words: list[str]) -> None:
    root = _copy(yolo_set, tmp_path)
    label = _lines(root / "labels" / "b1.txt", "0 0.75 0.75 0.125 0.125", line)
    raises_naming(label, *words)(lambda: read_yolo(root))


def test_yolo_bad_class_lists(yolo_set: Path, tmp_path: Path) -> None:
    root = _copy(yolo_set, tmp_path)
    classes = _lines(root / "classes.txt", "car", "", "truck", "")
    raises_naming(classes, "line 2 is empty")(lambda: read_yolo(root))
    classes.unlink()
    raises_naming(root, "classes.txt", "data.yaml")(lambda: read_yolo(root))
    yaml = _lines(root / "data.yaml", "names:", "  0: car", "  2: truck")
    raises_naming(yaml, "'names'")(lambda: read_yolo(root))


def test_yolo_needs_its_folders(tmp_path: Path) -> None:
    raises_naming(tmp_path, "images/ and labels/")(lambda: read_yolo(tmp_path))


# -- DOTA ------------------------------------------------------------------------------------


def test_dota_headers_quadrilaterals_and_difficult(tmp_path: Path) -> None:
    found = read_dota(make_dota(tmp_path))
    assert boxes_of(found, "g1.png") == [
        ("plane", (80, 20, 140, 80), False),  # the rotated rectangle's enclosing box
        ("small-vehicle", (10, 10, 30, 30), True),
        ("small-vehicle", (150, 100, 190, 130), False),
        ("small-vehicle", (0, 140, 20, 158), False),  # clipped at the left edge
    ]
    assert boxes_of(found, "g2.jpg") == [
        ("plane", (60, 60, 100, 90), False),
        ("small-vehicle", (130, 30, 170, 50), False),
    ]
    g1, g2 = found.images["g1.png"], found.images["g2.jpg"]
    assert g1.fields == {"imagesource": "GoogleEarth", "gsd": "0.146"} and g1.gsd_m == 0.146
    assert g2.fields == {"imagesource": "GF2", "gsd": "null"} and g2.gsd_m is None
    assert found.skipped == {"label file without an image (orphan.txt)": 1}
    assert found.boxes[0].source_id == "g1.txt:3"


@pytest.fixture(scope="module")
def dota_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dota(tmp_path_factory.mktemp("dota"))


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("10 10 30 10 30 30 10", ["line 4", "expected 'x1 y1 … x4 y4 class [difficult]'"]),
        ("10 10 30 ten 30 30 10 30 plane 0", ["line 4", "non-number"]),
        ("10 10 30 10 30 30 10 30 plane hard", ["line 4", "non-number"]),
        ("10 10 10 10 10 10 10 10 plane 0", ["line 4", "no area"]),
        ("gsd:fine", ["line 4", "gsd 'fine' is not a number"]),
        ("-30 10 -10 10 -10 30 -30 30 plane 0", ["line 4", "outside the image, left of it"]),
        ("10 -30 30 -30 30 -10 10 -10 plane 0", ["line 4", "outside the image, above it"]),
    ],
    ids=[
        "seven-numbers",
        "non-number",
        "difficult-word",
        "no-area",
        "bad-gsd",
        "left-of-the-image",
        "above-the-image",
    ],
)
def test_dota_bad_lines(dota_set: Path, tmp_path: Path, line: str, words: list[str]) -> None:
    root = _copy(dota_set, tmp_path)
    label = _lines(
        root / "labelTxt" / "g2.txt",
        "imagesource:GF2",
        "gsd:null",
        "60 60 100 60 100 90 60 90 plane 0",
    )
    with open(label, "a") as fh:
        fh.write(line + "\n")
    raises_naming(label, *words)(lambda: read_dota(root))


# -- xView -----------------------------------------------------------------------------------


def test_xview_pixel_bounds_whatever_the_geometry(tmp_path: Path) -> None:
    found = read_xview(make_xview(tmp_path) / "xView_train.geojson")
    assert boxes_of(found, "100.tif") == [
        ("Small Car", (20, 30, 40, 50), False),  # Polygon
        ("Building", (100, 40, 160, 100), False),  # MultiPolygon
    ]
    assert boxes_of(found, "200.tif") == [
        ("Small Car", (50, 60, 70, 80), False),  # Point
        ("Truck", (120, 90, 160, 110), False),  # null geometry
    ]
    # a chip whose only feature is skipped is still an annotated (empty) image
    assert sorted(found.images) == ["100.tif", "200.tif", "300.tif"]
    assert boxes_of(found, "300.tif") == []
    assert found.skipped == {
        "type_id 75 is not an xView class": 1,
        "type_id 82 is not an xView class": 1,
        "box with no area": 1,
    }
    assert [r.source_id for r in found.boxes] == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda f: f["properties"].pop("bounds_imcoords"), ["feature 2", "bounds_imcoords"]),
        (lambda f: f["properties"].update(bounds_imcoords="1,2,3"), ["feature 2", "'x0,y0,x1,y1'"]),
        (lambda f: f["properties"].pop("type_id"), ["feature 2", "type_id"]),
        (lambda f: f["properties"].pop("image_id"), ["feature 2", "properties.image_id"]),
    ],
    ids=["no-bounds", "three-bounds", "no-type-id", "no-image-id"],
)
def test_xview_bad_features(
    tmp_path: Path, change: Callable[[dict], object], words: list[str]
) -> None:
    features = json.loads(json.dumps(XVIEW_FEATURES))
    change(features[2])
    path = tmp_path / "xview.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    raises_naming(path, *words)(lambda: read_xview(path))


@pytest.mark.parametrize("doc", [[], {"type": "Feature"}, {"type": "FeatureCollection"}])
def test_xview_needs_a_feature_collection(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "xview.geojson"
    path.write_text(json.dumps(doc))
    raises_naming(path, "FeatureCollection")(lambda: read_xview(path))


def test_records_are_plain_boxes() -> None:
    """BoxRecord stays hashable and comparable: the readers' results can be deduplicated."""
    a = BoxRecord("x.png", "car", 1, 2, 3, 4, "x.txt:1", True)
    assert a == BoxRecord("x.png", "car", 1.0, 2.0, 3.0, 4.0, "x.txt:1", True) and hash(a)


# -- hostile and clumsy input: one BadInputError naming the place, or a counted skip ---------


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A small real PNG whose header (IHDR, with a valid CRC) claims another size."""
    write_image(path, size=(8, 8))
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


LATIN1 = "caf\u00e9".encode("latin-1")  # b"caf\xe9": not UTF-8


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("classes.txt", ["class list", "line 2"]),
        ("labels/b1.txt", ["label file", "line 2"]),
        ("data.yaml", []),
    ],
    ids=["classes", "label", "data-yaml"],
)
def test_yolo_files_not_utf8(yolo_set: Path, tmp_path: Path, target: str, words: list[str]) -> None:
    root = _copy(yolo_set, tmp_path)
    if target == "data.yaml":
        (root / "classes.txt").unlink()
        (root / target).write_bytes(b"names: [car, " + LATIN1 + b"]\n")
    else:
        first = (root / target).read_bytes().splitlines()[0]
        (root / target).write_bytes(first + b"\n" + LATIN1 + b"\n")
    raises_naming(root / target, "not UTF-8 text", *words)(lambda: read_yolo(root))


def test_dota_label_not_utf8(dota_set: Path, tmp_path: Path) -> None:
    root = _copy(dota_set, tmp_path)
    label = root / "labelTxt" / "g2.txt"
    label.write_bytes(b"imagesource:GF2\ngsd:null\n10 10 30 10 30 30 10 30 " + LATIN1 + b" 0\n")
    raises_naming(label, "not UTF-8 text", "line 3")(lambda: read_dota(root))


def test_json_and_csv_not_utf8(tmp_path: Path) -> None:
    coco = make_coco(tmp_path / "coco") / "annotations.json"
    coco.write_bytes(coco.read_bytes().replace(b'"paris"', b'"' + LATIN1 + b'"'))
    raises_naming(coco, "not UTF-8 text", "line 1")(lambda: read_coco_set(coco))
    xview = make_xview(tmp_path / "xview") / "xView_train.geojson"
    xview.write_bytes(xview.read_bytes().replace(b'"100.tif"', b'"' + LATIN1 + b'"', 1))
    raises_naming(xview, "not UTF-8 text")(lambda: read_xview(xview))
    airbus = make_airbus(tmp_path / "airbus") / "annotations.csv"
    airbus.write_bytes(airbus.read_bytes().replace(b"Airplane", LATIN1, 1))
    raises_naming(airbus, "not UTF-8 text")(lambda: read_airbus_csv(airbus))


def test_yolo_image_header_claiming_a_huge_size(yolo_set: Path, tmp_path: Path) -> None:
    root = _copy(yolo_set, tmp_path)
    image = _png_claiming(root / "images" / "b2.png", 60000, 60000)
    raises_naming(image, "claims 3,600,000,000 pixels")(lambda: read_yolo(root))


def _coco_doc(root: Path) -> tuple[Path, dict]:
    path = make_coco(root) / "annotations.json"
    return path, json.loads(path.read_text())


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["images"][1].update(file_name=7), ["image 2", "file_name 7"]),
        (lambda d: d["images"][1].update(file_name=["a.jpg"]), ["image 2", "file_name"]),
        (lambda d: d["images"][1].update(id=[2]), ["image 1", "id [2] (a list)"]),
        (lambda d: d["images"][1].update(id=True), ["image 1", "id True"]),
        (lambda d: d["images"][1].update(id=1), ["image id 1 appears twice"]),
        (lambda d: d["images"][1].update(width="200"), ["image 2", "width '200'"]),
        (lambda d: d["images"][1].update(height=0), ["image 2", "height 0"]),
        (lambda d: d["categories"][1].update(name=["truck"]), ["category 2", "name"]),
        (lambda d: d["categories"][1].update(name="  "), ["category 2", "name"]),
        (lambda d: d["categories"][1].update(id=1), ["category id 1 appears twice"]),
        (lambda d: d["annotations"][2].update(image_id=[2]), ["annotation 13", "image_id"]),
        (lambda d: d["annotations"][2].update(image_id=9), ["annotation 13", "image_id 9"]),
        (lambda d: d["annotations"][2].update(category_id=True), ["annotation 13", "category_id"]),
        (lambda d: d["annotations"][2].update(bbox=[50, 50, True, 30]), ["annotation 13", "bbox"]),
        (lambda d: d["annotations"][2].update(iscrowd="0"), ["annotation 13", "iscrowd '0'"]),
        (lambda d: d.update(images={}), ["not COCO", "images: a mapping, not a list"]),
    ],
    ids=[
        "file-name-number",
        "file-name-list",
        "image-id-list",
        "image-id-bool",
        "image-id-twice",
        "width-text",
        "height-zero",
        "category-name-list",
        "category-name-blank",
        "category-id-twice",
        "annotation-image-id-list",
        "annotation-image-id-unknown",
        "annotation-category-bool",
        "bbox-bool",
        "iscrowd-text",
        "images-not-a-list",
    ],
)
def test_coco_fields_of_the_wrong_type(
    tmp_path: Path, change: Callable[[dict], object], words: list[str]
) -> None:
    path, doc = _coco_doc(tmp_path)
    change(doc)
    path.write_text(json.dumps(doc))
    raises_naming(path, *words)(lambda: read_coco_set(path))


def test_coco_boxes_with_no_area_are_counted(tmp_path: Path) -> None:
    path, doc = _coco_doc(tmp_path)
    doc["annotations"][1]["bbox"] = [100, 60, 0, 60]
    doc["annotations"][3]["bbox"] = [120, 80, 40, -30]
    path.write_text(json.dumps(doc))
    found = read_coco_set(path)
    assert [r.source_id for r in found.boxes] == ["11", "13"]
    assert found.skipped == {"box with no area": 2}
    # the list reader (label import, benchmark) takes every record as a box: it refuses
    raises_naming(path, "2 box(es) with no area", "annotation 12", "[100, 60, 0, 60]")(
        lambda: read_coco(path)
    )


@pytest.mark.parametrize(
    ("gsd", "expected"),
    [(True, None), (0, None), (-0.3, None), (1001, None), ("0.3", None), (1000, 1000.0), (2, 2.0)],
)
def test_coco_gsd_is_a_real_gsd(tmp_path: Path, gsd: object, expected: float | None) -> None:
    path, doc = _coco_doc(tmp_path)
    doc["images"][0]["gsd"] = gsd
    path.write_text(json.dumps(doc))
    assert read_coco_set(path).images["paris.jpg"].gsd_m == expected


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ('x,s1-a.jpg,"[(1, 2), (3, 4), (5, 9)]"', ["line 3", "no class value"]),
        ("x", ["line 3", "no image_id value"]),
        ('x,,"[(1, 2), (3, 4), (5, 9)]",Airplane', ["line 3", "no image_id value"]),
        ('x,s1-a.jpg,"[(1, 2), (3, 4), (5, 1e999)]",Airplane', ["line 3", "non-finite"]),
        ("x,s1-a.jpg,\"[(1, 2), (3, 'nan'), (5, 9)]\",Airplane", ["line 3", "non-finite"]),
        ('x,s1-a.jpg,"[(1, 2), (3, 4), (5, 1' + "0" * 400 + ')]",Airplane', ["line 3"]),
        ('x,s1-a.jpg,"' + "[" * 300 + '",Airplane', ["line 3", "geometry"]),
        ('x,s1-a.jpg,"' + "1" * 200_000 + '",Airplane', ["line 3", "field larger"]),
    ],
    ids=["no-class", "one-field", "empty-image-id", "infinite", "nan", "huge", "deep", "too-big"],
)
def test_airbus_bad_rows(tmp_path: Path, row: str, words: list[str]) -> None:
    csv_path = make_airbus(tmp_path) / "annotations.csv"
    rows = csv_path.read_text().splitlines()
    rows[2] = row
    csv_path.write_text("\n".join(rows) + "\n")
    raises_naming(csv_path, *words)(lambda: read_airbus_csv(csv_path))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p.update(type_id=True), ["feature 2", "type_id (got True)"]),
        (lambda p: p.update(type_id=11.5), ["feature 2", "type_id (got 11.5)"]),
        (lambda p: p.update(type_id=[18]), ["feature 2", "type_id"]),
        (lambda p: p.update(image_id=""), ["feature 2", "image_id is empty"]),
        (lambda p: p.update(image_id="  "), ["feature 2", "image_id is empty"]),
    ],
    ids=["type-id-bool", "type-id-fraction", "type-id-list", "image-id-empty", "image-id-blank"],
)
def test_xview_bad_ids(tmp_path: Path, change: Callable[[dict], object], words: list[str]) -> None:
    features = json.loads(json.dumps(XVIEW_FEATURES))
    change(features[2]["properties"])
    path = tmp_path / "xview.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    raises_naming(path, *words)(lambda: read_xview(path))


def test_xview_whole_type_ids_and_boxes_off_the_chip(tmp_path: Path) -> None:
    features = json.loads(json.dumps(XVIEW_FEATURES))
    features[2]["properties"]["type_id"] = 18.0  # a whole number written as a float
    features[3]["properties"]["type_id"] = "23"
    features[0]["properties"]["bounds_imcoords"] = "-40,30,-20,50"  # left of the chip
    features[1]["properties"]["bounds_imcoords"] = "nan,40,160,100"
    path = tmp_path / "xview.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    found = read_xview(path)
    assert [r.class_name for r in found.boxes] == ["Small Car", "Truck"]
    assert found.skipped == {
        "box outside the chip": 1,
        "box with no area": 2,
        "type_id 75 is not an xView class": 1,
        "type_id 82 is not an xView class": 1,
    }
