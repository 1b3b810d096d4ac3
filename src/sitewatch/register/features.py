"""Image-to-image registration by local features: SIFT, ratio test, MAGSAC++ homography.

Satellite scenes of one place on different dates differ in light, season, parked objects
and view angle. Contrast is normalised (CLAHE) before SIFT so brightness and contrast
changes do not move keypoints; Lowe's ratio test drops ambiguous matches (repeated hangars,
stands); MAGSAC++ fits the homography robustly, so moved aircraft and parallax of tall
buildings end up as outliers. A fit is then checked for degeneracy (a homography from a
handful of collinear matches can have a tiny RMSE and still be nonsense).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from sitewatch.frame import project


@dataclass(frozen=True)
class MatchConfig:
    """Knobs of feature registration (defaults suit 0.3–1 m imagery)."""

    max_side: int = 4096  # working size: larger images are matched decimated
    features: int = 10000
    ratio: float = 0.8
    ransac_px: float = 3.0  # inlier tolerance in working pixels
    min_inliers: int = 25
    min_inlier_ratio: float = 0.08
    guided_ratio: float = 0.9  # ratio test among the candidates near a predicted position
    parallax_px: float = 25.0  # how far tall structures may shift between two views
    layer_px: float = 2.0  # tolerance of one height layer (plane + parallax)
    max_layers: int = 4


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
    model: str | None = None  # which family the matrix belongs to (see ``select_model``)

    @property
    def ok(self) -> bool:
        return self.matrix is not None


def extract(gray: np.ndarray, config: MatchConfig) -> Features:
    """SIFT keypoints on a contrast-normalised image (pixels that are 0 are nodata)."""
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    normalised = clahe.apply(gray)
    mask: np.ndarray = (gray > 0).astype(np.uint8) * 255
    mask = cv2.erode(mask, np.ones((9, 9), np.uint8))  # no keypoints on nodata edges
    sift = cv2.SIFT.create(nfeatures=config.features)
    keypoints, descriptors = sift.detectAndCompute(normalised, mask)
    if descriptors is None:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
    return Features(np.array([k.pt for k in keypoints], np.float32) + 0.5, descriptors)


def seeded() -> None:
    """Reset OpenCV's random generator (randomised k-d trees, RANSAC) before a randomised
    step, so that the same images always register the same way: in this process or on a
    worker, first call or hundredth (the generator is per thread and otherwise carries on
    from whatever ran before)."""
    cv2.setRNGSeed(0x5174)


def match(moving: Features, fixed: Features, config: MatchConfig) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches as two (N, 2) arrays: points in moving, their partners in fixed."""
    if len(moving.points) < 2 or len(fixed.points) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    seeded()
    index = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 5}, {"checks": 64})
    pairs = index.knnMatch(moving.descriptors, fixed.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < config.ratio * p[1].distance]
    src = np.array([moving.points[m.queryIdx] for m in good], np.float32).reshape(-1, 2)
    dst = np.array([fixed.points[m.trainIdx] for m in good], np.float32).reshape(-1, 2)
    return src, dst


def register(
    moving: Features,
    fixed: Features,
    config: MatchConfig,
    moving_shape: tuple[int, int],
    model: str = "homography",
) -> Fit:
    """Match, fit, then match again guided by the fit, and refit on the larger set.

    The global ratio test throws away most true matches on repetitive ground (stands,
    hangars, parked fleets). Once a first transform is known, each keypoint only competes
    with the keypoints near its predicted position, so several times more matches survive
    and the final transform rests on the whole overlap, not on its most distinctive part.
    """
    best = _matched(moving, fixed, config, moving_shape, model)
    if not best.ok or model != "homography":
        return best
    return ground_layer(moving, fixed, best, config, moving_shape) or best


def register_ground(
    moving: Features, fixed: Features, config: MatchConfig, moving_shape: tuple[int, int]
) -> Layer | None:
    """``register``'s ground layer with its matches (None where the pair does not register)."""
    best = _matched(moving, fixed, config, moving_shape, "homography")
    if best.matrix is None:
        return None
    return ground(moving, fixed, best.matrix, config, moving_shape)


def _matched(
    moving: Features, fixed: Features, config: MatchConfig, shape: tuple[int, int], model: str
) -> Fit:
    """A robust fit of the global matches, then of the matches guided by it: the better."""
    first = fit_homography(*match(moving, fixed, config), config, shape, model)
    if first.matrix is None:  # same test as ``first.ok``, spelled so the type narrows
        return first
    src, dst = guided_match(moving, fixed, first.matrix, 2 * config.ransac_px, config)
    second = fit_homography(src, dst, config, shape, model)
    return second if second.ok and second.inliers >= first.inliers else first


def ground_layer(
    moving: Features, fixed: Features, fit: Fit, config: MatchConfig, shape: tuple[int, int]
) -> Fit | None:
    """The transform of the ground (``ground``) as a Fit, or None when no layer qualifies."""
    if fit.matrix is None:
        raise ValueError("ground_layer needs a fit with a matrix")
    layer = ground(moving, fixed, fit.matrix, config, shape)
    if layer is None:
        return None
    return Fit(layer.matrix, layer.matches, len(layer.src), layer.rmse, None, layer.model)


@dataclass(frozen=True)
class Layer:
    """The ground's transform (working pixels), its model family, the matches gathered
    around the first fit, and those of them on the ground (within ``ransac_px``)."""

    matrix: np.ndarray
    model: str
    matches: int
    src: np.ndarray
    dst: np.ndarray
    claimed: np.ndarray  # the matches it took from those earlier layers left (``layers``)

    @property
    def rmse(self) -> float:
        return float(np.sqrt(((project(self.matrix, self.src) - self.dst) ** 2).sum(1).mean()))


def ground(
    moving: Features, fixed: Features, h0: np.ndarray, config: MatchConfig, shape: tuple[int, int]
) -> Layer | None:
    """The ground's transform and matches, where tall structures shift by parallax.

    Two off-nadir views of one place agree on the ground but not on roofs, towers and
    parked aircraft: each height is its own layer (plane + parallax), displaced along one
    direction by up to tens of pixels. A single robust fit lands on whichever layer has
    most matches, often the terminal roofs, and picks differently for different pairs.
    Of the ``layers`` around ``h0``, the one spread over most of the image is kept (the
    ground is everywhere, buildings are not: counted as cells of an 8×8 grid holding at
    least three of its matches, so a thin scatter does not pass for ground). None when no
    layer qualifies.
    """
    found = layers(moving, fixed, h0, config, shape)
    if not found:
        return None
    height, width = shape
    grid = 8

    def spread(layer: Layer) -> tuple[int, int]:  # cells the layer really occupies
        pts = layer.claimed
        per_cell = Counter((int(x * grid / width), int(y * grid / height)) for x, y in pts)
        return sum(n >= 3 for n in per_cell.values()), len(pts)

    return max(found, key=spread)


def layers(
    moving: Features, fixed: Features, h0: np.ndarray, config: MatchConfig, shape: tuple[int, int]
) -> list[Layer]:
    """The height layers among the matches within ``parallax_px`` of ``h0``, peeled off one
    robust fit at a time (largest first); each with its matches within ``ransac_px``."""
    src, dst = guided_match(moving, fixed, h0, config.parallax_px, config)
    remaining = np.ones(len(src), bool)
    out: list[Layer] = []
    for _ in range(config.max_layers):
        idx = np.flatnonzero(remaining)
        if len(idx) < config.min_inliers:
            break
        h, _ = cv2.findHomography(
            src[idx], dst[idx], cv2.USAC_MAGSAC, config.layer_px, maxIters=5000, confidence=0.999
        )
        if h is None:
            break
        h, inl, name = select_model(src[idx], dst[idx], h, 2 * config.layer_px)
        if inl.sum() < config.min_inliers or degenerate(h, shape):
            break
        # its matches as for any fit: within the usual inlier tolerance
        near = ((project(h, src) - dst) ** 2).sum(axis=1) <= config.ransac_px**2
        out.append(Layer(h, name, len(src), src[near], dst[near], src[idx][inl]))
        remaining[idx[inl]] = False
    return out


def guided_match(
    moving: Features, fixed: Features, h: np.ndarray, radius: float, config: MatchConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Matches whose partner lies within ``radius`` of where ``h`` predicts it.

    The ratio test is applied among the nearby candidates only.
    """
    from scipy.spatial import cKDTree

    if len(moving.points) == 0 or len(fixed.points) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    predicted = project(h, moving.points)
    nearby = cKDTree(fixed.points).query_ball_point(predicted, radius)
    src, dst = [], []
    for i, candidates in enumerate(nearby):
        if not candidates:
            continue
        d = np.linalg.norm(fixed.descriptors[candidates] - moving.descriptors[i], axis=1)
        order = np.argsort(d)
        if len(order) > 1 and d[order[0]] > config.guided_ratio * d[order[1]]:
            continue
        src.append(moving.points[i])
        dst.append(fixed.points[candidates[order[0]]])
    return np.array(src, np.float32).reshape(-1, 2), np.array(dst, np.float32).reshape(-1, 2)


MODELS = {"translation": 2, "similarity": 4, "affine": 6, "homography": 8}  # degrees of freedom


def fit_homography(
    src: np.ndarray,
    dst: np.ndarray,
    config: MatchConfig,
    moving_shape: tuple[int, int],
    model: str = "homography",
) -> Fit:
    """Robust fit of ``dst ≈ H(src)``, or a Fit saying why none is trustworthy.

    ``model`` is "homography" or "affine" (a 4-dof similarity, for small residual shifts).
    The robust fit finds the inliers; the transform returned is then the simplest model
    that explains them (see ``select_model``), refitted by least squares on its inliers.
    """
    n = len(src)
    if n < config.min_inliers:
        return Fit(None, n, 0, None, f"only {n} feature matches (need {config.min_inliers})")
    seeded()
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
    allowed = ("translation", "similarity") if model == "affine" else tuple(MODELS)
    h, inl, name = select_model(src, dst, h, config.ransac_px, allowed)
    reason = degenerate(h, moving_shape)
    if reason:
        return Fit(None, n, k, None, reason)
    err = project(h, src[inl]) - dst[inl]
    rmse = float(np.sqrt((err**2).sum(axis=1).mean()))
    return Fit(h, n, int(inl.sum()), rmse, None, name)


def select_model(
    src: np.ndarray,
    dst: np.ndarray,
    robust: np.ndarray,
    tolerance: float,
    allowed: tuple[str, ...] = tuple(MODELS),
) -> tuple[np.ndarray, np.ndarray, str]:
    """The simplest transform the matches support, by Torr's GRIC criterion.

    A homography has eight degrees of freedom; fitted to matches that cover only part of an
    image, the spare ones bend the far corners. Crops of one scene differ by a translation,
    and near-nadir scenes of flat ground by little more, so each model is refitted by least
    squares on the inliers of the robust fit ``robust`` and scored by GRIC (robust residual
    cost plus a penalty per parameter, ``log(4n)``); the lowest score wins. A model that
    loses half of the robust inliers is not considered. Returns the matrix, its inliers
    (within ``tolerance``) and the model's name.
    """
    src64, dst64 = np.asarray(src, np.float64), np.asarray(dst, np.float64)

    def residual2(h: np.ndarray) -> np.ndarray:
        return ((project(h, src64) - dst64) ** 2).sum(axis=1)

    e2 = residual2(robust)
    inliers = e2 <= tolerance**2
    # per-coordinate noise of the robust fit: the median of a χ²(2)·σ² is 2·ln2·σ²
    sigma2 = max(float(np.median(e2[inliers])) / (2 * np.log(2)), 0.05**2)
    n = len(src64)
    best = (float("inf"), robust, inliers, "homography")
    for name in allowed:
        h, mask = robust, inliers
        for _ in range(3):  # refit on this model's own inliers
            if mask.sum() < 2 * MODELS[name]:
                break
            h = _least_squares(name, src64[mask], dst64[mask])
            mask = residual2(h) <= tolerance**2
        if not np.all(np.isfinite(h)) or mask.sum() < 0.5 * inliers.sum():
            continue
        gric = float(np.minimum(residual2(h) / sigma2, 4.0).sum()) + MODELS[name] * np.log(4 * n)
        if gric < best[0]:
            best = (gric, h, mask, name)
    return best[1], best[2], best[3]


def _least_squares(name: str, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares transform of one model family mapping ``src`` onto ``dst``."""
    if name == "translation":
        t = (dst - src).mean(axis=0)
        return np.array([[1.0, 0, t[0]], [0, 1.0, t[1]], [0, 0, 1.0]])
    if name == "homography":
        h, _ = cv2.findHomography(src, dst, 0)
        return h / h[2, 2] if h is not None else np.eye(3)
    x, y = src[:, 0], src[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    if name == "similarity":  # [a −b tx; b a ty]
        rows = np.vstack([np.stack([x, -y, one, zero], 1), np.stack([y, x, zero, one], 1)])
        a, b, tx, ty = np.linalg.lstsq(rows, np.concatenate([dst[:, 0], dst[:, 1]]), None)[0]
        return np.array([[a, -b, tx], [b, a, ty], [0, 0, 1.0]])
    design = np.stack([x, y, one], 1)
    coef = np.linalg.lstsq(design, dst, rcond=None)[0]  # affine
    return np.vstack([coef.T, [0.0, 0.0, 1.0]])


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
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
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
