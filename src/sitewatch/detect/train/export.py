"""Export a trained checkpoint to ONNX with its calibration, threshold and metrics inside."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import onnx
import torch

from sitewatch.detect.calibrate import apply_calibration, calibration_table
from sitewatch.detect.evaluate import (
    SceneResult,
    best_count_threshold,
    coco_ap,
    count_mare,
    precision_recall,
)
from sitewatch.detect.model import METADATA_KEY, ModelInfo
from sitewatch.detect.train.data import load_scenes
from sitewatch.detect.train.loop import STRIDE, TrainConfig, predict_scene, split
from sitewatch.detect.train.net import CenterNet, NetConfig
from sitewatch.files import write_text_atomic

AIRBUS_CREDIT = "Airbus Aircraft Detection sample dataset, © Airbus DS Intelligence"


def load_checkpoint(path: Path) -> tuple[CenterNet, TrainConfig]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    raw = dict(ckpt["config"])
    net: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw["net"].items()}
    raw["net"] = NetConfig(**net)
    raw["scale_jitter"] = tuple(raw["scale_jitter"])
    cfg = TrainConfig(**raw)
    model = CenterNet(cfg.net)
    model.load_state_dict(ckpt["ema"])
    return model.eval(), cfg


def held_out_results(model: CenterNet, cfg: TrainConfig) -> list[SceneResult]:
    """Raw (uncalibrated) predictions on the validation airports, boxes in model pixels."""
    _, val_names = split(cfg)
    results = []
    for scene in load_scenes(Path(cfg.data), cfg.scale, val_names):
        boxes, scores, _ = predict_scene(model, scene.pixels, threshold=0.02)
        results.append(SceneResult(scene.name, scene.boxes, boxes, scores))
    return results


def export_onnx(
    checkpoint: Path, out: Path, name: str = "sitewatch-aircraft", version: str = "1"
) -> ModelInfo:
    """Write ``out`` (ONNX, opset 17) and ``out.json`` (its card data); returns the info."""
    model, cfg = load_checkpoint(checkpoint)
    info = ModelInfo(
        name=name,
        version=version,
        classes=["aircraft"],
        stride=STRIDE,
        model_gsd_m=round(0.5 / cfg.scale, 4),
        train_gsd_m=0.5,
        threshold=0.5,
        licence="CC BY-NC-SA 4.0 (trained on CC BY-NC-SA 4.0 data)",
        credit=AIRBUS_CREDIT,
    )
    if cfg.fold >= 0:
        raw = held_out_results(model, cfg)
        table = calibration_table(raw)
        info = replace(info, calibration=table)
        cal = [SceneResult(r.name, r.gt, r.boxes, apply_calibration(table, r.scores)) for r in raw]
        threshold = best_count_threshold(cal)
        metrics = coco_ap(cal) | {
            "threshold": threshold,
            "count_mare": count_mare(cal, threshold),
            **precision_recall(cal, threshold),
        }
        metrics |= {
            "held_out": f"fold {cfg.fold} of {cfg.folds} (whole airports)",
            "scenes": len(cal),
            "objects": int(sum(len(r.gt) for r in cal)),
        }
        info = replace(info, threshold=threshold, metrics=metrics)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    dummy = torch.rand(1, 3, 256, 256)
    torch.onnx.export(
        model,
        (dummy,),
        tmp,
        opset_version=17,
        dynamo=False,
        input_names=["image"],
        output_names=["heatmap", "size", "offset"],
        dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}},
    )
    proto = onnx.load(tmp)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    onnx.checker.check_model(proto)
    onnx.save(proto, tmp)
    tmp.replace(out)
    write_text_atomic(
        out.with_suffix(".json"),
        json.dumps(
            {
                **info.__dict__,
                "train": {k: v for k, v in cfg.__dict__.items() if k != "net"}
                | {"net": cfg.net.to_dict()},
            },
            indent=1,
            default=str,
        ),
    )
    return info
