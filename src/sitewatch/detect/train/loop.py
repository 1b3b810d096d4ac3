"""Train a detector on a CPU in about an hour, resumably, validating on whole held-out
places (airports, cities)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from sitewatch.detect.decode import decode
from sitewatch.detect.evaluate import (
    SceneResult,
    best_count_threshold,
    coco_ap,
    count_mare,
    precision_recall,
)
from sitewatch.detect.train.data import (
    Scene,
    augment,
    encode_targets,
    load_scenes,
    sample_crop,
)
from sitewatch.detect.train.dataset import ClassMap, Sample, samples
from sitewatch.detect.train.loss import detection_loss
from sitewatch.detect.train.net import CenterNet, NetConfig
from sitewatch.errors import BadInputError
from sitewatch.learn.folds import validation_groups
from sitewatch.learn.loop import Schedule, fit

STRIDE = 4


@dataclass
class TrainConfig:
    data: str
    out: str = "checkpoints/aircraft"
    format: str = "airbus-csv"  # dataset format (``dataset.FORMATS``)
    classes: str = "aircraft"  # ``ClassMap`` spec: "car,truck" or "vehicle=car+bus"
    split_by: str = "site_id"  # the image field naming the place (whole places validate)
    val_groups: list[str] | None = None  # places to hold out (else fold ``fold``)
    fold: int = 0  # validation fold; -1 trains on every place
    folds: int = 5
    gsd: float = 1.0  # metres per model pixel: 0.5 m airports are seen at 1 m
    source_gsd: float | None = 0.5  # GSD of images that do not say theirs
    satellite: bool = False  # degrade finer (aerial/drone) sources like a satellite sensor
    crop: int = 512
    batch: int = 8
    steps: int = 2200
    lr: float = 1.5e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    scale_jitter: tuple[float, float] = (0.7, 1.4)
    ema_decay: float = 0.998
    eval_every: int = 300
    checkpoint_seconds: float = 300
    seed: int = 0
    workers: int = 1
    net: NetConfig = field(default_factory=NetConfig)
    # what the exported model says about itself
    name: str = "sitewatch-aircraft"
    licence: str = ""
    credit: str = ""

    def __post_init__(self) -> None:
        n = len(self.class_map.classes)
        if self.net.num_classes != n:
            self.net = replace(self.net, num_classes=n)

    @property
    def class_map(self) -> ClassMap:
        return ClassMap.parse(self.classes)


class CropStream(IterableDataset):
    """An endless stream of augmented crops and targets; seeded per step for resumption."""

    def __init__(self, scenes: list[Scene], cfg: TrainConfig, start_step: int) -> None:
        self.scenes, self.cfg, self.start = scenes, cfg, start_step
        counts = np.array([len(s.boxes) + 5 for s in scenes], dtype=np.float64)
        self.p = counts / counts.sum()  # busier scenes a little more often
        self.classes = cfg.net.num_classes  # one heatmap per class (TrainConfig sets it)

    def __iter__(self) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        step = self.start
        while True:
            rng = np.random.default_rng([self.cfg.seed, step])
            for _ in range(self.cfg.batch):
                scene = self.scenes[rng.choice(len(self.scenes), p=self.p)]
                img, boxes, ignore, cls = sample_crop(
                    scene, self.cfg.crop, rng, self.cfg.scale_jitter
                )
                img, boxes, ignore = augment(img, boxes, ignore, rng)
                targets = encode_targets(
                    boxes, ignore, self.cfg.crop, STRIDE, classes=cls, num_classes=self.classes
                )
                yield np.ascontiguousarray(img.transpose(2, 0, 1)), targets
            step += 1


def split(cfg: TrainConfig) -> tuple[list[Sample], list[Sample]]:
    """Training and validation samples: whole places (``split_by``) on one side only."""
    found, _skipped = samples(
        Path(cfg.data), cfg.format, cfg.class_map, cfg.split_by, cfg.source_gsd
    )
    held = validation_groups([s.group for s in found], cfg.val_groups, cfg.fold, cfg.folds)
    return [s for s in found if s.group not in held], [s for s in found if s.group in held]


def pad32(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    return np.pad(x, ((0, -h % 32), (0, -w % 32), (0, 0)))


@torch.no_grad()
def predict_scene(
    model: torch.nn.Module, pixels: np.ndarray, threshold: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole-scene torch inference at model scale (validation only; users run ONNX)."""
    x = torch.from_numpy(pad32(pixels).astype(np.float32) / 255).permute(2, 0, 1)[None]
    heat, size, off = (t[0].numpy() for t in model(x))
    return decode(heat, size, off, STRIDE, threshold)


def held_out(
    model: torch.nn.Module, scenes: list[Scene], classes: int, threshold: float = 0.05
) -> list[list[SceneResult]]:
    """Per class, each scene's truth and predictions (raw scores). Detections centred in an
    ignore box (difficult, crowd) are neither right nor wrong, so they are dropped."""
    model.eval()
    out: list[list[SceneResult]] = [[] for _ in range(classes)]
    for s in scenes:
        boxes, scores, cls = predict_scene(model, s.pixels, threshold)
        if len(s.ignore) and len(boxes):
            cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
            inside = (
                (cx[:, None] >= s.ignore[:, 0])
                & (cx[:, None] <= s.ignore[:, 2])
                & (cy[:, None] >= s.ignore[:, 1])
                & (cy[:, None] <= s.ignore[:, 3])
            ).any(axis=1)
            boxes, scores, cls = boxes[~inside], scores[~inside], cls[~inside]
        for c in range(classes):
            out[c].append(
                SceneResult(s.name, s.boxes[s.classes == c], boxes[cls == c], scores[cls == c])
            )
    return out


UNMEASURED_THRESHOLD = 0.5


def summarise(results: list[SceneResult]) -> dict:
    """AP, the count-optimal threshold and the count error and precision/recall there; a
    class with no held-out object is not measured (no figures, a neutral threshold)."""
    if not any(len(r.gt) for r in results):
        return {"threshold": UNMEASURED_THRESHOLD, "not_measured": "no held-out objects"}
    t = best_count_threshold(results)
    return coco_ap(results) | {
        "threshold": t,
        "count_mare": count_mare(results, t),
        **precision_recall(results, t),
    }


def validate(model: torch.nn.Module, scenes: list[Scene], classes: list[str]) -> dict:
    """Held-out metrics: the first class's at top level (the single class of most models),
    every class's under ``per_class``."""
    per_class = {
        name: summarise(results)
        for name, results in zip(classes, held_out(model, scenes, len(classes)), strict=True)
    }
    return per_class[classes[0]] | {"per_class": per_class}


# what must match for a checkpoint to be resumed (steps may grow; licence, credit and name
# describe the result and may be corrected)
RECIPE = (
    "data", "format", "classes", "split_by", "val_groups", "fold", "folds", "gsd",
    "source_gsd", "satellite", "crop", "net",
)  # fmt: skip


def train(cfg: TrainConfig, log: Callable[[str], None] = print, resume: bool = True) -> Path:
    """Train (resuming from ``out/last.pt`` when present); returns the final checkpoint."""
    torch.manual_seed(cfg.seed)
    classes = list(cfg.class_map.classes)

    def prepare(step: int) -> tuple[Iterator, Callable[[torch.nn.Module], dict] | None]:
        train_samples, val_samples = split(cfg)
        if not train_samples:
            raise BadInputError(
                cfg.data, "every place is held out for validation: nothing to train on"
            )
        held = sorted({s.group for s in val_samples})
        log(
            f"{len(train_samples)} training scenes, {len(val_samples)} validation scenes"
            f" ({cfg.split_by}: {', '.join(held) or 'none'})"
        )
        scenes = load_scenes(train_samples, cfg.gsd, cfg.satellite, cfg.seed)
        val = load_scenes(val_samples, cfg.gsd, cfg.satellite, cfg.seed + 1) if val_samples else []
        loader = DataLoader(
            CropStream(scenes, cfg, step),
            batch_size=cfg.batch,
            num_workers=cfg.workers,
            persistent_workers=cfg.workers > 0,
        )
        return iter(loader), (lambda ema: validate(ema, val, classes)) if val else None

    def loss(model: torch.nn.Module, batch: tuple) -> dict[str, torch.Tensor]:
        images, targets = batch
        return detection_loss(model(images), targets)

    schedule = Schedule(cfg.steps, cfg.lr, cfg.warmup, cfg.weight_decay, cfg.ema_decay,
                        cfg.eval_every, cfg.checkpoint_seconds, cfg.seed)  # fmt: skip
    return fit(CenterNet(cfg.net), schedule, Path(cfg.out), asdict(cfg), RECIPE, prepare,
               loss, log, resume)  # fmt: skip
