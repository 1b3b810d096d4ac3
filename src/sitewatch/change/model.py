"""Run the shipped change model with onnxruntime (no torch needed): the probability that
each pixel changed between two dates on one grid."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sitewatch.change.quiet import QuietPairs
from sitewatch.errors import BadInputError
from sitewatch.hashing import sha256_file
from sitewatch.runtime import METADATA_KEY, open_session

# in a folder of its own: the package's models/*.onnx are the detectors (detect.registry)
DEFAULT_CHANGE_MODEL = Path(__file__).resolve().parents[1] / "models" / "change" / "change.onnx"
MULTIPLE = 16  # the network halves its input four times
TILE = 512  # pixels per side run at once (memory stays under ~0.5 GB)
MARGIN = 128  # a tile's own pixels this close to a cut lack context (half the receptive field)


@dataclass(frozen=True)
class ChangeModelInfo:
    """What a change model file says about itself (JSON in the ONNX metadata)."""

    name: str
    version: str
    task: str  # "change"
    gsd_m: tuple[float, float]  # the ground pixel sizes it was trained over
    threshold: float  # operating point on the probability
    metrics: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    credit: str = ""
    experimental: bool = False
    card: str = ""

    @classmethod
    def from_json(cls, text: str) -> ChangeModelInfo:
        """Parse and check a model's metadata (ValueError names the field)."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("metadata is not a JSON object")
        unknown = sorted(set(raw) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown metadata field(s) {', '.join(unknown[:5])}")
        if raw.get("task") != "change":
            raise ValueError("not a change model (task is not 'change')")
        gsd = raw.get("gsd_m")
        if not (isinstance(gsd, list) and len(gsd) == 2 and all(_number(v) and v > 0 for v in gsd)):
            raise ValueError("gsd_m must be [finest, coarsest] in metres")
        if gsd[0] > gsd[1]:
            raise ValueError("gsd_m must run from the finest to the coarsest")
        try:
            info = cls(**{**raw, "gsd_m": (float(gsd[0]), float(gsd[1]))})
        except TypeError as exc:  # a required field is missing
            raise ValueError(str(exc).split(".")[-1].strip()) from None
        for key in ("name", "version", "licence", "credit", "card"):
            if not isinstance(getattr(info, key), str):
                raise ValueError(f"{key} must be text")
        if not info.name.strip() or len(info.name) > 128 or not 0 < len(info.version) <= 48:
            raise ValueError("name must be 1…128 characters, version 1…48")
        if not (_number(info.threshold) and 0 < info.threshold < 1):
            raise ValueError("threshold must be a number in 0…1")
        if not isinstance(info.metrics, dict) or not isinstance(info.experimental, bool):
            raise ValueError("metrics must be an object, experimental true or false")
        QuietPairs.from_metrics(info.metrics)  # names what is wrong with it
        return info

    @property
    def quiet(self) -> QuietPairs | None:
        """Its changed share on quiet pairs of real dates, where measured."""
        return QuietPairs.from_metrics(self.metrics)

    def to_json(self) -> str:
        return json.dumps({**self.__dict__, "gsd_m": list(self.gsd_m)})


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_info(session: Any) -> ChangeModelInfo:
    meta = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if meta is None:
        raise ValueError(f"no '{METADATA_KEY}' metadata")
    info = ChangeModelInfo.from_json(meta)
    inputs = session.get_inputs()
    names = [i.name for i in inputs]
    if names != ["before", "after"]:
        raise ValueError(f"expected inputs before and after, found {', '.join(names)}")
    for i in inputs:  # (n, 3, h, w) floats, any size
        dims = list(i.shape)
        if len(dims) != 4 or dims[1] != 3 or any(isinstance(d, int) for d in dims[2:]):
            raise ValueError(f"input {i.name} is {dims}, not (n, 3, h, w) of any size")
        if i.type != "tensor(float)":
            raise ValueError(f"input {i.name} is {i.type}, not float")
    return info


class ChangeModel:
    """An ONNX change model: ``probability(before, after)`` per pixel of one grid."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None) -> None:
        self.path = Path(path) if path else DEFAULT_CHANGE_MODEL
        self.session, self.info = open_session(
            self.path, _read_info, "train one with `python bench/change_model.py`", threads
        )
        self.sha256 = sha256_file(self.path)

    @property
    def version(self) -> str:
        """Name/version plus the file hash, so a retrained file is a new version."""
        return f"{self.info.name}/{self.info.version}+{self.sha256[:12]}"

    def probability(
        self,
        before: np.ndarray,
        after: np.ndarray,
        valid: np.ndarray | None = None,
        gsd_m: float | None = None,
    ) -> np.ndarray:
        """(H, W) float32 in 0…1 for two (H, W[, C]) images of one grid (the first three
        bands are RGB; one band is grey). Only ``valid`` pixels (default: all) count, the
        rest are the mean to the model. A grid whose pixel (``gsd_m``) is outside the sizes
        the model was trained on is resampled into them and back."""
        h, w = before.shape[:2]
        ok = np.ones((h, w), bool) if valid is None else np.asarray(valid, bool)
        finest, coarsest = self.info.gsd_m
        f = 1.0 if gsd_m is None else gsd_m / min(max(gsd_m, finest), coarsest)
        if f != 1.0:  # f > 1: the grid is coarser than the model's range, so it is enlarged
            size = (max(round(w * f), 1), max(round(h * f), 1))
            before, after = (cv2.resize(_rgb8(v), size, interpolation=cv2.INTER_LINEAR)
                             for v in (before, after))  # fmt: skip
            ok = cv2.resize(ok.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        a, b = standardised(_rgb(before), ok), standardised(_rgb(after), ok)
        prob = self._tiled(a, b)
        if f != 1.0:
            prob = cv2.resize(prob, (w, h), interpolation=cv2.INTER_AREA)
        return prob

    def _tiled(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Overlapping tiles, each trusted only beyond ``MARGIN`` from a cut (not from the
        image's own edge), blended where two are trusted."""
        h, w = a.shape[1:]
        total = np.zeros((h, w), np.float32)
        weight = np.zeros((h, w), np.float32)
        for y0 in _starts(h):
            for x0 in _starts(w):
                y1, x1 = min(y0 + TILE, h), min(x0 + TILE, w)
                p = self._run(a[:, y0:y1, x0:x1], b[:, y0:y1, x0:x1])
                wy = _trust(y1 - y0, y0 == 0, y1 == h)
                wx = _trust(x1 - x0, x0 == 0, x1 == w)
                tw = np.outer(wy, wx)
                total[y0:y1, x0:x1] += p * tw
                weight[y0:y1, x0:x1] += tw
        return total / weight

    def _run(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h, w = a.shape[1:]
        pad = ((0, 0), (0, -h % MULTIPLE), (0, -w % MULTIPLE))
        a, b = np.pad(a, pad, mode="symmetric"), np.pad(b, pad, mode="symmetric")
        try:
            (prob,) = self.session.run(None, {"before": a[None], "after": b[None]})
        except Exception as exc:  # onnxruntime's own types, many lines: one line here
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInputError(self.path, f"the change model failed to run ({first})") from None
        return np.asarray(prob[0, 0, :h, :w], np.float32)


def _starts(n: int) -> list[int]:
    """Tile starts along a side of ``n``: every ``TILE - 2 MARGIN``, the last one flush with
    the end (a whole tile, not a sliver)."""
    if n <= TILE:
        return [0]
    return sorted({*range(0, n - TILE, TILE - 2 * MARGIN), n - TILE})


def _trust(n: int, first: bool, last: bool) -> np.ndarray:
    """How much a tile's pixels along one side count: little within ``MARGIN`` of a cut."""
    t = np.ones(n, np.float32)
    if not first:
        t[:MARGIN] = 1e-3
    if not last:
        t[n - MARGIN :] = 1e-3
    return t


def standardised(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """The model's input: (3, H, W) bands in 0…1, each less its mean over ``valid`` (default:
    all) and over its spread; pixels outside ``valid`` are 0, the mean."""
    ok = np.ones(x.shape[1:], bool) if valid is None else np.asarray(valid, bool)
    out = np.zeros(x.shape, np.float32)
    if not ok.any():
        return out
    inside = x[:, ok].astype(np.float64)
    mean, spread = inside.mean(axis=1), inside.std(axis=1)
    out[:] = (x - mean[:, None, None]) / (spread[:, None, None] + 0.02)
    out[:, ~ok] = 0
    return out


def _rgb(image: np.ndarray) -> np.ndarray:
    """(3, H, W) float32 in 0…1."""
    x = _rgb8(image)
    return np.ascontiguousarray(x.transpose(2, 0, 1), np.float32) / np.float32(255)


def _rgb8(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: the first three bands, or grey thrice; other types scaled from their
    range (0…1 floats, 16-bit)."""
    x = np.asarray(image)
    if x.ndim == 2:
        x = x[..., None]
    x = x[..., :3] if x.shape[2] >= 3 else np.repeat(x[..., :1], 3, axis=2)
    if x.dtype != np.uint8:
        top = 1.0 if x.dtype.kind == "f" and float(np.nanmax(x, initial=0)) <= 1.5 else None
        top = top or float(np.iinfo(x.dtype).max if x.dtype.kind in "ui" else np.nanmax(x))
        x = np.clip(np.nan_to_num(x.astype(np.float32)) / max(top, 1e-6) * 255, 0, 255)
    return np.ascontiguousarray(x.astype(np.uint8))
