"""Run a shipped detector with onnxruntime (no torch needed)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.detect.calibrate import apply_calibration
from sitewatch.detect.decode import decode
from sitewatch.errors import BadInputError, DatasetNotFoundError
from sitewatch.hashing import sha256_file

METADATA_KEY = "sitewatch"
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


class Detector:
    """An ONNX detector: ``predict(batch)`` returns boxes in model-input pixels."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path) if path else DEFAULT_MODEL
        if not self.path.is_file():
            raise DatasetNotFoundError(
                f"{self.path}: model file does not exist (train one with "
                "`sitewatch train detector` or pass --model)"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
            meta = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
            if meta is None:
                raise ValueError(f"no '{METADATA_KEY}' metadata")
            self.info = ModelInfo(**json.loads(meta))
        except BadInputError:
            raise
        except Exception as exc:  # onnxruntime raises several unrelated types on bad files
            raise BadInputError(
                self.path, f"not a usable sitewatch ONNX model ({str(exc).splitlines()[0]})"
            ) from None
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
