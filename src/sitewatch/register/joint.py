"""Joint adjustment of a site's registrations: one frame consistent by construction.

Registering each image to the reference on its own leaves every image's transform resting
on one pair of views. Where the views differ in angle, each pair settles on the ground a
little differently, and two crops of one acquisition, which must agree exactly, land
pixels apart. Here every overlapping pair of images contributes its ground matches (a
*tie*), and all transforms are solved at once, the reference held fixed: each tie pulls
its two images together in the frame, so a transform rests on every view that overlaps
it, and chains cannot accumulate error.

The solve is a robust least-squares adjustment (soft-L1 loss at ``loss_px``) over each
image's transform in its own model family (translation … homography), in coordinates
scaled to about one so the perspective terms are not lost in rounding.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

FAMILY_PARAMS = {"translation": 2, "similarity": 4, "affine": 6, "homography": 8}


@dataclass(frozen=True)
class Tie:
    """Ground matches between images ``a`` and ``b``: ``src`` in a's pixels, ``dst`` the
    same ground points in b's pixels, both (N, 2)."""

    a: int
    b: int
    src: np.ndarray
    dst: np.ndarray


@dataclass(frozen=True)
class Adjusted:
    """The adjusted image → frame transforms, and how well they explain the ties: per image
    the RMS frame distance of its tie points, per tie the same (frame pixels)."""

    matrices: list[np.ndarray]
    image_rms_px: list[float | None]
    tie_rms_px: list[float]


def adjust(
    initial: list[np.ndarray],
    families: list[str],
    fixed: set[int],
    ties: list[Tie],
    scale: float = 1000.0,
    loss_px: float = 1.0,
) -> Adjusted:
    """Solve every image's transform (``initial``: image pixels → frame) from ``ties``,
    keeping the images in ``fixed`` (the reference, results already stored) as they are.

    An image no tie reaches keeps its initial transform."""
    from scipy.optimize import least_squares
    from scipy.sparse import coo_matrix

    n = len(initial)
    if not fixed:
        raise ValueError("a joint adjustment needs at least one fixed image (the reference)")
    norm = np.diag([1 / scale, 1 / scale, 1.0])
    free = [i for i in range(n) if i not in fixed and any(i in (t.a, t.b) for t in ties)]
    offset: dict[int, int] = {}
    start: list[np.ndarray] = []
    for i in free:
        offset[i] = sum(len(p) for p in start)
        start.append(_params(norm @ initial[i] @ np.linalg.inv(norm), families[i]))
    x0 = np.concatenate(start) if start else np.zeros(0)
    src = np.concatenate([t.src for t in ties]) / scale if ties else np.zeros((0, 2))
    dst = np.concatenate([t.dst for t in ties]) / scale if ties else np.zeros((0, 2))
    ia = np.concatenate([np.full(len(t.src), t.a) for t in ties]) if ties else np.zeros(0, int)
    ib = np.concatenate([np.full(len(t.src), t.b) for t in ties]) if ties else np.zeros(0, int)
    fixed_m = {i: norm @ initial[i] @ np.linalg.inv(norm) for i in range(n) if i not in free}

    def matrices(x: np.ndarray) -> np.ndarray:
        out = np.empty((n, 3, 3))
        for i in range(n):
            if i in fixed_m:
                out[i] = fixed_m[i]
            else:
                k = FAMILY_PARAMS[families[i]]
                out[i] = _matrix(x[offset[i] : offset[i] + k], families[i])
        return out

    def residuals(x: np.ndarray) -> np.ndarray:
        m = matrices(x)
        return ((_apply(m[ia], src) - _apply(m[ib], dst)) * scale).ravel()

    if len(x0) and len(src):
        rows, cols = [], []
        for i in free:  # a tie point's two residuals depend on its two images' parameters
            k = FAMILY_PARAMS[families[i]]
            hit = np.flatnonzero((ia == i) | (ib == i))
            r = np.concatenate([2 * hit, 2 * hit + 1])
            rows.append(np.repeat(r, k))
            cols.append(np.tile(np.arange(offset[i], offset[i] + k), len(r)))
        row, col = np.concatenate(rows), np.concatenate(cols)
        sparsity = coo_matrix(
            (np.ones(len(row), np.int8), (row, col)), shape=(2 * len(src), len(x0))
        ).tocsr()
        solved = least_squares(
            residuals, x0, jac_sparsity=sparsity, loss="soft_l1", f_scale=loss_px,
            x_scale="jac", method="trf", tr_solver="lsmr", max_nfev=200,
        )  # fmt: skip
        x = solved.x
    else:
        x = x0
    m = matrices(x)
    out = [np.linalg.inv(norm) @ m[i] @ norm for i in range(n)]
    out = [h / h[2, 2] for h in out]
    r = ((_apply(m[ia], src) - _apply(m[ib], dst)) * scale) if len(src) else np.zeros((0, 2))
    d2 = (r**2).sum(axis=1)
    per_image: list[float | None] = []
    for i in range(n):
        mine = (ia == i) | (ib == i)
        per_image.append(float(np.sqrt(d2[mine].mean())) if mine.any() else None)
    bounds = np.cumsum([0] + [len(t.src) for t in ties])
    per_tie = [float(np.sqrt(d2[a:b].mean())) for a, b in itertools.pairwise(bounds)]
    return Adjusted(out, per_image, per_tie)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Each point through its own 3×3 matrix: (N, 3, 3) and (N, 2) → (N, 2)."""
    x = m[:, :, 0] * pts[:, :1] + m[:, :, 1] * pts[:, 1:2] + m[:, :, 2]
    return x[:, :2] / x[:, 2:3]


def _params(h: np.ndarray, family: str) -> np.ndarray:
    """The parameters of ``family`` closest to the (normalised) matrix ``h``."""
    h = h / h[2, 2]
    if family == "translation":
        return h[:2, 2].copy()
    if family == "similarity":
        return np.array([(h[0, 0] + h[1, 1]) / 2, (h[1, 0] - h[0, 1]) / 2, h[0, 2], h[1, 2]])
    if family == "affine":
        return h[:2].ravel().copy()
    if family == "homography":
        return h.ravel()[:8].copy()
    raise ValueError(f"unknown transform family {family!r}")


def _matrix(p: np.ndarray, family: str) -> np.ndarray:
    """The (normalised) matrix of ``family`` with parameters ``p``."""
    if family == "translation":
        return np.array([[1.0, 0, p[0]], [0, 1.0, p[1]], [0, 0, 1.0]])
    if family == "similarity":
        return np.array([[p[0], -p[1], p[2]], [p[1], p[0], p[3]], [0, 0, 1.0]])
    if family == "affine":
        return np.vstack([p.reshape(2, 3), [0.0, 0.0, 1.0]])
    return np.append(p, 1.0).reshape(3, 3)


def family_of(h: np.ndarray) -> str:
    """The simplest family that holds ``h`` exactly (the fits are least squares within
    their family, and compositions stay in the richer of their parts)."""
    h = h / h[2, 2]
    if np.abs(h[2, :2]).max() > 0:
        return "homography"
    a = h[:2, :2]
    if np.allclose(a, np.eye(2), rtol=0, atol=1e-12):
        return "translation"
    if abs(a[0, 0] - a[1, 1]) < 1e-12 and abs(a[0, 1] + a[1, 0]) < 1e-12:
        return "similarity"
    return "affine"
