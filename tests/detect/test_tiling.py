"""Tiling and merging: every object once, whatever the tile grid."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sitewatch.boxes import nms
from sitewatch.cli import app
from sitewatch.detect import TileSpec
from sitewatch.detect.decode import decode, maxpool3
from sitewatch.detect.tiling import make_tiles, merge_seams, owned
from sitewatch.errors import BadInputError


@pytest.mark.parametrize(
    ("width", "height", "tile", "overlap"),
    [(1280, 1280, 2048, 160), (5000, 3100, 1024, 160), (1100, 700, 512, 128)],
)
def test_tiles_cover_the_scene_and_cores_partition_it(width, height, tile, overlap) -> None:  # type: ignore[no-untyped-def]
    tiles = make_tiles(width, height, tile, overlap)
    covered = np.zeros((height, width), np.int32)
    for t in tiles:
        assert t.width <= tile and t.height <= tile
        covered[t.y0 : t.y0 + t.height, t.x0 : t.x0 + t.width] += 1
    assert covered.min() >= 1
    # every point of the scene is owned by exactly one tile core
    rng = np.random.default_rng(0)
    pts = rng.uniform([0, 0], [width, height], (2000, 2))
    boxes = np.concatenate([pts - 1, pts + 1], axis=1)
    owners = sum(owned(t, boxes).astype(int) for t in tiles)
    assert np.all(owners == 1)


def test_object_straddling_a_tile_edge_is_owned_once() -> None:
    tiles = make_tiles(1000, 600, 600, 160)
    assert len(tiles) == 2
    edge = tiles[0].x0 + tiles[0].width  # right edge of the first tile
    aircraft = np.array([[edge - 40, 100, edge + 40, 160]], np.float32)  # cut by that edge
    # the second tile sees it whole (overlap > object), the first sees a sliver
    assert tiles[1].x0 <= aircraft[0, 0]
    assert sum(int(owned(t, aircraft)[0]) for t in tiles) == 1


def test_seam_nms_removes_a_pair_reported_by_both_tiles() -> None:
    tiles = make_tiles(1000, 600, 600, 160)
    seam = tiles[0].core[2]
    boxes = np.array(
        [[seam - 30, 50, seam + 30, 90], [seam - 28, 51, seam + 31, 91], [10, 10, 60, 60]],
        np.float32,
    )
    keep = merge_seams(boxes, np.array([0.9, 0.8, 0.7], np.float32), tiles, band=80)
    assert keep.tolist() == [0, 2]


def test_decode_finds_peaks_with_offsets_and_sizes() -> None:
    heat = np.zeros((1, 32, 32), np.float32)
    heat[0, 10, 5] = 0.9
    heat[0, 10, 6] = 0.5  # a shoulder, not a peak
    heat[0, 20, 25] = 0.7
    size = np.zeros((2, 32, 32), np.float32)
    size[:, 10, 5] = np.log([40, 20])
    offset = np.full((2, 32, 32), 0.5, np.float32)
    boxes, scores, classes = decode(heat, size, offset, stride=4, threshold=0.3)
    assert scores.tolist() == pytest.approx([0.9, 0.7])
    assert boxes[0] == pytest.approx([22 - 20, 42 - 10, 22 + 20, 42 + 10])
    assert classes.tolist() == [0, 0]
    assert maxpool3(heat)[0, 10, 6] == pytest.approx(0.9)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.3], np.float32), 0.5).tolist() == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"tile": 0}, "tile"), ({"tile": 10**9}, "tile"), ({"tile": 512, "overlap": 512}, "overlap"),
     ({"overlap": -1}, "overlap"), ({"batch": 0}, "batch")],
)  # fmt: skip
def test_a_tile_spec_that_cannot_tile_is_refused(kwargs: dict, field: str) -> None:
    """Through the Python API too: it used to give zero tiles, so zero detections, silently."""
    with pytest.raises(BadInputError, match=f"^{field}: "):
        TileSpec(**kwargs)


def test_detect_with_an_absurd_tile_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--workspace", str(tmp_path), "detect", "--tile", "0"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["error: tile: 0 px is not in 64…16384"]
