"""Train the change model on a CPU in about an hour, resumably, validating on whole places
held out (airports, a map tile of buildings) that it never saw, neither as ground nor as
buildings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, IterableDataset

from sitewatch.change.train.data import (
    Mix,
    Place,
    Sample,
    Sprite,
    draw,
    load_buildings,
    load_levir,
    sprites_of,
)
from sitewatch.change.train.net import ChangeNet, ChangeNetConfig
from sitewatch.errors import BadInputError
from sitewatch.learn.folds import validation_groups
from sitewatch.learn.loop import Schedule, fit


@dataclass
class ChangeTrainConfig:
    pairs: str | None  # registered date pairs, LEVIR layout (``bench/change_pairs.py``)
    pair_group: str  # a regular expression whose first group in a stem names its place
    pair_gsd: float
    buildings: list[str]  # georeferenced dates with buildings …
    footprints: str  # … and their outlines (GeoJSON)
    out: str = "checkpoints/change"
    fold: int = 0  # -1 trains on every place
    folds: int = 3
    val_tiles: list[str] | None = None  # building tiles held out by name (else by fold)
    crop: int = 224
    batch: int = 8
    steps: int = 3000
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 150
    ema_decay: float = 0.998
    eval_every: int = 500
    validation_samples: int = 96
    checkpoint_seconds: float = 300
    seed: int = 0
    workers: int = 0
    mix: Mix = field(default_factory=Mix)
    net: ChangeNetConfig = field(default_factory=ChangeNetConfig)


# what must match for a checkpoint to be resumed: the data stream, the schedule's shape, the
# network (steps may grow)
RECIPE = ("pairs", "pair_group", "pair_gsd", "buildings", "footprints", "fold", "folds",
          "val_tiles", "crop", "batch", "lr", "weight_decay", "warmup", "ema_decay",
          "validation_samples", "seed", "mix", "net")  # fmt: skip


@dataclass(frozen=True)
class Split:
    train: list[Place]
    train_sprites: list[Sprite]
    val: list[Place]
    val_sprites: list[Sprite]
    held: list[str]


def split(cfg: ChangeTrainConfig) -> Split:
    """Places and building sprites for training and for validation: whole places apart,
    and the held-out buildings come from held-out places only."""
    built = load_buildings([Path(p) for p in cfg.buildings], Path(cfg.footprints))
    pairs = load_levir(Path(cfg.pairs), cfg.pair_group, cfg.pair_gsd) if cfg.pairs else []
    places = built + pairs
    held: set[str] = set()
    if cfg.fold >= 0:  # each kind of place has its own held-out share
        tiles = sorted({p.group for p in built})
        if len(tiles) > 1:  # one tile of buildings: they are few
            held |= validation_groups(tiles, cfg.val_tiles, cfg.fold, len(tiles))
        if len({p.group for p in pairs}) > 1:
            held |= validation_groups([p.group for p in pairs], None, cfg.fold, cfg.folds)
    train = [p for p in places if p.group not in held]
    val = [p for p in places if p.group in held]
    sprites = {id(p): sprites_of(p) for p in places if p.buildings is not None}
    train_sprites = [s for p in train for s in sprites.get(id(p), [])]
    val_sprites = [s for p in val for s in sprites.get(id(p), [])]
    if cfg.fold >= 0 and not val_sprites:
        raise BadInputError(cfg.footprints, "no held-out building stands out in its date: "
                            "validation would score nothing",
                            "give two or more building tiles, or train with fold -1")  # fmt: skip
    if cfg.fold >= 0 and pairs and not any(len(p.dates) > 1 for p in val):
        raise BadInputError(str(cfg.pairs), "no place's date pairs are held out",
                            "give pairs of two or more places, or train with fold -1")  # fmt: skip
    if not train_sprites:
        raise BadInputError(cfg.footprints, "no building outlines fall in the training dates")
    return Split(train, train_sprites, val, val_sprites, sorted(held))


class PairStream(IterableDataset):
    """An endless stream of training pairs; seeded per step for resumption."""

    def __init__(self, s: Split, cfg: ChangeTrainConfig, start_step: int) -> None:
        self.s, self.cfg, self.start = s, cfg, start_step

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        from torch.utils.data import get_worker_info

        worker = get_worker_info()  # workers take turns by step, so no batch is drawn twice
        turn, turns = (0, 1) if worker is None else (worker.id, worker.num_workers)
        step = self.start + turn
        while True:
            rng = np.random.default_rng([self.cfg.seed, step])
            for _ in range(self.cfg.batch):
                x = draw(self.s.train, self.s.train_sprites, self.cfg.crop, rng, self.cfg.mix)
                yield x.before, x.after, x.label, x.weight
            step += turns


def change_loss(logits: torch.Tensor, label: torch.Tensor, weight: torch.Tensor) -> dict:
    """Weighted cross-entropy plus a soft Dice of the change class (change is a few per cent
    of the pixels: cross-entropy alone learns to say "nothing")."""
    logits = logits[:, 0]
    bce = F.binary_cross_entropy_with_logits(logits, label, weight=weight, reduction="sum")
    bce = bce / weight.sum().clamp(min=1)
    p = torch.sigmoid(logits) * weight
    inter = (p * label).sum()
    dice = 1 - (2 * inter + 1) / (p.sum() + (label * weight).sum() + 1)
    return {"loss": bce + dice, "bce": bce, "dice": dice}


def validation_set(s: Split, cfg: ChangeTrainConfig) -> list[Sample]:
    """A fixed set of pairs from the held-out places (the same at every evaluation)."""
    if not s.val:
        return []
    return [
        draw(s.val, s.val_sprites, cfg.crop, np.random.default_rng([cfg.seed, 10**9 + i]), cfg.mix)
        for i in range(cfg.validation_samples)
    ]


@torch.no_grad()
def predict(model: torch.nn.Module, samples: list[Sample], batch: int = 8) -> list[np.ndarray]:
    model.eval()
    out = []
    for i in range(0, len(samples), batch):
        chunk = samples[i : i + batch]
        a = torch.from_numpy(np.stack([x.before for x in chunk]))
        b = torch.from_numpy(np.stack([x.after for x in chunk]))
        out += list(torch.sigmoid(model(a, b))[:, 0].numpy())
    return out


def scores(samples: list[Sample], probs: list[np.ndarray]) -> dict:
    """Pooled F1 and IoU of the change class at the best threshold and at 0.5, and the
    share of area called changed on pairs without any change (the false-alarm area)."""
    truth = np.concatenate([x.label[x.weight > 0].ravel() for x in samples]) > 0.5
    p = np.concatenate([pr[x.weight > 0].ravel() for x, pr in zip(samples, probs, strict=True)])
    quiet = [pr[x.weight > 0] for x, pr in zip(samples, probs, strict=True) if x.label.max() == 0]
    best: dict = {}
    for t in np.round(np.arange(0.2, 0.91, 0.05), 2):
        found = p > t
        tp = float((found & truth).sum())
        f1 = 2 * tp / max(float(found.sum() + truth.sum()), 1)
        if not best or f1 > best["f1"]:
            best = {
                "threshold": float(t),
                "f1": f1,
                "iou": tp / max(float((found | truth).sum()), 1),
            }
    half = p > 0.5
    tp = float((half & truth).sum())
    out = {
        "f1": best["f1"],
        "iou": best["iou"],
        "threshold": best["threshold"],
        "f1_at_0.5": 2 * tp / max(float(half.sum() + truth.sum()), 1),
        "pairs": len(samples),
        "quiet_pairs": len(quiet),
    }
    if quiet:
        q = np.concatenate([v.ravel() for v in quiet])
        out["false_change_share"] = float((q > best["threshold"]).mean())
    return out


def train(cfg: ChangeTrainConfig, log: Callable[[str], None] = print, resume: bool = True) -> Path:
    """Train (resuming from ``out/last.pt`` when present); returns the final checkpoint."""
    torch.manual_seed(cfg.seed)

    def prepare(step: int) -> tuple[Iterator, Callable[[torch.nn.Module], dict] | None]:
        s = split(cfg)
        log(f"{len(s.train)} training places' tiles, {len(s.train_sprites)} buildings; "
            f"{len(s.val)} held out ({', '.join(s.held) or 'none'}), {len(s.val_sprites)} "
            "buildings")  # fmt: skip
        val = validation_set(s, cfg)
        stream = PairStream(s, cfg, step)
        loader = DataLoader(stream, batch_size=cfg.batch, num_workers=cfg.workers,
                            persistent_workers=cfg.workers > 0)  # fmt: skip
        return iter(loader), (lambda ema: scores(val, predict(ema, val))) if val else None

    def loss(model: torch.nn.Module, batch: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        a, b, label, weight = batch
        return change_loss(model(a, b), label, weight)

    schedule = Schedule(cfg.steps, cfg.lr, cfg.warmup, cfg.weight_decay, cfg.ema_decay,
                        cfg.eval_every, cfg.checkpoint_seconds, cfg.seed)  # fmt: skip
    return fit(ChangeNet(cfg.net), schedule, Path(cfg.out), asdict(cfg), RECIPE, prepare,
               loss, log, resume)  # fmt: skip
