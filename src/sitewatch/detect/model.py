"""Run a shipped detector with onnxruntime (no torch needed)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.detect.calibrate import apply_calibration
from sitewatch.detect.decode import decode
from sitewatch.hashing import sha256_file
from sitewatch.runtime import METADATA_KEY, open_session

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "aircraft.onnx"


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself (stored as JSON in the ONNX metadata)."""

    name: str
    version: str
    classes: list[str]
    stride: int
    model_gsd_m: float  # the ground size of one model-input pixel
    train_gsd_m: float  # GSD of the training imagery (assumed for images of unknown GSD)
    threshold: float  # operating point on the calibrated score
    calibration: list[list[float]] = field(default_factory=list)  # [[raw, calibrated], …]
    metrics: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    credit: str = ""
    # per-class operating points and held-out accuracy; a class missing here falls back to
    # ``threshold`` and the overall ``metrics`` (models exported before per-class cards)
    class_thresholds: dict[str, float] = field(default_factory=dict)
    experimental: bool = False  # shipped for trial: its card says what it gets wrong
    card: str = ""  # what it was trained on, how it was measured, what it will get wrong

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        """Parse and check a model's metadata: a file from anywhere may say anything
        (ValueError names the field)."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("metadata is not a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown metadata field(s) {', '.join(unknown[:5])}")
        info = cls(**raw)
        info.check()
        return info

    def check(self) -> None:
        """Types and ranges that inference and counting rely on (ValueError otherwise)."""
        for key in ("name", "version", "licence", "credit", "card"):
            if not isinstance(getattr(self, key), str):
                raise ValueError(f"{key} must be text")
        # the catalog keeps both with every run (runs.method 128, runs.version 64 with
        # "+" and 12 hex digits of the file's hash appended)
        if not self.name.strip() or len(self.name) > 128:
            raise ValueError("name must be 1…128 characters")
        if not self.version.strip() or len(self.version) > 48:
            raise ValueError("version must be 1…48 characters")
        if (
            not isinstance(self.classes, list)
            or not self.classes
            or not all(isinstance(c, str) and 0 < len(c) <= 64 for c in self.classes)
        ):
            raise ValueError("classes must be a non-empty list of names (≤ 64 characters)")
        if not isinstance(self.stride, int) or isinstance(self.stride, bool) or self.stride < 1:
            raise ValueError("stride must be a positive integer")
        for key in ("model_gsd_m", "train_gsd_m"):
            value = getattr(self, key)
            if not _number(value) or not 0.001 <= value <= 10_000:
                raise ValueError(f"{key} must be a GSD in metres (0.001…10000)")
        thresholds = {"threshold": self.threshold, **self.class_thresholds}
        if not isinstance(self.class_thresholds, dict) or not all(
            _number(t) and 0 <= t <= 1 for t in thresholds.values()
        ):
            raise ValueError("thresholds must be numbers in 0…1")
        if not isinstance(self.calibration, list) or not all(
            isinstance(row, list) and len(row) == 2 and all(_number(v) for v in row)
            for row in self.calibration
        ):
            raise ValueError("calibration must be a list of [raw, calibrated] pairs")
        if not isinstance(self.metrics, dict) or not isinstance(
            self.metrics.get("per_class", {}), dict
        ):
            raise ValueError("metrics must be an object (per_class: an object)")
        for cls in self.classes:
            for key, value in self.class_metrics(cls).items():
                high = METRIC_RANGES.get(key)
                if high is not None and not (
                    value is None or (_number(value) and 0 <= value <= high)
                ):
                    raise ValueError(f"metric {key} of {cls} must be a number in 0…{high:g}")
        if not isinstance(self.experimental, bool):
            raise ValueError("experimental must be true or false")

    def threshold_for(self, class_name: str) -> float:
        """The operating threshold (calibrated score) at which ``class_name`` is counted."""
        return float(self.class_thresholds.get(class_name, self.threshold))

    def class_metrics(self, class_name: str) -> dict[str, Any]:
        """Held-out metrics of one class: its own entry, else the model's overall figures
        when the model has that single class."""
        per_class = self.metrics.get("per_class") or {}
        if class_name in per_class:
            return dict(per_class[class_name])
        if list(self.classes) == [class_name]:
            return {k: v for k, v in self.metrics.items() if k != "per_class"}
        return {}


# held-out figures counting relies on, and their largest sensible value (fractions, except
# the count error, a relative error that can pass 1, and the dispersion: uncertainty.py)
METRIC_RANGES = {
    "precision": 1.0,
    "recall": 1.0,
    "ap50": 1.0,
    "ap50_95": 1.0,
    "count_mare": 100.0,
    "count_dispersion": 10.0,
}


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_session_info(session: Any) -> ModelInfo:
    """The checked ``ModelInfo`` of an onnxruntime session, with its heatmap output holding
    one channel per class (ValueError otherwise)."""
    meta = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if meta is None:
        raise ValueError(f"no '{METADATA_KEY}' metadata")
    info = ModelInfo.from_json(meta)
    outputs = session.get_outputs()
    if len(outputs) != 3:
        raise ValueError(f"expected 3 outputs (heatmap, size, offset), found {len(outputs)}")
    channels = outputs[0].shape[1] if len(outputs[0].shape) == 4 else None
    if isinstance(channels, int) and channels != len(info.classes):
        raise ValueError(f"the heatmap has {channels} channels for {len(info.classes)} classes")
    return info


class Detector:
    """An ONNX detector: ``predict(batch)`` returns boxes in model-input pixels."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None) -> None:
        self.path = Path(path) if path else DEFAULT_MODEL
        self.session, self.info = open_session(
            self.path, read_session_info,
            "train one with `sitewatch train detector` or pass --model", threads,
        )  # fmt: skip
        self.sha256 = sha256_file(self.path)
        self.input_name = self.session.get_inputs()[0].name

    @property
    def version(self) -> str:
        """Model name/version plus the file hash, so a retrained file is a new version."""
        return f"{self.info.version}+{self.sha256[:12]}"

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw heatmap peaks to the probability that a detection is a true object."""
        return apply_calibration(self.info.calibration, raw)

    def predict(
        self, batch: np.ndarray, floor: float = 0.05
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(N, 3, H, W) float32 RGB 0…1 → per image (boxes, calibrated scores, classes)."""
        heat, size, offset = self.session.run(None, {self.input_name: batch})
        out = []
        for i in range(len(batch)):
            boxes, raw, classes = decode(heat[i], size[i], offset[i], self.info.stride, floor)
            out.append((boxes, self.calibrate(raw), classes))
        return out
