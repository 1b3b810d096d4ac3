"""The joint adjustment on ties with known truth: it recovers every transform from noisy
ties with outliers, holds fixed images fixed, and makes crops of one view agree exactly
where separate fits to the reference disagree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sitewatch import add_frame_site
from sitewatch.frame import project
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.register import RegisterConfig, register_site
from sitewatch.register import joint as jt
from tests.conftest import AIRPORT
from tests.conftest import DEMO_REF as REF


def _similarity(angle_deg: float, s: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array(
        [[s * np.cos(a), -s * np.sin(a), tx], [s * np.sin(a), s * np.cos(a), ty], [0, 0, 1.0]]
    )


def _tie(truth: list[np.ndarray], a: int, b: int, rng: np.random.Generator, n: int = 300,
         noise: float = 0.3, outliers: float = 0.2) -> jt.Tie:  # fmt: skip
    """Ground points seen by a and b: a's pixels, b's pixels (noisy), some of them wrong."""
    frame = rng.uniform(200, 1800, (n, 2))
    src = project(np.linalg.inv(truth[a]), frame) + rng.normal(0, noise, (n, 2))
    dst = project(np.linalg.inv(truth[b]), frame) + rng.normal(0, noise, (n, 2))
    bad = rng.random(n) < outliers  # moved aircraft, roofs: tens of pixels off
    dst[bad] += rng.uniform(-40, 40, (int(bad.sum()), 2))
    return jt.Tie(a, b, src, dst)


CORNERS = np.array([[0, 0], [2000, 0], [2000, 2000], [0, 2000]], float)


def _corner_error(h: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(project(h, CORNERS) - project(truth, CORNERS), axis=1).max())


def test_recovers_every_transform_from_noisy_ties_with_outliers() -> None:
    rng = np.random.default_rng(1)
    truth = [
        np.eye(3),
        _similarity(3, 1.02, 40, -25),
        _similarity(-2, 0.98, -60, 30),
        np.array([[1.01, 0.02, 15], [-0.01, 0.99, 8], [2e-6, -1e-6, 1.0]]),
    ]
    ties = [_tie(truth, a, b, rng) for a, b in [(1, 0), (2, 0), (3, 1), (2, 3), (1, 2)]]
    # start a few pixels off, as separate pairwise fits leave them
    start = [truth[0]] + [np.array([[1, 0, 4.0], [0, 1, -3.0], [0, 0, 1]]) @ t for t in truth[1:]]
    families = ["translation", "similarity", "similarity", "homography"]
    out = jt.adjust(start, families, {0}, ties)
    assert np.array_equal(out.matrices[0], np.eye(3))  # the reference does not move
    for h, t in zip(out.matrices[1:], truth[1:], strict=True):
        assert _corner_error(h, t) < 0.5  # from 5 px off; corners lie beyond the ties
    assert len(out.tie_rms_px) == len(ties) and all(r is not None for r in out.image_rms_px)
    assert jt.family_of(out.matrices[1]) == "similarity"
    assert jt.family_of(out.matrices[3]) == "homography"


def test_crops_of_one_view_agree_exactly_through_the_adjustment() -> None:
    rng = np.random.default_rng(2)
    view = _similarity(1.5, 1.0, 30, 12)  # one acquisition, cut into two crops
    shift = np.array([[1, 0, 512.0], [0, 1, 256.0], [0, 0, 1]])  # crop 2 → crop 1 pixels
    truth = [np.eye(3), view, view @ shift]
    # each crop's own fit to the reference is off in its own way (a different height layer)
    start = [
        np.eye(3),
        np.array([[1, 0, 5.0], [0, 1, 0], [0, 0, 1]]) @ truth[1],
        np.array([[1, 0, -4.0], [0, 1, 3.0], [0, 0, 1]]) @ truth[2],
    ]
    ties = [_tie(truth, 1, 0, rng), _tie(truth, 2, 0, rng), _tie(truth, 1, 2, rng, noise=0.05)]
    out = jt.adjust(start, ["similarity", "similarity", "similarity"], {0}, ties)
    grid = np.array([[x, y] for x in range(600, 1900, 200) for y in range(300, 1900, 200)])
    apart = np.linalg.norm(
        project(out.matrices[1], grid) - project(out.matrices[2] @ np.linalg.inv(shift), grid),
        axis=1,
    )
    assert apart.max() < 0.2  # the crops agree in the frame
    assert _corner_error(out.matrices[1], truth[1]) < 0.5


def test_an_image_no_tie_reaches_keeps_its_transform_and_fixed_ones_stay() -> None:
    rng = np.random.default_rng(3)
    truth = [np.eye(3), _similarity(1, 1.0, 10, 5), _similarity(2, 1.0, -10, 5)]
    start = [np.eye(3), truth[1] + 0.0, np.array([[1, 0, 3.0], [0, 1, 0], [0, 0, 1]]) @ truth[2]]
    out = jt.adjust(start, ["translation", "similarity", "similarity"], {0, 1},
                    [_tie(truth, 0, 1, rng)])  # fmt: skip
    assert np.allclose(out.matrices[1], truth[1]) and np.allclose(out.matrices[2], start[2])
    assert out.image_rms_px[2] is None
    with pytest.raises(ValueError, match="fixed image"):
        jt.adjust(start, ["translation"] * 3, set(), [])


def test_two_crops_of_one_view_agree_in_a_real_site_frame(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The demo airport, plus two overlapping crops (lossless) of its off-nadir a4 view:
    registered jointly, the crops land in the frame exactly their offset apart."""
    view = np.asarray(PILImage.open(AIRPORT / "babb0ef2-ef2d-4cab-b3e2-230ae2418cdc.jpg"))
    left, right = tmp_path / "left.png", tmp_path / "right.png"
    PILImage.fromarray(view[:, :1600]).save(left)
    PILImage.fromarray(view[:, 1000:]).save(right)  # right pixel + 1000 = left pixel
    add_frame_site(catalog, "apt", str(REF))
    opts = IngestOptions(site="apt", allow_undated=True)
    assert ingest(catalog, [AIRPORT], opts).ok and ingest(catalog, [left, right], opts).ok
    report = register_site(catalog, "apt", config=RegisterConfig(joint=True))
    by_name = {r.name: r for r in report.results}
    assert all(r.ok for r in report.results), [r.reason for r in report.results]
    joined = [r for r in report.results if r.method.endswith("+joint")]
    # all but the reference and the view of another part of the airport (a2): its overlap
    # with the others is at the edge of registering as a pair, and whether it does depends
    # on the CPU's arithmetic in feature extraction (chain on an AVX-512 machine, joined on
    # an AVX2 one); either way it is placed, and the crops are joint
    a2 = by_name["78400c58-1a7c-4342-a1fb-2117cb7cbc8b.jpg"].method
    assert a2 in ("chain", "chain+joint"), a2
    expected = len(report.results) - (2 if a2 == "chain" else 1)
    assert len(joined) == expected, [(r.name, r.method) for r in report.results]
    assert {"left.png", "right.png"} <= {r.name for r in joined}
    # tie points lie within 3 px of their own pair's fit; one frame for all stays near that
    assert all(r.rmse_px is not None and r.rmse_px < 4.0 for r in joined), [
        r.rmse_px for r in joined
    ]
    shift = np.array([[1, 0, 1000.0], [0, 1, 0], [0, 0, 1]])
    grid = np.array([[x, y] for x in range(1000, 1601, 100) for y in range(0, 2561, 256)], float)
    apart = np.linalg.norm(
        project(by_name["left.png"].matrix, grid)
        - project(by_name["right.png"].matrix @ np.linalg.inv(shift), grid),
        axis=1,
    )
    assert apart.max() < 1.0, apart.max()
