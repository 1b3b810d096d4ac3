"""The change model's machinery on generated towns (georeferenced GeoTIFFs with building
footprints in lon/lat): buildings rasterised where they stand, pairs whose label is where
they differ, a network symmetric in its dates, and training that resumes, exports, and runs
the same on onnxruntime and behind `sitewatch eval change --model`."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

torch = pytest.importorskip("torch", reason="training needs the `train` extra (torch)")

from sitewatch.change.model import ChangeModel, ChangeModelInfo, standardised  # noqa: E402
from sitewatch.change.train.data import (  # noqa: E402
    Mix,
    Place,
    draw,
    load_buildings,
    sprites_of,
)
from sitewatch.change.train.export import export_onnx, load_trained  # noqa: E402
from sitewatch.change.train.loop import ChangeTrainConfig, train  # noqa: E402
from sitewatch.change.train.net import ChangeNet, ChangeNetConfig, Probability  # noqa: E402
from sitewatch.cli import app  # noqa: E402
from sitewatch.errors import BadInputError, DatasetNotFoundError  # noqa: E402
from tests.full_disk import full_disk_keeps_the_last_checkpoint  # noqa: E402

TINY = ChangeNetConfig(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), decoder=8)
SIZE, GSD = 192, 0.5


def _town(folder: Path, seed: int) -> tuple[Path, list[np.ndarray]]:
    """A GeoTIFF of smooth ground with rectangular roofs (UTM 15N, 0.5 m) and the roofs'
    pixel rectangles [x0, y0, x1, y1]."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE, 3)).astype(np.float32), (0, 0), 4)
    img = (90 + 40 * noise / np.abs(noise).max()) * np.array([0.8, 1.0, 0.7], np.float32)
    roofs = []
    for i in range(12):
        w, h = rng.integers(10, 22, 2)
        x, y = 8 + (i % 4) * 45 + rng.integers(0, 10), 8 + (i // 4) * 60 + rng.integers(0, 10)
        img[y : y + h, x : x + w] = (200, 190, 180) if i % 2 else (60, 50, 55)
        roofs.append(np.array([x, y, x + w, y + h]))
    transform = from_origin(361_000 + 200 * seed, 4_103_000, GSD, GSD)
    path = folder / f"town-{seed}.tif"
    profile = dict(driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8",
                   crs="EPSG:32615", transform=transform)  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.clip(img, 0, 255).astype(np.uint8).transpose(2, 0, 1))
    return path, roofs


def _footprints(folder: Path, towns: list[tuple[Path, list[np.ndarray]]]) -> Path:
    """The roofs of every town as lon/lat polygons (RFC 7946 GeoJSON)."""
    import rasterio
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs("EPSG:32615", "EPSG:4326", always_xy=True)
    features = []
    for path, roofs in towns:
        with rasterio.open(path) as src:
            t = src.transform
        for x0, y0, x1, y1 in roofs:
            ring = [t @ (x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
            lonlat = [list(to_lonlat.transform(x, y)) for x, y in ring]
            features.append({"type": "Feature", "properties": {},
                             "geometry": {"type": "Polygon", "coordinates": [lonlat]}})  # fmt: skip
    out = folder / "footprints.geojson"
    out.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return out


@pytest.fixture(scope="module")
def towns(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path, list]:
    folder = tmp_path_factory.mktemp("towns")
    made = [_town(folder, seed) for seed in (1, 2)]
    return [p for p, _ in made], _footprints(folder, made), [r for _, r in made]


def test_buildings_are_rasterised_where_they_stand(towns) -> None:  # type: ignore[no-untyped-def]
    tifs, footprints, roofs = towns
    places = load_buildings(tifs, footprints)
    assert [p.group for p in places] == ["town-1", "town-2"]
    for place, rects in zip(places, roofs, strict=True):
        assert place.gsd == pytest.approx(GSD) and place.buildings is not None
        truth = np.zeros((SIZE, SIZE), bool)
        for x0, y0, x1, y1 in rects:
            truth[y0:y1, x0:x1] = True
        found = place.buildings > 0
        assert (found & truth).sum() / (found | truth).sum() > 0.9  # this town's, none other
        assert place.buildings.max() == len(rects)
        assert len(sprites_of(place)) >= 10  # whole, contrasting roofs (edge ones may go)


def test_a_drawn_pair_is_labelled_where_the_dates_differ(towns) -> None:  # type: ignore[no-untyped-def]
    tifs, footprints, _ = towns
    places = load_buildings(tifs, footprints)
    sprites = [s for p in places for s in sprites_of(p)]
    mix = Mix(quiet=0.0)
    changed_inside, changed_outside = [], []
    for i in range(24):
        x = draw(places, sprites, 96, np.random.default_rng(i), mix)
        again = draw(places, sprites, 96, np.random.default_rng(i), mix)
        assert np.array_equal(x.label, again.label) and np.array_equal(x.after, again.after)
        assert x.before.shape == x.after.shape == (3, 96, 96) and x.label.shape == (96, 96)
        # each date has its own light; the network sees them standardised, as drawn
        diff = np.abs(x.before - x.after).mean(axis=0)
        if x.label.sum() > 20:
            changed_inside.append(float(np.median(diff[x.label > 0])))
            changed_outside.append(float(np.median(diff[x.label == 0])))
    assert len(changed_inside) >= 12
    assert np.median(changed_inside) > 2 * np.median(changed_outside)


def test_labels_follow_the_pixels_through_turns_and_resampling(
    towns, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """With one light for both dates, the dates differ where the label says, far less
    anywhere else, whatever turn, flip and resampling the draw took."""
    import sitewatch.change.train.data as data

    monkeypatch.setattr(data, "_look", lambda img, rng: img)
    tifs, footprints, _ = towns
    places = load_buildings(tifs, footprints)
    sprites = [s for p in places for s in sprites_of(p)]
    inside, outside = [], []
    for i in range(16):
        x = draw(places, sprites, 96, np.random.default_rng(100 + i), Mix(quiet=0.0, season=0))
        diff = np.abs(x.before - x.after).mean(axis=0) > 0.5
        core = cv2.erode((x.label > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        far = cv2.dilate((x.label > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
        if core.sum() > 10:
            inside.append(diff[core].mean())
            outside.append(diff[far].mean())
    assert len(inside) >= 8
    # outside, only the registration residual at sharp edges and the unlabelled patches of
    # moved ground differ
    assert np.mean(inside) > 0.5 and np.mean(inside) > 5 * np.mean(outside), (inside, outside)


def test_a_season_recolours_large_regions_and_never_what_it_keeps() -> None:
    """Two fields of a generated farm take on other colours, edges moved a little; the
    roofs (small) and the kept pixels stay exactly as they were; the same generator draws
    the same season."""
    from sitewatch.change.train.data import _season

    rng = np.random.default_rng(3)
    img = np.empty((240, 240, 3), np.uint8)
    img[:, :120] = (70, 120, 50)  # a green field
    img[:, 120:] = (150, 120, 80)  # a brown one
    img[:] = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    img[100:112, 40:54] = (200, 60, 50)  # a red roof in the green field
    keep = np.zeros((240, 240), bool)
    keep[180:220, 150:200] = True  # a building's ground, say
    changed = np.zeros((240, 240), bool)
    for seed in range(6):
        x = img.copy()
        _season(x, keep, np.random.default_rng(seed))
        again = img.copy()
        _season(again, keep, np.random.default_rng(seed))
        assert np.array_equal(x, again)
        assert np.array_equal(x[keep], img[keep])
        changed |= np.abs(x.astype(int) - img.astype(int)).max(axis=2) > 12
    assert changed[:, :110].mean() > 0.5 or changed[:, 130:].mean() > 0.5  # a whole field
    assert not changed[103:109, 43:51].any()  # the roof's inside: too small to be land


def test_ignored_ground_gets_no_change_and_no_weight(towns) -> None:  # type: ignore[no-untyped-def]
    tifs, footprints, _ = towns
    sprites = [s for p in load_buildings(tifs, footprints) for s in sprites_of(p)]
    rng = np.random.default_rng(0)
    date = rng.integers(60, 120, (128, 128, 3), dtype=np.uint8)
    ignore = np.zeros((128, 128), bool)
    ignore[:, :64] = True  # aircraft that moved, say
    place = Place((date, date.copy()), "apron", 0.5, ignore=ignore)
    labelled = 0
    for i in range(8):
        x = draw([place], sprites, 128, np.random.default_rng(i), Mix(scale=(1.0, 1.0), quiet=0))
        near = cv2.dilate((x.label > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        assert ((x.weight == 0) & ~near).sum() >= 0.95 * 64 * 128  # the ignored half, turned
        core = cv2.erode((x.label > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert (x.weight[core] == 1).all()  # a change lies on ground that counts
        labelled += int(core.sum())
    assert labelled > 0


def test_the_network_is_symmetric_in_its_dates() -> None:
    net = ChangeNet(TINY).eval()
    a, b = torch.rand(1, 3, 48, 64), torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        ab, ba = net(a, b), net(b, a)
    assert ab.shape == (1, 1, 48, 64)
    assert torch.allclose(ab, ba, atol=1e-5)


def _config(tifs: list[Path], footprints: Path, out: Path, steps: int) -> ChangeTrainConfig:
    return ChangeTrainConfig(
        pairs=None, pair_group=r"^(site-\d+)", pair_gsd=0.5,
        buildings=[str(p) for p in tifs], footprints=str(footprints), out=str(out),
        fold=0, folds=2, crop=64, batch=2, steps=steps, eval_every=2, validation_samples=4,
        warmup=1, net=TINY,
    )  # fmt: skip


def _levir(root: Path) -> Path:
    rng = np.random.default_rng(3)
    for name in ("A", "B", "label"):
        (root / name).mkdir(parents=True)
    for i in range(2):
        a = rng.integers(40, 200, (80, 96, 3), dtype=np.uint8)
        b, label = a.copy(), np.zeros((80, 96), np.uint8)
        b[20:40, 30:60], label[20:40, 30:60] = 230, 255
        PILImage.fromarray(a).save(root / "A" / f"p{i}.png")
        PILImage.fromarray(b).save(root / "B" / f"p{i}.png")
        PILImage.fromarray(label).save(root / "label" / f"p{i}.png")
    return root


def test_training_resumes_exports_and_runs_on_onnx(towns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tifs, footprints, _ = towns
    logs: list[str] = []
    cfg = _config(tifs, footprints, tmp_path / "ck", steps=2)
    last = train(cfg, log=logs.append)
    assert any("1 held out (town-" in m for m in logs), logs
    cfg.steps = 3
    train(cfg, log=logs.append)
    assert any(m.startswith("resumed from") and "step 2" in m for m in logs)
    history = [json.loads(line) for line in (last.parent / "history.jsonl").read_text().split("\n")
               if line]  # fmt: skip
    assert [h["step"] for h in history] == [2, 3]
    assert {"f1", "iou", "threshold", "pairs"} <= set(history[-1])

    alone = _config(tifs[:1], footprints, tmp_path / "ck1", steps=1)  # nothing to hold out
    with pytest.raises(BadInputError, match="validation would score nothing"):
        train(alone, log=logs.append)
    other = _config(tifs, footprints, tmp_path / "ck", steps=4)
    other.crop = 96
    with pytest.raises(BadInputError, match="crop=64"):
        train(other, log=logs.append)

    onnx_path = tmp_path / "change.onnx"
    info = export_onnx(
        last, onnx_path, name="tiny-change", version="0", threshold=0.5, gsd_m=(0.3, 1.2),
        metrics={"validation": history[-1]}, licence="test", credit="test", card="a test",
    )  # fmt: skip
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["task"] == "change" and card["train"]["crop"] == 64
    model = ChangeModel(onnx_path)
    assert model.info == info and model.version.startswith("tiny-change/0+")
    rng = np.random.default_rng(5)
    a = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)  # sides not multiples of 16
    b = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)
    p = model.probability(a, b)
    assert p.shape == (70, 90) and p.dtype == np.float32
    net, _ = load_trained(last)
    pad = ((0, 0), (0, 10), (0, 6))  # as the model pads: to 80 × 96, mirrored
    t = [torch.from_numpy(np.pad(standardised(v.transpose(2, 0, 1) / np.float32(255)), pad,
                                 mode="symmetric"))[None] for v in (a, b)]  # fmt: skip
    with torch.no_grad():
        expected = Probability(net)(*t)[0, 0, :70, :90].numpy()
    assert np.abs(p - expected).max() < 1e-4

    levir = _levir(tmp_path / "levir")
    args = ["eval", "change", "--pairs", str(levir), "--model", str(onnx_path)]
    result = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    scored = json.loads((tmp_path / "m.json").read_text())
    assert scored["method"] == "model" and scored["model"] == model.version
    assert scored["pairs"] == 2 and 0 <= scored["f1"] <= 1


def test_a_full_disk_while_checkpointing_keeps_the_last_good_checkpoint(
    towns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The change model trains through the same ``learn.fit`` as the detector: a disk that
    fills while it writes a checkpoint says so in one line and keeps the last whole one."""
    tifs, footprints, _ = towns
    cfg = _config(tifs, footprints, tmp_path / "ck", steps=2)
    full_disk_keeps_the_last_checkpoint(train, cfg, monkeypatch)


def test_what_is_not_a_change_model_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        ChangeModel(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(BadInputError, match="not a usable sitewatch ONNX model"):
        ChangeModel(junk)
    from sitewatch.detect.model import DEFAULT_MODEL

    with pytest.raises(BadInputError, match="not a usable"):
        ChangeModel(DEFAULT_MODEL)  # a detector is not a change model
    good = {"name": "m", "version": "1", "task": "change", "gsd_m": [0.3, 1.2], "threshold": 0.5}
    assert ChangeModelInfo.from_json(json.dumps(good)).gsd_m == (0.3, 1.2)
    with pytest.raises(ValueError, match="threshold"):  # a required field missing
        ChangeModelInfo.from_json(json.dumps({k: v for k, v in good.items() if k != "threshold"}))
    for bad, why in (
        ({"task": "detect"}, "not a change model"),
        ({"gsd_m": [0.3]}, "gsd_m"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"extra": 1}, "unknown"),
        ({"name": ""}, "name"),
        ({"gsd_m": [1.2, 0.3]}, "finest"),
    ):
        with pytest.raises(ValueError, match=why):
            ChangeModelInfo.from_json(json.dumps({**good, **bad}))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny change model as an ONNX file (what matters here is the plumbing)."""
    from dataclasses import asdict

    folder = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    net = ChangeNet(TINY).eval()
    ckpt = folder / "last.pt"
    torch.save({"ema": net.state_dict(), "config": {"net": asdict(TINY)}, "step": 0}, ckpt)
    out = folder / "tiny.onnx"
    export_onnx(ckpt, out, name="tiny-change", version="0", threshold=0.5, gsd_m=(0.3, 1.0),
                metrics={}, licence="test", credit="test", card="a test")  # fmt: skip
    return out


def test_tiles_agree_with_one_pass(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large grid is run in overlapping tiles (the last one flush with the edge); where
    each is trusted, the result is what one pass over the whole grid gives."""
    import sitewatch.change.model as cm

    rng = np.random.default_rng(1)
    smooth = cv2.GaussianBlur(rng.normal(0, 1, (900, 1100, 3)).astype(np.float32), (0, 0), 3)
    a = np.clip(128 + 400 * smooth, 0, 255).astype(np.uint8)
    b = a.copy()
    b[300:360, 500:580] = 240  # a new roof across a tile cut
    valid = np.ones(a.shape[:2], bool)
    valid[:, :40] = False  # no data at one side: the mean to the model, not black
    model = ChangeModel(tiny_model)
    tiled = model.probability(a, b, valid)
    monkeypatch.setattr(cm, "TILE", 4096)
    whole = model.probability(a, b, valid)
    assert tiled.shape == whole.shape == (900, 1100)
    assert np.abs(tiled - whole).max() < 1e-3


def test_a_grid_outside_the_trained_sizes_is_resampled(tiny_model: Path) -> None:
    model = ChangeModel(tiny_model)
    rng = np.random.default_rng(2)
    a = rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    native = model.probability(a, b)
    coarse = model.probability(a, b, gsd_m=3.0)  # 3 m pixels: run at 1 m, three times larger
    fine = model.probability(a, b, gsd_m=0.5)  # within 0.3…1 m: as it is
    assert coarse.shape == native.shape == (120, 100)
    assert np.array_equal(fine, native) and not np.allclose(coarse, native)


def test_change_with_the_model_records_which_model(tiny_model: Path, catalog) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from sitewatch import add_geo_site
    from sitewatch.change import ChangeMethod, change_site, load_change
    from sitewatch.ingest import Dated, IngestOptions, Provenance, ingest
    from sitewatch.register import register_site
    from sitewatch.store.models import Run
    from tests.conftest import JOPLIN

    add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson")
    for name, day in (("joplin-pre.tif", 1), ("joplin-post.tif", 23)):
        when = Provenance(acquired=Dated(datetime(2011, 5, day, tzinfo=UTC), "test"))
        ingest(catalog, [JOPLIN / name], IngestOptions(provenance=when))
    register_site(catalog, "joplin")
    report = change_site(catalog, "joplin", method=ChangeMethod.MODEL, model=tiny_model)
    assert len(report.pairs) == 1
    stored = load_change(catalog, "joplin")
    assert [p.method for p in stored] == ["model"]
    with catalog.session() as s:
        run = s.get(Run, report.run_id)
        assert run is not None and run.parameters["model"] == ChangeModel(tiny_model).version
