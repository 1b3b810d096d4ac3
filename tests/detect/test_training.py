"""Training machinery on the real demo scenes (CPU, seconds): loss falls, resume, ONNX ≡ torch."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs the `train` extra (torch)")

from sitewatch.detect.model import Detector  # noqa: E402
from sitewatch.detect.train.data import (  # noqa: E402
    Scene,
    augment,
    encode_targets,
    sample_crop,
    site_folds,
)
from sitewatch.detect.train.export import export_onnx  # noqa: E402
from sitewatch.detect.train.loop import CropStream, TrainConfig, train  # noqa: E402
from sitewatch.detect.train.loss import detection_loss  # noqa: E402
from sitewatch.detect.train.net import CenterNet, NetConfig  # noqa: E402
from sitewatch.errors import BadInputError, OutputError  # noqa: E402
from tests.conftest import AIRPORT  # noqa: E402
from tests.full_disk import full_disk_keeps_the_last_checkpoint  # noqa: E402

TINY = NetConfig(widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), neck=16)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo airport laid out like the Airbus set (images/, annotations.csv, sites.csv)."""
    root = tmp_path_factory.mktemp("airbus-demo")
    (root / "images").mkdir()
    jpgs = sorted(AIRPORT.glob("*.jpg"))
    for jpg in jpgs:
        (root / "images" / jpg.name).symlink_to(jpg)
    shutil.copy(AIRPORT / "annotations.csv", root / "annotations.csv")
    with open(root / "sites.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image_id", "site_id", "acquisition_id", "annotated"])
        for i, jpg in enumerate(jpgs):
            w.writerow([jpg.name, f"site-{i % 2}", f"acq-{i}", 1])
    return root


def test_boxes_follow_pixels_through_crops_flips_and_rotations() -> None:
    img = np.zeros((600, 600, 3), np.uint8)
    img[100:160, 200:300] = 255
    scene = Scene("x", "s", img, np.array([[200, 100, 300, 160]], np.float32))
    for seed in range(100):
        rng = np.random.default_rng(seed)
        crop, boxes, ignore, _cls = sample_crop(scene, 256, rng, (0.7, 1.4))
        pixels, boxes, _ = augment(crop, boxes, ignore, rng)
        for x0, y0, x1, y1 in boxes:
            inside = pixels[int(y0) + 3 : int(y1) - 3, int(x0) + 3 : int(x1) - 3]
            assert inside.mean() > 0.5, seed


def test_targets_put_a_peak_at_each_centre() -> None:
    boxes = np.array([[40, 40, 80, 60], [200, 100, 240, 180]], np.float32)
    t = encode_targets(boxes, np.zeros((0, 4), np.float32), 256, 4)
    assert t["mask"].sum() == 2
    assert t["heat"][0, 12, 15] == 1.0 and t["heat"][0, 35, 55] == 1.0
    assert t["wh"][0] == pytest.approx(np.log([40, 20]))


def test_folds_keep_airports_whole_and_balanced() -> None:
    sites = {f"img{i}.jpg": (f"site-{i % 7}", "a", True) for i in range(40)}
    folds = site_folds(sites, 5)
    assert set(folds) == {f"site-{i}" for i in range(7)}
    assert set(folds.values()) == set(range(5))


def test_a_few_steps_lower_the_loss(dataset: Path) -> None:
    torch.manual_seed(0)
    from sitewatch.detect.train.data import load_scenes
    from sitewatch.detect.train.loop import split

    cfg = TrainConfig(data=str(dataset), crop=256, batch=4, net=TINY, fold=-1)
    scenes = load_scenes(split(cfg)[0], cfg.gsd)
    images, targets = next(
        iter(torch.utils.data.DataLoader(CropStream(scenes, cfg, 0), batch_size=4))
    )
    model = CenterNet(TINY)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = detection_loss(model(images), targets)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_training_resumes_and_exports_an_equivalent_onnx(dataset: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(
        data=str(dataset),
        out=str(tmp_path / "ck"),
        fold=0,
        folds=2,
        crop=256,
        batch=2,
        steps=3,
        eval_every=3,
        workers=0,
        net=TINY,
    )
    logs: list[str] = []
    train(cfg, log=logs.append)
    cfg.steps = 5
    last = train(cfg, log=logs.append)
    assert any("resumed" in m and "at step 3" in m for m in logs)
    assert torch.load(last, weights_only=False)["step"] == 5
    onnx_path = tmp_path / "tiny.onnx"
    info = export_onnx(last, onnx_path, name="tiny")
    assert info.metrics["held_out"].startswith("site_id site-") and 0 < info.threshold < 1
    assert (
        set(info.metrics["per_class"]) == {"aircraft"}
        and info.class_thresholds["aircraft"] == info.threshold
    )
    assert info.licence.startswith("CC BY-NC-SA") and info.model_gsd_m == 1.0
    detector = Detector(onnx_path, threads=1)
    assert detector.info.classes == ["aircraft"] and detector.info.model_gsd_m == 1.0
    from sitewatch.detect.train.export import load_checkpoint

    model, _ = load_checkpoint(last)
    x = np.random.default_rng(0).random((1, 3, 320, 256), dtype=np.float32)
    with torch.no_grad():
        expected = [t.numpy() for t in model(torch.from_numpy(x))]
    got = detector.session.run(None, {"image": x})
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-4, rtol=1e-3)
    # the model and its readable card only, no temporary file left beside them
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["tiny.json", "tiny.onnx"]
    # an export that cannot be written says where and why, and changes nothing
    before = onnx_path.read_bytes()
    with pytest.raises(OutputError, match="is a folder"):
        export_onnx(last, tmp_path / "ck", name="tiny")
    with pytest.raises(OutputError, match=r"must end in \.onnx"):
        export_onnx(last, tmp_path / "tiny.json", name="tiny")
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(OutputError, match="blocker"):
        export_onnx(last, tmp_path / "blocker" / "m.onnx", name="tiny")
    assert onnx_path.read_bytes() == before


def test_a_model_trained_on_every_place_is_calibrated_by_cross_fitting(
    dataset: Path, tmp_path: Path
) -> None:
    """Each fold's model predicts its held-out airports; the pooled predictions give the
    all-airport model its calibration, thresholds and figures (per fold too)."""
    from sitewatch.detect.train.export import cross_fit, save_held_out

    def run(fold: int) -> Path:
        cfg = TrainConfig(
            data=str(dataset), out=str(tmp_path / f"f{fold}"), fold=fold, folds=2, crop=128,
            batch=2, steps=2, eval_every=100, workers=0, net=TINY,
        )  # fmt: skip
        return train(cfg, log=lambda _m: None)

    folds = {"fold 0": run(0), "fold 1": run(1)}
    fit = cross_fit(folds, "the other airports (2 folds)")
    per_class = fit.metrics["per_class"]["aircraft"]
    assert set(per_class["folds"]) == {"fold 0", "fold 1"}
    # the two folds together hold out every annotated scene once
    assert per_class["scenes"] == sum(f["scenes"] for f in per_class["folds"].values()) == 5
    if per_class["precision"] > 0 and per_class["recall"] > 0:
        assert 0 <= per_class["interval_coverage_90"] <= 1
        assert per_class["interval_coverage_basis"].startswith("each fold's scenes")
    else:  # a model this small may find nothing yet: no interval to state, none measured
        assert "interval_coverage_90" not in per_class
    # a fold's held-out predictions kept as a file pool like its checkpoint (checkpoints
    # stay out of git; the kept files let a later session or machine cross-fit)
    kept = tmp_path / "kept" / "fold-1.json"
    assert save_held_out(folds["fold 1"], kept)["scenes"] == per_class["folds"]["fold 1"]["scenes"]
    again = cross_fit({"fold 0": folds["fold 0"], "fold 1": kept}, "the other airports (2 folds)")
    for figure in ("scenes", "objects", "ap50"):
        assert again.metrics["per_class"]["aircraft"][figure] == pytest.approx(
            per_class[figure], abs=1e-3
        )
    kept.write_text('{"recipe": {"classes": ["aircraft"]}}')
    with pytest.raises(BadInputError, match="not a held-out predictions file"):
        cross_fit({"fold 0": folds["fold 0"], "fold 1": kept}, "x")
    info = export_onnx(run(-1), tmp_path / "all.onnx", calibration=fit.as_calibration())
    card = Detector(tmp_path / "all.onnx", threads=1).info
    assert card.class_thresholds == fit.thresholds and card.threshold == fit.thresholds["aircraft"]
    assert card.metrics["held_out"] == "the other airports (2 folds)" == info.metrics["held_out"]


def _tiny(dataset: Path, out: Path, steps: int, **kw: object) -> TrainConfig:
    return TrainConfig(
        data=str(dataset),
        out=str(out),
        fold=0,
        folds=2,
        crop=256,
        batch=1,
        steps=steps,
        eval_every=10_000,
        workers=0,
        net=TINY,
        **kw,  # type: ignore[arg-type]
    )


def test_a_full_disk_while_checkpointing_keeps_the_last_good_checkpoint(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_disk_keeps_the_last_checkpoint(
        train, _tiny(dataset, tmp_path / "ck", steps=2), monkeypatch
    )


def test_training_killed_mid_checkpoint_resumes_from_a_whole_one(
    dataset: Path, tmp_path: Path
) -> None:
    """kill -9 at an arbitrary moment (checkpoints written every step, so mid-write is
    likely): the checkpoint left is whole, and training resumes from it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "ck"
    script = (
        "import torch; torch.set_num_threads(1)\n"
        "from sitewatch.detect.train.loop import TrainConfig, train\n"
        "from sitewatch.detect.train.net import NetConfig\n"
        f"cfg = TrainConfig(data={str(dataset)!r}, out={str(out)!r}, fold=0, folds=2,"
        " crop=256, batch=1, steps=100000, eval_every=100000, workers=0,"
        " checkpoint_seconds=0, net=NetConfig(widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1),"
        " neck=16))\n"
        "train(cfg, log=lambda m: None)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 120
        while not (out / "last.pt").is_file() and time.time() < deadline:
            assert proc.poll() is None, "training died before its first checkpoint"
            time.sleep(0.2)
        time.sleep(1.5)  # a few more checkpoints: the kill lands during one of them or between
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    saved = torch.load(out / "last.pt", weights_only=False)  # whole, whatever the moment
    assert saved["step"] >= 1
    logs: list[str] = []
    cfg = _tiny(dataset, out, steps=saved["step"] + 1, checkpoint_seconds=0)
    train(cfg, log=logs.append)
    assert any(f"at step {saved['step']}" in m for m in logs)
    assert torch.load(out / "last.pt", weights_only=False)["step"] == saved["step"] + 1
    # the killed writer's temporary file, if any, is swept by the next write
    assert {p.name for p in out.iterdir()} <= {"last.pt", "history.jsonl"}
