"""Training from every dataset format: samples with a class map, ignore boxes and places,
and `sitewatch train detector` end to end (a few CPU steps each) to an ONNX whose card
names its classes, the data's licence and credit, and held-out metrics per class."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

torch = pytest.importorskip("torch", reason="training needs the `train` extra (torch)")

from sitewatch.cli import app  # noqa: E402
from sitewatch.detect.model import Detector  # noqa: E402
from sitewatch.detect.train.dataset import (  # noqa: E402
    ClassMap,
    Sample,
    samples,
)
from sitewatch.errors import BadInputError  # noqa: E402
from sitewatch.learn.folds import validation_groups  # noqa: E402
from tests.formats.test_dataset_readers import BUILDERS  # noqa: E402


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each format's small dataset (two places each), built once; tests only read them."""
    root = tmp_path_factory.mktemp("formats")
    return {fmt: build(root / fmt) for fmt, build in BUILDERS.items()}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on a loaded 2-core machine two threads spin against each other and
    a step takes seconds instead of milliseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def by_name(found: list[Sample]) -> dict[str, Sample]:
    return {s.file_name: s for s in found}


def rows(a: np.ndarray) -> list:
    return list(a.tolist())


# -- samples -----------------------------------------------------------------------------


def test_class_map_merges_filters_and_ignores_difficult(datasets: dict[str, Path]) -> None:
    found, skipped = samples(
        datasets["dota"], "dota", ClassMap.parse("vehicle=small-vehicle"), "imagesource", 0.2
    )
    g1, g2 = by_name(found)["g1.png"], by_name(found)["g2.jpg"]
    # the difficult small vehicle is neither a positive nor a negative: an ignore box
    assert rows(g1.boxes) == [[150, 100, 190, 130], [0, 140, 20, 158]]
    assert rows(g1.ignore) == [[10, 10, 30, 30]] and rows(g1.classes) == [0, 0]
    assert rows(g2.boxes) == [[130, 30, 170, 50]] and len(g2.ignore) == 0
    assert (g1.group, g2.group) == ("GoogleEarth", "GF2")
    # gsd:0.146 from the header; gsd:null takes --source-gsd
    assert (g1.gsd_m, g2.gsd_m) == (0.146, 0.2)
    assert skipped == {
        "label file without an image (orphan.txt)": 1,
        "class not trained (plane)": 2,
    }


def test_merged_classes_and_crowd_boxes(datasets: dict[str, Path]) -> None:
    merged, skipped = samples(
        datasets["coco"], "coco", ClassMap.parse("vehicle=car+truck"), "location"
    )
    paris, lyon = by_name(merged)["paris.jpg"], by_name(merged)["lyon.jpg"]
    assert rows(paris.boxes) == [[20, 30, 60, 50]] and rows(paris.ignore) == [[100, 60, 180, 120]]
    assert rows(lyon.boxes) == [[50, 50, 80, 80], [120, 80, 160, 110]]
    assert rows(lyon.classes) == [0, 0] and skipped == {}
    assert (paris.group, paris.gsd_m, lyon.group) == ("paris", 0.3, "lyon")
    two, _ = samples(datasets["coco"], "coco", ClassMap.parse("truck,car"), "location")
    assert rows(by_name(two)["lyon.jpg"].classes) == [1, 0]


def test_yolo_places_from_images_csv_and_empty_images(datasets: dict[str, Path]) -> None:
    found, skipped = samples(datasets["yolo"], "yolo", ClassMap.parse("truck"), "city", 0.5)
    groups = {s.file_name: s.group for s in found}
    assert groups == {
        "a1.jpg": "alpha",
        "a2.png": "alpha",
        "b1.jpg": "beta",
        "b2.png": "beta",
        "b3.tif": "beta",
    }
    assert rows(by_name(found)["a1.jpg"].boxes) == [[50, 40, 150, 120]]
    assert all(len(by_name(found)[n].boxes) == 0 for n in ("b1.jpg", "b2.png", "b3.tif"))
    assert skipped == {
        "label file without an image (ghost.txt)": 1,
        "class not trained (car)": 3,
    }


def test_xview_split_by_image_and_aliases(datasets: dict[str, Path]) -> None:
    found, skipped = samples(
        datasets["xview"], "xview", ClassMap.parse("car=small car,truck"), "image", 0.3
    )
    assert {s.file_name: s.group for s in found} == {
        n: n for n in ("100.tif", "200.tif", "300.tif")
    }
    assert rows(by_name(found)["200.tif"].boxes) == [[50, 60, 70, 80], [120, 90, 160, 110]]
    assert rows(by_name(found)["200.tif"].classes) == [0, 1]
    assert len(by_name(found)["300.tif"].boxes) == 0
    assert skipped == {
        "type_id 75 is not an xView class": 1,
        "type_id 82 is not an xView class": 1,
        "box with no area": 1,
        "class not trained (Building)": 1,
    }


def test_airbus_sites_and_canonical_class(datasets: dict[str, Path]) -> None:
    found, _ = samples(
        datasets["airbus-csv"], "airbus-csv", ClassMap.parse("aircraft"), "site_id", 0.5
    )
    assert [(s.file_name, s.group, len(s.boxes)) for s in found] == [
        ("s1-a.jpg", "site-1", 2),
        ("s2-a.jpg", "site-2", 1),
    ]


def test_split_field_and_gsd_must_be_known(datasets: dict[str, Path]) -> None:
    with pytest.raises(BadInputError) as exc:
        samples(datasets["coco"], "coco", ClassMap.parse("car"), "city")
    assert "2 image(s) have no 'city' field (e.g. paris.jpg)" in str(exc.value)
    assert "--split-by" in str(exc.value) and exc.value.path == str(datasets["coco"])
    with pytest.raises(BadInputError, match=r"1 image\(s\) have no 'city' field \(e.g. b3.tif"):
        # images.csv gives b3.tif an empty city
        _samples_with_csv(
            datasets["yolo"], "image,city\na1.jpg,x\na2.png,x\nb1.jpg,y\nb2.png,y\nb3.tif,\n"
        )
    with pytest.raises(BadInputError, match=r"g2\.jpg: the GSD of this image is unknown"):
        samples(datasets["dota"], "dota", ClassMap.parse("plane"), "imagesource")


def _samples_with_csv(root: Path, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(shutil.copytree(root, Path(tmp) / "yolo"))
        (copy / "images.csv").write_text(text)
        samples(copy, "yolo", ClassMap.parse("car"), "city", 0.5)


def test_missing_image_files_are_counted(datasets: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(datasets["xview"], tmp_path / "xview"))
    (copy / "images" / "300.tif").unlink()
    found, skipped = samples(copy, "xview", ClassMap.parse("truck"), "image", 0.3)
    assert [s.file_name for s in found] == ["100.tif", "200.tif"]
    assert skipped["image file missing (300.tif)"] == 1


def test_validation_keeps_places_whole() -> None:
    groups = [f"city-{i % 7}" for i in range(40)] + ["tiny"]
    held = validation_groups(groups, None, 0, 5)
    assert held and held < set(groups)
    # every fold holds out whole places, and together the folds cover each place once
    folds = [validation_groups(groups, None, f, 5) for f in range(5)]
    assert sorted(g for fold in folds for g in fold) == sorted(set(groups))
    assert validation_groups(groups, ["tiny", "city-3"], 0, 5) == {"tiny", "city-3"}
    assert validation_groups(groups, None, -1, 5) == set()
    assert validation_groups(["a", "a", "b"], None, 1, 5) in ({"a"}, {"b"})
    with pytest.raises(BadInputError, match="no images from atlantis"):
        validation_groups(groups, ["atlantis"], 0, 5)
    with pytest.raises(BadInputError, match=r"all images are from one place \(solo\)"):
        validation_groups(["solo", "solo"], None, 0, 5)


# -- the CLI -----------------------------------------------------------------------------

# format: (--classes, the other options, the model's classes, the place field)
CASES: dict[str, tuple[str, str, list[str], str]] = {
    "airbus-csv": ("aircraft", "", ["aircraft"], "site_id"),
    "coco": ("car,truck", "--gsd 0.3 --split-by location", ["car", "truck"], "location"),
    "yolo": (
        "vehicle=car+truck",
        "--gsd 0.5 --source-gsd 0.5 --split-by city",
        ["vehicle"],
        "city",
    ),
    "dota": (
        "plane,vehicle=small-vehicle",
        "--gsd 0.146 --source-gsd 0.146 --split-by imagesource",
        ["plane", "vehicle"],
        "imagesource",
    ),
    "xview": (
        "car=small car,truck",
        "--gsd 0.3 --source-gsd 0.3 --split-by image",
        ["car", "truck"],
        "image",
    ),
}


def options(fmt: str) -> list[str]:
    spec, more, _, _ = CASES[fmt]
    return ["--classes", spec, *more.split()]


TINY = ["--steps", "2", "--crop", "64", "--batch", "2"]
LICENCE = ["--licence", "CC BY 4.0", "--credit", "Test Imagery Ltd"]


def train_cli(data: Path, fmt: str, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["train", "detector", "--data", str(data), "--format", fmt, *args]
    )


@pytest.mark.parametrize("fmt", list(CASES))
def test_train_detector_from_each_format(
    datasets: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    _, _, classes, field = CASES[fmt]
    onnx_path = tmp_path / f"{fmt}.onnx"
    result = train_cli(
        datasets[fmt],
        fmt,
        *options(fmt),
        *LICENCE,
        *TINY,
        "--name",
        f"test-{fmt}",
        "--out",
        str(onnx_path),
        "--checkpoints",
        str(tmp_path / "ck"),
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {onnx_path}" in result.stdout and "held-out" in result.stdout
    # the place field named, and whole places held out for validation
    assert re.search(rf"\d+ training scenes, [1-9]\d* validation scenes \({field}: ", result.stderr)
    info = Detector(onnx_path, threads=1).info
    assert (info.name, info.classes) == (f"test-{fmt}", classes)
    assert (info.licence, info.credit) == ("CC BY 4.0", "Test Imagery Ltd")
    per_class = info.metrics["per_class"]
    assert set(per_class) == set(classes) == set(info.class_thresholds)
    for name in classes:
        assert per_class[name]["held_out"].startswith(f"{field} ")
        assert per_class[name]["scenes"] >= 1
        # a class with no object in the held-out place is not measured, never "perfect"
        if per_class[name]["objects"]:
            assert 0 <= per_class[name]["recall"] <= 1
        else:
            assert per_class[name]["not_measured"] and "recall" not in per_class[name]
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["licence"] == "CC BY 4.0" and card["credit"] == "Test Imagery Ltd"
    assert card["classes"] == classes and card["train"]["format"] == fmt


@pytest.mark.parametrize(
    ("drop", "kept"),
    [("--licence", ["--credit", "Test Imagery Ltd"]), ("--credit", ["--licence", "CC BY 4.0"])],
)
def test_train_refuses_without_licence_and_credit(
    datasets: dict[str, Path], tmp_path: Path, drop: str, kept: list[str]
) -> None:
    onnx_path = tmp_path / "m.onnx"
    args = options("coco")
    result = train_cli(datasets["coco"], "coco", *args, *kept, *TINY, "--out", str(onnx_path))
    assert result.exit_code == 1
    assert "the data's licence and credit are required" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert not onnx_path.exists() and not onnx_path.with_suffix(".json").exists()
    blank = train_cli(datasets["coco"], "coco", *args, drop, " ", *kept, "--out", str(onnx_path))
    assert blank.exit_code == 1 and "licence and credit" in blank.stderr
    assert not onnx_path.exists()


def test_train_refuses_a_format_without_split_by(datasets: dict[str, Path], tmp_path: Path) -> None:
    onnx_path = tmp_path / "m.onnx"
    result = train_cli(
        datasets["yolo"],
        "yolo",
        "--classes",
        "car",
        "--gsd",
        "0.5",
        *LICENCE,
        "--out",
        str(onnx_path),
    )
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "no --split-by: validation must hold out whole places" in result.stderr
    assert not onnx_path.exists()


# -- refusals found in review ------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    ["car,vehicle", "ship,boat", "vehicle=car+bus,car", "Car,car", "a/b", "x=", ""],
)
def test_a_class_map_sends_each_name_to_one_class(spec: str) -> None:
    with pytest.raises(BadInputError) as caught:
        ClassMap.parse(spec)
    assert str(caught.value).startswith("--classes: ")


def test_own_names_win_over_canonical_ones() -> None:
    classes = ClassMap.parse("truck,vehicle=car")
    assert [classes.index(n) for n in ("truck", "Car", "small-vehicle", "plane")] == [
        0, 1, 1, None
    ]  # fmt: skip


def test_exact_duplicates_train_once(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (100, 100)).save(tmp_path / "images" / "a.png")
    (tmp_path / "classes.txt").write_text("car\n")
    line = "0 0.5 0.5 0.2 0.2\n"
    (tmp_path / "labels" / "a.txt").write_text(line * 3 + "0 0.1 0.1 0.1 0.1\n")
    found, skipped = samples(tmp_path, "yolo", ClassMap.parse("car"), "image", 0.5)
    assert len(found[0].boxes) == len(found[0].classes) == 2 and skipped == {"duplicate box": 2}


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--crop", "100"], "--crop: 100 is not a multiple of 32"),
        (["--fold", "7"], "--fold: 7 is not a fold of 5"),
        (["--fold", "-5"], "--fold: -5 is not a fold of 5"),
        (["--name", "../escape"], "--name: '../escape' is not a model name"),
        (["--gsd", "0"], "--gsd: 0.0 is not a GSD"),
        (["--val-group", "paris", "--val-group", "lyon"], "nothing to train on"),
    ],
)
def test_train_refuses_absurd_options(
    datasets: dict[str, Path], tmp_path: Path, args: list[str], cause: str
) -> None:
    onnx_path = tmp_path / "m.onnx"
    result = train_cli(
        datasets["coco"], "coco", *options("coco"), *LICENCE, "--steps", "1", *args,
        "--out", str(onnx_path), "--checkpoints", str(tmp_path / "ck"),
    )  # fmt: skip
    assert result.exit_code == 1 and cause in result.stderr, result.output
    assert result.stderr.count("\n") == 1 and not onnx_path.exists()


def test_a_checkpoint_of_another_recipe_is_not_resumed(
    datasets: dict[str, Path], tmp_path: Path
) -> None:
    common = [*LICENCE, *TINY, "--out", str(tmp_path / "m.onnx"), "--checkpoints", str(tmp_path)]
    first = train_cli(datasets["coco"], "coco", *options("coco"), *common)
    assert first.exit_code == 0, first.output
    other = train_cli(
        datasets["coco"], "coco", "--classes", "car", "--gsd", "0.5", "--split-by", "location",
        *common,
    )  # fmt: skip
    assert other.exit_code == 1 and "trained with classes=" in other.stderr
    assert "--no-resume" in other.stderr
    again = train_cli(
        datasets["coco"], "coco", "--classes", "car", "--gsd", "0.5", "--split-by", "location",
        *common, "--no-resume",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
