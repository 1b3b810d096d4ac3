"""Frame geometry: 3×3 homographies between image pixels and a site frame.

Pixel edges sit on integers (like boxes); ``warp`` shifts by half a pixel so OpenCV's
centre-on-integer resampling agrees.
"""

from __future__ import annotations

import cv2
import numpy as np


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
