"""Train the aircraft detector on a CPU in about an hour, resumably, validating on whole
held-out airports."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
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
    read_sites,
    sample_crop,
    site_folds,
)
from sitewatch.detect.train.loss import detection_loss
from sitewatch.detect.train.net import CenterNet, NetConfig

STRIDE = 4


@dataclass
class TrainConfig:
    data: str
    out: str = "checkpoints/aircraft"
    fold: int = 0  # validation fold; -1 trains on every airport
    folds: int = 5
    scale: float = 0.5  # model pixels per source pixel: 0.5 m imagery is seen at 1 m
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


class CropStream(IterableDataset):
    """An endless stream of augmented crops and targets; seeded per step for resumption."""

    def __init__(self, scenes: list[Scene], cfg: TrainConfig, start_step: int) -> None:
        self.scenes, self.cfg, self.start = scenes, cfg, start_step
        counts = np.array([len(s.boxes) + 5 for s in scenes], dtype=np.float64)
        self.p = counts / counts.sum()  # busier scenes a little more often

    def __iter__(self) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        step = self.start
        while True:
            rng = np.random.default_rng([self.cfg.seed, step])
            for _ in range(self.cfg.batch):
                scene = self.scenes[rng.choice(len(self.scenes), p=self.p)]
                img, boxes, ignore = sample_crop(scene, self.cfg.crop, rng, self.cfg.scale_jitter)
                img, boxes, ignore = augment(img, boxes, ignore, rng)
                targets = encode_targets(boxes, ignore, self.cfg.crop, STRIDE)
                yield np.ascontiguousarray(img.transpose(2, 0, 1)), targets
            step += 1


def split(cfg: TrainConfig) -> tuple[list[str], list[str]]:
    """Annotated images of training and validation airports (whole sites per fold)."""
    sites = read_sites(Path(cfg.data))
    folds = site_folds(sites, cfg.folds)
    train: list[str] = []
    val: list[str] = []
    for name, (site, _acq, annotated) in sorted(sites.items()):
        if not annotated:
            continue
        (val if folds[site] == cfg.fold else train).append(name)
    return train, val


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


def validate(model: torch.nn.Module, scenes: list[Scene]) -> dict:
    model.eval()
    results = []
    for s in scenes:
        boxes, scores, _ = predict_scene(model, s.pixels)
        results.append(SceneResult(s.name, s.boxes, boxes, scores))
    metrics = coco_ap(results)
    t = best_count_threshold(results)
    metrics |= {
        "threshold": t,
        "count_mare": count_mare(results, t),
        **precision_recall(results, t),
    }
    return metrics


class Ema:
    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        import copy

        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for e, m in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(m.detach(), alpha=1 - d)
            else:
                e.copy_(m)


def lr_at(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(cfg: TrainConfig, log: Callable[[str], None] = print, resume: bool = True) -> Path:
    """Train (resuming from ``out/last.pt`` when present); returns the final checkpoint."""
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model = CenterNet(cfg.net)
    ema = Ema(model, cfg.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    last = out / "last.pt"
    if resume and last.is_file():
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ckpt["model"])
        ema.model.load_state_dict(ckpt["ema"])
        opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
        log(f"resumed from {last} at step {step}")
    train_names, val_names = split(cfg)
    log(f"{len(train_names)} training scenes, {len(val_names)} validation scenes (fold {cfg.fold})")
    scenes = load_scenes(Path(cfg.data), cfg.scale, train_names)
    val = load_scenes(Path(cfg.data), cfg.scale, val_names) if val_names else []
    loader = DataLoader(
        CropStream(scenes, cfg, step),
        batch_size=cfg.batch,
        num_workers=cfg.workers,
        persistent_workers=cfg.workers > 0,
    )
    batches = iter(loader)

    def save(path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        torch.save(
            {
                "model": model.state_dict(),
                "ema": ema.model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "config": asdict(cfg),
            },
            tmp,
        )
        tmp.replace(path)

    history = out / "history.jsonl"
    saved_at = time.time()
    started = time.time()
    running: dict[str, float] = {}
    while step < cfg.steps:
        model.train()
        images, targets = next(batches)
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step)
        losses = detection_loss(model(images), targets)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model, step)
        step += 1
        for k, v in losses.items():
            running[k] = 0.95 * running.get(k, v.item()) + 0.05 * v.item()
        if step % 25 == 0:
            rate = (time.time() - started) / 25
            started = time.time()
            log(
                f"step {step}/{cfg.steps} "
                + " ".join(f"{k}={v:.3f}" for k, v in running.items())
                + f" lr={lr_at(cfg, step):.2e} {rate:.2f}s/step"
            )
        if time.time() - saved_at > cfg.checkpoint_seconds:
            save(last)
            saved_at = time.time()
        if val and (step % cfg.eval_every == 0 or step == cfg.steps):
            metrics = validate(ema.model, val)
            log(
                f"validation at step {step}: "
                + json.dumps({k: round(v, 4) for k, v in metrics.items()})
            )
            with open(history, "a") as fh:
                fh.write(json.dumps({"step": step, **metrics}) + "\n")
    save(last)
    return last
