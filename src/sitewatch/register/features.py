"""Image-to-image registration by local features: SIFT, ratio test, MAGSAC++ homography.

Satellite scenes of one place on different dates differ in light, season, parked objects
and view angle. Contrast is normalised (CLAHE) before SIFT so brightness and contrast
changes do not move keypoints; Lowe's ratio test drops ambiguous matches (repeated hangars,
stands); MAGSAC++ fits the homography robustly, so moved aircraft and parallax of tall
buildings end up as outliers. A fit is then checked for degeneracy (a homography from a
handful of collinear matches can have a tiny RMSE and still be nonsense).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MatchConfig:
    """Knobs of feature registration (defaults suit 0.3–1 m imagery)."""

    max_side: int = 4096  # working size: larger images are matched decimated
    features: int = 10000
    ratio: float = 0.8
    ransac_px: float = 3.0  # inlier tolerance in working pixels
    min_inliers: int = 25
    min_inlier_ratio: float = 0.08


@dataclass(frozen=True)
class Features:
    """Keypoints (N, 2) in working pixels and their descriptors (N, 128).

    All coordinates in sitewatch put pixel edges on integers (the first pixel spans 0…1),
    like detection boxes and footprints; OpenCV's keypoints put centres there, hence +0.5.
    """

    points: np.ndarray
    descriptors: np.ndarray


@dataclass(frozen=True)
class Fit:
    """A homography moving → fixed (working pixels) and how well it is supported."""

    matrix: np.ndarray | None
    matches: int
    inliers: int
    rmse: float | None  # inlier reprojection RMSE, working pixels
    reason: str | None  # why there is no usable fit

    @property
    def ok(self) -> bool:
        return self.matrix is not None


def extract(gray: np.ndarray, config: MatchConfig) -> Features:
    """SIFT keypoints on a contrast-normalised image (pixels that are 0 are nodata)."""
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    normalised = clahe.apply(gray)
    mask = (gray > 0).astype(np.uint8) * 255
    mask = cv2.erode(mask, np.ones((9, 9), np.uint8))  # no keypoints on nodata edges
    sift = cv2.SIFT_create(nfeatures=config.features)
    keypoints, descriptors = sift.detectAndCompute(normalised, mask)
    if descriptors is None:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
    return Features(np.float32([k.pt for k in keypoints]) + 0.5, descriptors)


def match(moving: Features, fixed: Features, config: MatchConfig) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches as two (N, 2) arrays: points in moving, their partners in fixed."""
    if len(moving.points) < 2 or len(fixed.points) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    index = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 5}, {"checks": 64})
    pairs = index.knnMatch(moving.descriptors, fixed.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < config.ratio * p[1].distance]
    src = np.float32([moving.points[m.queryIdx] for m in good]).reshape(-1, 2)
    dst = np.float32([fixed.points[m.trainIdx] for m in good]).reshape(-1, 2)
    return src, dst


def fit_homography(
    src: np.ndarray,
    dst: np.ndarray,
    config: MatchConfig,
    moving_shape: tuple[int, int],
    model: str = "homography",
) -> Fit:
    """Robust fit of ``dst ≈ H(src)``, or a Fit saying why none is trustworthy.

    ``model`` is "homography" or "affine" (a 4-dof similarity, for small residual shifts).
    """
    n = len(src)
    if n < config.min_inliers:
        return Fit(None, n, 0, None, f"only {n} feature matches (need {config.min_inliers})")
    if model == "affine":
        a, mask = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=config.ransac_px, maxIters=5000
        )
        h = None if a is None else np.vstack([a, [0.0, 0.0, 1.0]])
    else:
        h, mask = cv2.findHomography(
            src, dst, cv2.USAC_MAGSAC, config.ransac_px, maxIters=10000, confidence=0.9999
        )
    if h is None or mask is None:
        return Fit(None, n, 0, None, "no consistent transform among the matches")
    inl = mask.ravel().astype(bool)
    k = int(inl.sum())
    if k < config.min_inliers or k < config.min_inlier_ratio * n:
        return Fit(None, n, k, None, f"{k} of {n} matches agree (need {config.min_inliers})")
    reason = degenerate(h, moving_shape)
    if reason:
        return Fit(None, n, k, None, reason)
    err = project(h, src[inl]) - dst[inl]
    rmse = float(np.sqrt((err**2).sum(axis=1).mean()))
    return Fit(h, n, k, rmse, None)


def degenerate(h: np.ndarray, shape: tuple[int, int]) -> str | None:
    """Why a homography cannot be a view of the same ground (None when it can)."""
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return "transform is not finite"
    h = h / h[2, 2]
    det = float(np.linalg.det(h[:2, :2]))
    if not 0.1 < abs(det) < 10:
        return f"implausible scale change (area ×{abs(det):.3g})"
    if det < 0:
        return "transform mirrors the image"
    height, width = shape
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    warped = project(h, corners)
    w = h[2, 0] * corners[:, 0] + h[2, 1] * corners[:, 1] + h[2, 2]
    if np.any(w <= 0):
        return "transform folds the image through the horizon"
    edges = np.roll(warped, -1, axis=0) - warped
    nxt = np.roll(edges, -1, axis=0)
    cross = edges[:, 0] * nxt[:, 1] - edges[:, 1] * nxt[:, 0]
    if not (np.all(cross > 0) or np.all(cross < 0)):
        return "transform twists the image outline"
    sides = np.linalg.norm(edges, axis=1)
    if sides.max() > 4 * sides.min() * max(width, height) / max(1, min(width, height)):
        return "transform shears the image implausibly"
    return None


def project(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3×3 homography to (N, 2) points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return pts
    return cv2.perspectiveTransform(pts[None], np.asarray(h, np.float64))[0]


def scaling(s: float) -> np.ndarray:
    """The 3×3 matrix that maps source pixels to working pixels at scale ``s``."""
    return np.diag([s, s, 1.0])


def warp(image: np.ndarray, h: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample ``image`` through ``h`` (edge-on-integer convention) into ``size`` (w, h)."""
    shift = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1.0]])
    centred = np.linalg.inv(shift) @ h @ shift
    return cv2.warpPerspective(image, centred, size, flags=cv2.INTER_LINEAR, borderValue=0)
