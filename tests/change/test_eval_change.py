"""`sitewatch eval change` on generated pairs in the exact LEVIR-CD layout, the change
baselines on changes with known truth, and every bad input as one line."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from sitewatch.change import ChangeMethod, change_map, evaluate_pairs
from sitewatch.change.evaluate import Tally
from sitewatch.cli import app


def _scene(seed: int, size: int = 128) -> np.ndarray:
    """Smooth ground texture, three bands."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (size, size, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (40 + 150 * smooth).astype(np.uint8)


def _pair(seed: int, gain: float = 1.15, offset: float = 12.0) -> tuple[np.ndarray, ...]:
    """A date, the next date (other light: gain and offset) with a new bright roof."""
    before = _scene(seed)
    after = np.clip(before.astype(np.float32) * gain + offset, 0, 255)
    label = np.zeros(before.shape[:2], np.uint8)
    y, x = 20 + 10 * seed, 30 + 7 * seed
    after[y : y + 30, x : x + 40] = (235, 230, 220)  # a new building
    label[y : y + 30, x : x + 40] = 255
    return before, after.astype(np.uint8), label


def _levir(root: Path, pairs: int = 3, **kwargs: float) -> Path:
    for name in ("A", "B", "label"):
        (root / name).mkdir(parents=True)
    for i in range(pairs):
        a, b, label = _pair(i, **kwargs)
        PILImage.fromarray(a).save(root / "A" / f"test_{i}.png")
        PILImage.fromarray(b).save(root / "B" / f"test_{i}.png")
        PILImage.fromarray(label).save(root / "label" / f"test_{i}.png")
    return root


def test_scores_are_those_of_the_change_class() -> None:
    tally = Tally()
    tally.add(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool))
    expected = {"precision": 0.5, "recall": 0.5, "f1": 0.5, "iou": pytest.approx(1 / 3)}
    assert tally.scores() == expected
    assert Tally().scores() == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "iou": 0.0}


@pytest.mark.parametrize("method", [ChangeMethod.CVA, ChangeMethod.IRMAD])
def test_baselines_find_a_new_building_under_other_light(method: ChangeMethod) -> None:
    before, after, label = _pair(1)
    found = change_map(before, after, method).mask
    truth = label > 0
    tally = Tally()
    tally.add(found, truth)
    assert tally.scores()["f1"] > 0.8, tally.scores()


def test_irmad_sees_no_change_in_a_pure_change_of_light() -> None:
    before = _scene(5)
    # gain, offset and some band mixing: a linear change of light, no change on the ground
    mix = np.array([[1.1, 0.05, 0.0], [0.0, 0.9, 0.1], [0.05, 0.0, 1.2]], np.float32)
    after = np.clip(before.astype(np.float32) @ mix.T + 8, 0, 255).astype(np.uint8)
    assert change_map(before, after, ChangeMethod.IRMAD).mask.mean() < 0.03


@pytest.mark.filterwarnings("error")
def test_irmad_holds_on_degenerate_dates() -> None:
    """Tiles of real pairs can be blank or nearly so (an edge of the scene, a black fill):
    IR-MAD answers finite scores without a warning instead of NaN in its eigensolver."""
    before = _scene(3)
    blank = np.zeros_like(before)
    speckled = np.where(
        np.random.default_rng(0).random(before.shape[:2])[..., None] < 0.01, before, blank
    )
    for a, b in ((before, blank), (blank, blank + 9), (before, speckled), (speckled, before)):
        found = change_map(a, b, ChangeMethod.IRMAD)
        assert np.isfinite(found.score).all()
    # and a real change beside a blank band is still found
    _, after, label = _pair(2)
    before2 = _pair(2)[0].copy()
    before2[..., 2] = 0
    found = change_map(before2, after, ChangeMethod.IRMAD).mask
    tally = Tally()
    tally.add(found, label > 0)
    assert tally.scores()["f1"] > 0.8, tally.scores()


def test_eval_change_pools_pairs_and_writes_the_json(tmp_path: Path) -> None:
    root = _levir(tmp_path / "pairs")
    out = tmp_path / "metrics.json"
    run = CliRunner().invoke(app, ["eval", "change", "--pairs", str(root), "--json", str(out)])
    assert run.exit_code == 0, run.output
    report = json.loads(out.read_text())
    assert {"precision", "recall", "f1", "iou"} <= report.keys()
    assert report["pairs"] == 3 and [p["name"] for p in report["per_pair"]] == [
        "test_0", "test_1", "test_2",
    ]  # fmt: skip
    assert report["f1"] > 0.8 and report["pixels"] == 3 * 128 * 128
    # pooled over pixels, not averaged over pairs: recomputed here from the masks
    pooled = Tally()
    for i in range(3):
        a, b, label = _pair(i)
        pooled.add(change_map(a, b).mask, label > 0)
    assert report["f1"] == pytest.approx(pooled.scores()["f1"])
    assert evaluate_pairs(root, ChangeMethod.IRMAD)["method"] == "irmad"


def _fails(args: list[str]) -> str:
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 1, run.output
    assert run.output.count("error:") == 1 and "Traceback" not in run.output
    return run.output


def test_bad_pairs_are_one_line_each(tmp_path: Path) -> None:
    root = _levir(tmp_path / "pairs")
    assert "label/" in _fails(["eval", "change", "--pairs", str(tmp_path)])  # no folders
    (root / "B" / "test_2.png").unlink()
    assert "test_2.png" in _fails(["eval", "change", "--pairs", str(root)])
    root = _levir(tmp_path / "jpeg")
    PILImage.fromarray(_pair(0)[2]).save(root / "label" / "test_0.png", format="JPEG", quality=70)
    line = _fails(["eval", "change", "--pairs", str(root)])
    assert "test_0.png" in line and "0 and 255" in line
    root = _levir(tmp_path / "size")
    PILImage.fromarray(_scene(1, 64)).save(root / "B" / "test_1.png")
    assert "differ in size" in _fails(["eval", "change", "--pairs", str(root)])
    assert "unknown change method" in _fails(
        ["eval", "change", "--pairs", str(root), "--method", "magic"]
    )
