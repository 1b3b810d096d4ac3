"""Site-frame and map tiles on generated rasters whose pixels are known."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.conftest import write_geotiff

pytest.importorskip("rio_tiler", reason="tiles need the web extra")

from sitewatch.web.app import UnsupportedUpload, safe_name
from sitewatch.web.tiles import TileSource, encode, frame_tile, max_zoom, mercator_tile


def _pattern(h: int = 600, w: int = 700) -> np.ndarray:
    rng = np.random.default_rng(4)
    smooth = rng.integers(0, 255, (3, h // 10 + 1, w // 10 + 1)).astype(np.float32)
    return np.stack([np.kron(b, np.ones((10, 10)))[:h, :w] for b in smooth]).astype(
        np.uint8
    )  # 10 px blocks: resampling keeps their values


@pytest.fixture
def source(tmp_path):  # type: ignore[no-untyped-def]
    pixels = _pattern()
    src = TileSource(write_geotiff(tmp_path / "scene.tif", pixels=pixels))
    yield src, pixels.transpose(1, 2, 0)
    src.close()


def test_max_zoom_is_where_a_tile_pixel_is_a_frame_pixel() -> None:
    assert (max_zoom(256, 100), max_zoom(257, 10), max_zoom(2560, 2560)) == (0, 1, 4)


def test_identity_tile_at_full_zoom_is_the_source_pixels(source) -> None:
    src, rgb = source
    zmax = max_zoom(src.width, src.height)
    tile = frame_tile(src, np.eye(3), zmax, zmax, 1, 0)
    assert tile is not None and tile.shape == (256, 256, 4)
    assert np.array_equal(tile[:, :, :3], rgb[0:256, 256:512])
    assert (tile[..., 3] == 255).all()
    edge = frame_tile(src, np.eye(3), zmax, zmax, 2, 2)  # holds the image's corner
    assert (edge[: 600 - 512, : 700 - 512, 3] == 255).all()
    assert (edge[600 - 512 + 1 :, :, 3] == 0).all() and (edge[:, 700 - 512 + 1 :, 3] == 0).all()
    assert frame_tile(src, np.eye(3), zmax, zmax, 5, 5) is None
    webp = PILImage.open(io.BytesIO(encode(edge)))  # the page's format keeps the no-data edge
    assert np.array_equal(np.asarray(webp)[..., 3], edge[..., 3])


def test_registration_moves_the_image_in_the_frame(source) -> None:
    src, rgb = source
    zmax = max_zoom(src.width, src.height)
    shift = np.array([[1.0, 0, 30], [0, 1, 20], [0, 0, 1]])  # image → frame: +30, +20 px
    tile = frame_tile(src, shift, zmax, zmax, 0, 0)
    assert np.array_equal(tile[20:, 30:, :3], rgb[: 256 - 20, : 256 - 30])
    assert (tile[:19, :, 3] == 0).all() and (tile[:, :29, 3] == 0).all()  # no data there


def test_zoomed_out_tiles_average_the_source(source) -> None:
    src, rgb = source
    zmax = max_zoom(src.width, src.height)
    tile = frame_tile(src, np.eye(3), zmax, zmax - 1, 0, 0)
    expected = rgb[:512:2, :512:2].astype(float)  # 10 px blocks: a 2× average keeps them
    inner = np.ones((256, 256), bool)
    inner[4::5, :] = inner[:, 4::5] = False  # block edges mix two blocks
    assert np.abs(tile[..., :3].astype(float) - expected)[inner].mean() < 2


def test_sixteen_bit_rasters_are_stretched_like_the_detector_sees_them(tmp_path) -> None:
    pixels = (_pattern().astype(np.uint16) * 12 + 1000).astype(np.uint16)
    src = TileSource(write_geotiff(tmp_path / "u16.tif", pixels=pixels, dtype="uint16"))
    tile = frame_tile(src, np.eye(3), max_zoom(700, 600), max_zoom(700, 600), 0, 0)
    src.close()
    assert tile[..., :3].min() == 0 and tile[..., :3].max() == 255  # 2–98 % stretch


def test_jpeg_sources_read_reduced_levels_when_zoomed_out(tmp_path) -> None:
    rgb = _pattern(1024, 1024).transpose(1, 2, 0)
    path = tmp_path / "plain.jpg"
    PILImage.fromarray(rgb).save(path, quality=95)
    src = TileSource(path)
    tile = frame_tile(src, np.eye(3), 2, 0, 0, 0)  # the whole image in one tile
    assert 1 in src._levels and 2 not in src._levels  # decoded at 1/4, not more
    expected = np.asarray(PILImage.fromarray(rgb).resize((256, 256), PILImage.Resampling.BOX))
    assert np.abs(tile[..., :3].astype(float) - expected).mean() < 4
    assert mercator_tile(src, 10, 0, 0) is None  # not georeferenced: no map tiles
    src.close()


def test_map_tiles_come_from_the_georeferenced_raster(tmp_path) -> None:
    import morecantile
    from rasterio.transform import Affine

    pixels = _pattern()
    # 0.5 m pixels in UTM 15N near Joplin
    transform = Affine(0.5, 0, 363_000, 0, -0.5, 4_103_000)
    src = TileSource(write_geotiff(tmp_path / "g.tif", pixels=pixels, transform=transform))
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(32615, 4326, always_xy=True).transform(363_175, 4_102_850)
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 19)
    tile = mercator_tile(src, t.z, t.x, t.y)
    assert tile is not None and (tile[..., 3] == 255).mean() > 0.5
    assert set(np.unique(tile[..., :3][tile[..., 3] == 255])) <= set(np.unique(pixels))
    assert mercator_tile(src, 19, 0, 0) is None
    src.close()
    decoded = np.asarray(PILImage.open(io.BytesIO(encode(tile, "png"))))
    assert np.array_equal(decoded, tile) and encode(None, "png")[:4] == b"\x89PNG"
    small = PILImage.open(io.BytesIO(encode(tile)))  # WebP: lossy colour, exact alpha
    assert small.format == "WEBP"
    assert np.array_equal(np.asarray(small.convert("RGBA"))[..., 3], tile[..., 3])
    assert np.abs(np.asarray(small)[..., :3].astype(int) - tile[..., :3]).mean() < 6


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("scene.tif", "scene.tif"),
        ("../../etc/x.jpg", "x.jpg"),
        ("C:\\Users\\me\\My Scene.JPG", "My_Scene.JPG"),
        ("..jpg", "upload"),  # nothing left but a suffix-less name
    ],
)
def test_upload_names_lose_directories_and_odd_characters(name: str, safe: str) -> None:
    if safe == "upload":
        with pytest.raises(UnsupportedUpload):
            safe_name(name)
    else:
        assert safe_name(name) == safe


def test_upload_names_must_be_imagery() -> None:
    with pytest.raises(UnsupportedUpload, match=r"notes\.txt: not an image type"):
        safe_name("notes.txt")
