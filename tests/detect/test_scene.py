"""Reading scenes at model scale: JPEG and GeoTIFF give the same pixels; bands and bit depth."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sitewatch.errors import BadInputError
from sitewatch.scene import InMemoryScene, RasterScene, load_scaled, open_scene
from tests.conftest import AIRPORT, write_geotiff

SCENE = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"


def test_jpeg_is_read_at_half_scale_by_window() -> None:
    scene = open_scene(SCENE, source_gsd_m=0.5, model_gsd_m=1.0)
    assert isinstance(scene, InMemoryScene)
    assert (scene.width, scene.height, scene.scale) == (1280, 1280, 0.5)
    tile = scene.read(100, 200, 300, 150)
    assert tile.shape == (150, 300, 3) and tile.dtype == np.uint8
    assert np.array_equal(tile, load_scaled(SCENE, 0.5)[200:350, 100:400])


def test_geotiff_windows_match_the_jpeg_pixels(tmp_path: Path) -> None:
    pixels = np.asarray(PILImage.open(SCENE).convert("RGB"))
    path = write_geotiff(tmp_path / "scene.tif", pixels=pixels.transpose(2, 0, 1))
    scene = open_scene(path, 0.5, 1.0)
    assert isinstance(scene, RasterScene) and (scene.width, scene.height) == (1280, 1280)
    window = scene.read(640, 640, 256, 256).astype(float)
    truth = pixels[1280:1792, 1280:1792].reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))
    assert np.abs(window - truth).mean() < 1.0  # 2×2 average, as the model was trained
    scene.close()


def test_four_band_uint16_is_stretched_to_8_bit_rgb(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(200, 4000, (4, 64, 64))
    path = write_geotiff(tmp_path / "nir.tif", pixels=data, dtype="uint16")
    scene = open_scene(path, 1.0, 1.0)
    tile = scene.read(0, 0, 64, 64)
    assert tile.shape == (64, 64, 3) and tile.dtype == np.uint8
    assert 0 <= tile.min() < 20 and tile.max() > 235  # 2–98 % stretch
    scene.close()


def test_single_band_is_repeated(tmp_path: Path) -> None:
    path = write_geotiff(tmp_path / "pan.tif", bands=1)
    scene = open_scene(path, 0.5, 1.0)
    tile = scene.read(0, 0, 16, 16)
    assert np.array_equal(tile[..., 0], tile[..., 2])
    scene.close()


def test_unreadable_scene_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00" + bytes(100))
    with pytest.raises(BadInputError, match=r"bad\.tif"):
        open_scene(bad, 0.5, 1.0)
