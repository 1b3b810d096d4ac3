"""Export a trained checkpoint to ONNX with its calibration, threshold and metrics inside."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from sitewatch.detect.calibrate import apply_calibration, calibration_table
from sitewatch.detect.evaluate import (
    SceneResult,
    coco_ap,
    count_mare,
    interval_fit,
    precision_recall,
)
from sitewatch.detect.model import METADATA_KEY, ModelInfo
from sitewatch.detect.train.data import load_scenes
from sitewatch.detect.train.loop import STRIDE, TrainConfig, held_out, split, summarise
from sitewatch.detect.train.net import CenterNet, NetConfig
from sitewatch.errors import BadInputError, OutputError
from sitewatch.files import write_bytes_atomic, write_json_atomic, write_text_atomic
from sitewatch.hashing import sha256_file

AIRBUS_CREDIT = "Airbus Aircraft Detection sample dataset, © Airbus DS Intelligence"


def load_checkpoint(path: Path) -> tuple[CenterNet, TrainConfig]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    raw = dict(ckpt["config"])
    net: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw["net"].items()}
    raw["net"] = NetConfig(**net)
    raw["scale_jitter"] = tuple(raw["scale_jitter"])
    if "scale" in raw:  # checkpoints from before GSD-based training: Airbus 0.5 m sources
        scale = raw.pop("scale")
        raw |= {"gsd": round(0.5 / scale, 4), "source_gsd": 0.5}
    cfg = TrainConfig(**raw)
    model = CenterNet(cfg.net)
    model.load_state_dict(ckpt["ema"])
    return model.eval(), cfg


def held_out_results(
    model: CenterNet, cfg: TrainConfig
) -> tuple[list[str], list[list[SceneResult]]]:
    """The held-out places, and per class the raw (uncalibrated) predictions there, in model
    pixels."""
    _, val = split(cfg)
    scenes = load_scenes(val, cfg.gsd, cfg.satellite, cfg.seed + 1)
    places = sorted({s.group for s in val})
    return places, held_out(model, scenes, len(cfg.class_map.classes), threshold=0.02)


def export_onnx(
    checkpoint: Path,
    out: Path,
    name: str | None = None,
    version: str = "1",
    experimental: bool = False,
    card: str = "",
    calibration: tuple[list[list[float]], dict[str, float], dict[str, Any]] | None = None,
) -> ModelInfo:
    """Write ``out`` (ONNX, opset 17) and ``out.json`` (its card data); returns the info.

    The calibration table, per-class thresholds and held-out metrics come from the
    checkpoint's own held-out places, or — for a model trained on every place — are given
    as ``calibration``: measured on the out-of-place predictions of cross-validation models
    of the same recipe (cross-fitting)."""
    model, cfg = load_checkpoint(checkpoint)
    classes = list(cfg.class_map.classes)
    if calibration is not None and set(calibration[1]) != set(classes):
        raise BadInputError(
            checkpoint, f"calibrated for {sorted(calibration[1])}, but the model has {classes}"
        )
    airbus = cfg.format == "airbus-csv"
    info = ModelInfo(
        name=name or cfg.name,
        version=version,
        classes=classes,
        stride=STRIDE,
        model_gsd_m=cfg.gsd,
        # the imagery it learnt from: satellite-degraded sources are seen at the model's GSD
        train_gsd_m=cfg.gsd if cfg.satellite else (cfg.source_gsd or cfg.gsd),
        threshold=0.5,
        licence=cfg.licence
        or ("CC BY-NC-SA 4.0 (trained on CC BY-NC-SA 4.0 data)" if airbus else ""),
        credit=cfg.credit or (AIRBUS_CREDIT if airbus else ""),
        experimental=experimental,
        card=card,
    )
    if calibration is None:  # measured on the checkpoint's own held-out places, if any
        places, raw = held_out_results(model, cfg)
        if places:
            held = f"{cfg.split_by} {', '.join(places)} (whole places, not trained on)"
            calibration = fit({"held out": raw}, classes, held).as_calibration()
    if calibration is not None:
        table, thresholds, metrics = calibration
        info = replace(
            info,
            calibration=table,
            threshold=thresholds[classes[0]],
            class_thresholds=dict(thresholds),
            metrics=metrics,
        )
    # checked before either file is written: nothing half-done
    if out.is_dir():
        raise OutputError(out, "is a folder", "give the model file's name, e.g. NAME.onnx")
    if out.suffix.lower() != ".onnx":  # NAME.json would be overwritten by its own card
        raise OutputError(out, "a model file's name must end in .onnx", "e.g. NAME.onnx")
    dummy = torch.rand(1, 3, 256, 256)
    # the raw graph goes to a private folder: only the finished model is written beside out
    with tempfile.TemporaryDirectory(prefix="sitewatch-export-") as scratch:
        raw_path = Path(scratch) / "raw.onnx"
        torch.onnx.export(
            model,
            (dummy,),
            raw_path,
            opset_version=17,
            dynamo=False,
            input_names=["image"],
            output_names=["heatmap", "size", "offset"],
            dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}},
        )
        proto = onnx.load(raw_path)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    onnx.checker.check_model(proto)
    # the readable copy first: a kill between the two leaves the old model beside a card
    # of another version, which nothing takes for its card (the version differs), never a
    # new model described by an old card; each file whole and durable (files.py)
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
    write_bytes_atomic(out, proto.SerializeToString())
    return info


@dataclass(frozen=True)
class CrossFit:
    """Calibration, per-class thresholds and held-out metrics measured on the out-of-place
    predictions of cross-validation models of one recipe, for a model trained on every place."""

    table: list[list[float]]
    thresholds: dict[str, float]
    metrics: dict[str, Any]

    def as_calibration(self) -> tuple[list[list[float]], dict[str, float], dict[str, Any]]:
        return self.table, self.thresholds, self.metrics


def save_held_out(checkpoint: Path, out: Path) -> dict[str, Any]:
    """Write a checkpoint's raw held-out predictions, with the recipe that made them, to
    ``out`` (JSON, a few hundred kB): cross-fitting then needs this file, not the
    checkpoint, so folds trained in other sessions or on other machines pool as they are."""
    model, cfg = load_checkpoint(checkpoint)
    places, raw = held_out_results(model, cfg)
    data = {
        "recipe": _recipe(cfg),
        "checkpoint_sha256": sha256_file(checkpoint),  # which weights made these
        "places": places,
        "scenes": [
            [
                {
                    "name": r.name,
                    "gt": np.round(r.gt, 1).tolist(),
                    "boxes": np.round(r.boxes, 1).tolist(),
                    "scores": np.round(r.scores, 4).tolist(),
                }
                for r in rs
            ]
            for rs in raw
        ],
    }
    write_json_atomic(out, data)
    return {"held_out": str(out), "places": places, "scenes": len(raw[0]) if raw else 0}


def _recipe(cfg: TrainConfig) -> dict[str, Any]:
    """What must be equal for folds to pool: classes, GSD, label format, data, degradation."""
    return {
        "classes": list(cfg.class_map.classes),
        "gsd": cfg.gsd,
        "format": cfg.format,
        "data": Path(cfg.data).name,
        "satellite": cfg.satellite,
        "steps": cfg.steps,
    }


def _load_held_out(path: Path) -> tuple[dict[str, Any], list[list[SceneResult]]]:
    """A fold's recipe and raw held-out predictions: from a ``save_held_out`` file (.json)
    or computed from its checkpoint."""
    if path.suffix != ".json":
        model, cfg = load_checkpoint(path)
        return _recipe(cfg), held_out_results(model, cfg)[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = [
            [
                SceneResult(
                    s["name"],
                    np.asarray(s["gt"], dtype=np.float32).reshape(-1, 4),
                    np.asarray(s["boxes"], dtype=np.float32).reshape(-1, 4),
                    np.asarray(s["scores"], dtype=np.float32),
                )
                for s in rs
            ]
            for rs in data["scenes"]
        ]
        return dict(data["recipe"]), raw
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(path, f"not a held-out predictions file ({exc})") from exc


def cross_fit(
    folds: dict[str, Path], held_out: str, place_of: Mapping[str, str] | None = None
) -> CrossFit:
    """Pool the held-out predictions of each fold (``folds``: a label → its ``last.pt``, or
    the file ``save_held_out`` wrote from it) and ``fit`` them (``place_of``: each scene's
    place, by image name, to fit the count interval place by place)."""
    raw_by_fold: dict[str, list[list[SceneResult]]] = {}
    recipe: dict[str, Any] | None = None
    for label, path in folds.items():
        mine, raw_by_fold[label] = _load_held_out(path)
        if recipe is not None and mine != recipe:
            raise BadInputError(path, f"fold {label} is not the same recipe as the others")
        recipe = mine
    if recipe is None:
        raise BadInputError(Path("."), "no folds to cross-fit")
    return fit(raw_by_fold, list(recipe["classes"]), held_out, place_of)


def fit(
    raw_by_fold: dict[str, list[list[SceneResult]]],
    classes: list[str],
    held_out: str,
    place_of: Mapping[str, str] | None = None,
) -> CrossFit:
    """One calibration table over every fold's raw held-out predictions, and per class the
    count-optimal threshold and its metrics, with the coverage of the stated 90 % interval;
    with several folds, each fold's figures at the pooled threshold (how much they vary).
    With ``place_of`` (scene name → place), the interval is fitted and its coverage
    measured place by place (each place's scenes against figures from the other places'
    out-of-fold scenes), else fold by fold."""
    pooled = [r for per_class in raw_by_fold.values() for rs in per_class for r in rs]
    table = calibration_table(pooled)

    def cal(rs: list[SceneResult]) -> list[SceneResult]:
        return [SceneResult(r.name, r.gt, r.boxes, apply_calibration(table, r.scores)) for r in rs]

    per_class: dict[str, dict[str, Any]] = {}
    thresholds: dict[str, float] = {}
    for c, name in enumerate(classes):
        by_fold = {label: cal(rs[c]) for label, rs in raw_by_fold.items()}
        everything = [r for rs in by_fold.values() for r in rs]
        m = summarise(everything)
        t = m["threshold"]
        thresholds[name] = t
        if "precision" in m:
            groups, unit = _groups(by_fold, place_of)
            m |= interval_fit(groups, unit, t)
            if unit != "fold" and len(by_fold) > 1:  # the coarser check, beside it
                by_folds = interval_fit(by_fold, "fold", t).get("interval_coverage_90")
                m["interval_coverage_90_fold_by_fold"] = by_folds
        m |= {
            "held_out": held_out,
            "scenes": len(everything),
            "objects": int(sum(len(r.gt) for r in everything)),
        }
        if len(by_fold) > 1:
            m["folds"] = {
                label: coco_ap(rs)
                | {"count_mare": count_mare(rs, t), **precision_recall(rs, t)}
                | {"scenes": len(rs), "objects": int(sum(len(r.gt) for r in rs))}
                for label, rs in by_fold.items()
            }
        per_class[name] = m
    first = per_class[classes[0]]
    return CrossFit(table, thresholds, first | {"per_class": per_class})


def _groups(
    by_fold: dict[str, list[SceneResult]], place_of: Mapping[str, str] | None
) -> tuple[dict[str, list[SceneResult]], str]:
    """The out-of-fold scenes grouped by place (where each scene's place is known), else by
    fold; and what a group is called."""
    scenes = [r for rs in by_fold.values() for r in rs]
    if place_of is None or any(r.name not in place_of for r in scenes):
        return by_fold, "fold"
    by_place: dict[str, list[SceneResult]] = {}
    for r in scenes:
        by_place.setdefault(place_of[r.name], []).append(r)
    return by_place, "place"
