"""Detect and count objects on whole scenes with a shipped ONNX model (no torch needed)."""

from sitewatch.detect.infer import SceneDetections, TileSpec, detect_scene
from sitewatch.detect.model import DEFAULT_MODEL, Detector, ModelInfo
from sitewatch.detect.stage import (
    DetectReport,
    ImageResult,
    run_detector,
    select_images,
)

__all__ = [
    "DEFAULT_MODEL",
    "DetectReport",
    "Detector",
    "ImageResult",
    "ModelInfo",
    "SceneDetections",
    "TileSpec",
    "detect_scene",
    "run_detector",
    "select_images",
]
