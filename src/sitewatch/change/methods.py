"""Pixel change between two co-registered images: the trained change model, and the
training-free methods that are the floor it must beat.

- **model**: the shipped change network (``change/model.py``, trained by
  ``bench/change_model.py``), its probability thresholded at the operating point its card
  gives.

- **CVA** (change vector analysis): each band of each date standardised over the valid
  pixels (so a global brightness or contrast difference is not change), the length of the
  difference vector per pixel, thresholded by Otsu's method.
- **IR-MAD** (iteratively reweighted multivariate alteration detection, Nielsen 2007): the
  canonical correlates of the two dates are differenced (MAD variates, ordered by
  correlation), their standardised squares summed to a χ² statistic; pixels likely to be
  unchanged get more weight in the next iteration. Invariant to any linear transform of
  either date's bands (gain, offset, band mixing). Change where the statistic exceeds the
  χ² quantile ``1 - alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sitewatch.errors import BadInputError

if TYPE_CHECKING:
    from sitewatch.change.model import ChangeModel


class ChangeMethod(StrEnum):
    MODEL = "model"
    CVA = "cva"
    IRMAD = "irmad"

    @classmethod
    def named(cls, text: str, where: str = "--method") -> ChangeMethod:
        """The method called ``text``; an unknown name is a BadInputError naming ``where``."""
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            why = f"unknown change method {text!r}"
            raise BadInputError(where, why, f"one of {names}") from None


@dataclass(frozen=True)
class ChangeMap:
    """A per-pixel change score (higher: more change), the threshold chosen on it, and the
    change mask (score above threshold, inside ``valid``)."""

    score: np.ndarray
    threshold: float
    valid: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return (self.score > self.threshold) & self.valid


def change_map(
    before: np.ndarray,
    after: np.ndarray,
    method: ChangeMethod = ChangeMethod.CVA,
    valid: np.ndarray | None = None,
    alpha: float = 0.01,
    model: str | Path | None = None,
    gsd_m: float | None = None,
) -> ChangeMap:
    """Change between two (H, W[, C]) images of one grid; ``valid`` marks pixels both dates
    hold (default: every pixel); ``model``: another change model file than the shipped one;
    ``gsd_m``: the grid's pixel size, when known (the model resamples what it was not
    trained on)."""
    shape_a, shape_b = np.shape(before), np.shape(after)
    if shape_a[:2] != shape_b[:2]:
        raise ValueError(f"the dates differ in size: {shape_a[:2]} and {shape_b[:2]}")
    bands_a, bands_b = (s[2] if len(s) > 2 else 1 for s in (shape_a, shape_b))
    if bands_a != bands_b:
        raise ValueError(f"the dates differ in bands: {bands_a} and {bands_b}")
    ok = np.ones(shape_a[:2], bool) if valid is None else np.asarray(valid, bool)
    if ok.sum() < 16:
        return ChangeMap(np.zeros(shape_a[:2], np.float32), np.inf, ok)
    if method == ChangeMethod.MODEL:
        net = change_model(model)
        score = np.where(ok, net.probability(before, after, ok, gsd_m), 0).astype(np.float32)
        return ChangeMap(score, net.info.threshold, ok)
    a, b = _bands(before), _bands(after)  # float copies: the classic methods' arithmetic
    if method == ChangeMethod.CVA:
        score = cva(a, b, ok)
        return ChangeMap(score, otsu(score[ok]), ok)
    from scipy.stats import chi2

    score = irmad(a, b, ok)
    return ChangeMap(score, float(chi2.ppf(1 - alpha, a.shape[2])), ok)


def change_model(path: str | Path | None = None) -> ChangeModel:
    """The change model at ``path`` (default: the shipped one), opened once per process."""
    return _open_model(str(path) if path else None)


@lru_cache(maxsize=2)
def _open_model(path: str | None) -> ChangeModel:
    from sitewatch.change.model import ChangeModel

    return ChangeModel(path)


def cva(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Length of the difference of the standardised band vectors, per pixel."""
    return np.sqrt(((_standardised(a, valid) - _standardised(b, valid)) ** 2).sum(axis=2))


def irmad(
    a: np.ndarray, b: np.ndarray, valid: np.ndarray, iterations: int = 30, tol: float = 1e-4
) -> np.ndarray:
    """The IR-MAD χ² statistic per pixel (0 outside ``valid``)."""
    from scipy.linalg import eigh
    from scipy.stats import chi2

    # Standardised, so that one ridge fits every scale (IR-MAD is invariant to it); a band
    # that does not vary within a date is all zeros and carries nothing
    x = _standardised(a[valid].astype(np.float64))
    y = _standardised(b[valid].astype(np.float64))
    p = x.shape[1]
    ridge = 1e-6 * np.eye(p)
    w = np.ones(len(x))
    rho_prev = np.zeros(p)
    z = np.zeros(len(x))
    for _ in range(iterations):
        if not w.sum() > 1e-9 * len(w):
            break  # every pixel looks changed: no unchanged pixels left to fit on
        ww = w / w.sum()
        mx, my = ww @ x, ww @ y
        xc, yc = x - mx, y - my
        sxx = (xc * ww[:, None]).T @ xc + ridge
        syy = (yc * ww[:, None]).T @ yc + ridge
        sxy = (xc * ww[:, None]).T @ yc
        # canonical correlation: sxy syy⁻¹ syx a = ρ² sxx a, ascending ρ²
        rho2, va = eigh(sxy @ np.linalg.solve(syy, sxy.T), sxx)
        rho = np.sqrt(np.clip(rho2, 0, 1))
        vb = np.linalg.solve(syy, sxy.T @ va) / np.maximum(rho, 1e-12)
        # unit variance canonical variates with positive correlation; a variate of a date
        # without variance stays zero
        va = va / _norms(va, sxx)
        vb = vb / _norms(vb, syy)
        sign = np.sign(np.einsum("ij,jk,ki->i", va.T, sxy, vb))
        vb = vb * np.where(sign == 0, 1, sign)
        mad = xc @ va - yc @ vb
        var = np.maximum(2 * (1 - rho), 1e-12)
        found = (mad**2 / var).sum(axis=1)
        if not np.isfinite(found).all():
            break  # keep the last finite iteration
        z = found
        w = 1 - chi2.cdf(z, p)  # the probability of no change
        if np.abs(rho - rho_prev).max() < tol:
            break
        rho_prev = rho
    out = np.zeros(valid.shape, np.float32)
    out[valid] = z
    return out


def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the cut that maximises the between-class variance."""
    values = np.asarray(values, np.float64).ravel()
    values = values[np.isfinite(values)]
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return hi
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    s0 = np.cumsum(counts * centres)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[int(np.argmax(between[:-1])) + 1])


def _bands(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return (image[..., None] if image.ndim == 2 else image).astype(np.float32)


def _standardised(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Each band less its mean over ``valid`` (default: all of ``x``'s rows), over its spread."""
    inside = x if valid is None else x[valid]
    return (x - inside.mean(axis=0)) / np.maximum(inside.std(axis=0), 1e-6)


def _norms(v: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """The spread of each column's variate under ``cov``; 1 where it has none."""
    n = np.sqrt(np.maximum(np.einsum("ij,jk,ki->i", v.T, cov, v), 0))
    return np.where(n > 1e-9, n, 1.0)
