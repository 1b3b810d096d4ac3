"""Area-based refinement: many small correlation windows on gradient images, one robust fit.

After a disaster or between seasons, local features of buildings and fields rarely match
(a flattened block has no corners in common with the houses that stood there), but roads,
lots and field edges still line up. Correlating smoothed intensity in a grid of windows
(the idea behind AROSICS-style local co-registration) measures the residual shift where
such structure survives; RANSAC over the window shifts rejects windows that changed or
lean with parallax. Smoothing suppresses debris and foliage texture that decorrelates.
"""

from __future__ import annotations

import cv2
import numpy as np

from sitewatch.register.features import Fit, seeded


def _smooth(gray: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 2.0)


def _subpixel(scores: np.ndarray, y: int, x: int) -> tuple[float, float]:
    """Parabolic interpolation of a correlation peak."""

    def offset(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c
        return 0.0 if abs(den) < 1e-9 else 0.5 * (a - c) / den

    dy = offset(*scores[y - 1 : y + 2, x]) if 0 < y < scores.shape[0] - 1 else 0.0
    dx = offset(*scores[y, x - 1 : x + 2]) if 0 < x < scores.shape[1] - 1 else 0.0
    return x + dx, y + dy


def window_shifts(
    moving: np.ndarray, fixed: np.ndarray, window: int = 96, search: int = 24, step: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Matched window centres: (N, 2) in ``moving`` and where each lands in ``fixed``.

    Both images are on the same grid already (the moving one warped by a first guess);
    0 marks nodata. Windows without texture or a good peak inside the search are skipped.
    """
    gm, gf = _smooth(moving), _smooth(fixed)
    valid = (moving > 0) & (fixed > 0)
    src, dst = [], []
    height, width = moving.shape
    for y0 in range(search, height - window - search, step):
        for x0 in range(search, width - window - search, step):
            span = np.s_[y0 - search : y0 + window + search, x0 - search : x0 + window + search]
            if not valid[span].all():
                continue
            tpl = gm[y0 : y0 + window, x0 : x0 + window]
            if tpl.std() < 2.0:
                continue
            area = gf[span]
            scores = cv2.matchTemplate(area, tpl, cv2.TM_CCOEFF_NORMED)
            _, best, _, (bx, by) = cv2.minMaxLoc(scores)
            if best < 0.4 or not (0 < bx < 2 * search and 0 < by < 2 * search):
                continue
            sx, sy = _subpixel(scores, by, bx)
            centre = (x0 + window / 2, y0 + window / 2)
            src.append(centre)
            dst.append((centre[0] + sx - search, centre[1] + sy - search))
    return np.array(src, np.float32).reshape(-1, 2), np.array(dst, np.float32).reshape(-1, 2)


def refine_by_windows(
    moving: np.ndarray, fixed: np.ndarray, min_windows: int = 8, tolerance: float = 2.0
) -> Fit:
    """A similarity transform (working pixels) that best aligns ``moving`` onto ``fixed``."""
    src, dst = window_shifts(moving, fixed)
    n = len(src)
    if n < min_windows:
        return Fit(None, n, 0, None, f"only {n} correlation windows found structure")
    seeded()
    a, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=tolerance, maxIters=5000
    )
    if a is None:
        return Fit(None, n, 0, None, "correlation windows disagree on the shift")
    inl = mask.ravel().astype(bool)
    k = int(inl.sum())
    if k < min_windows or k < 0.2 * n:
        return Fit(None, n, k, None, f"only {k} of {n} correlation windows agree")
    h = np.vstack([a, [0.0, 0.0, 1.0]])
    pts = cv2.transform(src[inl][None], a)[0]
    rmse = float(np.sqrt(((pts - dst[inl]) ** 2).sum(axis=1).mean()))
    return Fit(h, n, k, rmse, None)
