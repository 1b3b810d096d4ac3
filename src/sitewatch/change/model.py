"""Run the shipped change model with onnxruntime (no torch needed): the probability that
each pixel changed between two dates on one grid."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.hashing import sha256_file
from sitewatch.runtime import METADATA_KEY, open_session

DEFAULT_CHANGE_MODEL = Path(__file__).resolve().parents[1] / "models" / "change.onnx"
MULTIPLE = 16  # the network halves its input four times
TILE = 512  # pixels per side run at once (memory stays under ~0.5 GB)
MARGIN = 48  # context each tile keeps and throws away at its edges


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
        info = cls(**{**raw, "gsd_m": (float(gsd[0]), float(gsd[1]))})
        for key in ("name", "version", "licence", "credit", "card"):
            if not isinstance(getattr(info, key), str):
                raise ValueError(f"{key} must be text")
        if not info.name.strip() or len(info.name) > 128 or not 0 < len(info.version) <= 48:
            raise ValueError("name must be 1…128 characters, version 1…48")
        if not (_number(info.threshold) and 0 < info.threshold < 1):
            raise ValueError("threshold must be a number in 0…1")
        if not isinstance(info.metrics, dict) or not isinstance(info.experimental, bool):
            raise ValueError("metrics must be an object, experimental true or false")
        return info

    def to_json(self) -> str:
        return json.dumps({**self.__dict__, "gsd_m": list(self.gsd_m)})


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_info(session: Any) -> ChangeModelInfo:
    meta = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if meta is None:
        raise ValueError(f"no '{METADATA_KEY}' metadata")
    info = ChangeModelInfo.from_json(meta)
    names = [i.name for i in session.get_inputs()]
    if names != ["before", "after"]:
        raise ValueError(f"expected inputs before and after, found {', '.join(names)}")
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

    def probability(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """(H, W) float32 in 0…1 for two (H, W[, C]) uint8 images of one grid (the first
        three bands are RGB; one band is grey), run in overlapping tiles."""
        a, b = _rgb(before), _rgb(after)
        h, w = a.shape[1:]
        out = np.zeros((h, w), np.float32)
        step = TILE - 2 * MARGIN
        for y in range(0, h, step):
            for x in range(0, w, step):
                # the tile with its context, cut to the image
                y0, x0 = max(y - MARGIN, 0), max(x - MARGIN, 0)
                y1, x1 = min(y + step + MARGIN, h), min(x + step + MARGIN, w)
                p = self._run(a[:, y0:y1, x0:x1], b[:, y0:y1, x0:x1])
                ys, xs = min(y + step, h), min(x + step, w)
                out[y:ys, x:xs] = p[y - y0 : ys - y0, x - x0 : xs - x0]
        return out

    def _run(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h, w = a.shape[1:]
        pad = ((0, 0), (0, -h % MULTIPLE), (0, -w % MULTIPLE))
        a, b = np.pad(a, pad, mode="symmetric"), np.pad(b, pad, mode="symmetric")
        (prob,) = self.session.run(None, {"before": a[None], "after": b[None]})
        return np.asarray(prob[0, 0, :h, :w], np.float32)


def _rgb(image: np.ndarray) -> np.ndarray:
    """(3, H, W) float32 in 0…1."""
    x = np.asarray(image)
    if x.ndim == 2:
        x = x[..., None]
    x = x[..., :3] if x.shape[2] >= 3 else np.repeat(x[..., :1], 3, axis=2)
    scale = 255.0 if x.dtype == np.uint8 or x.max() > 1.5 else 1.0
    return np.ascontiguousarray(x.transpose(2, 0, 1), np.float32) / scale
