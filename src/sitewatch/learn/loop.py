"""What every training loop here needs: a warm-up + cosine learning rate, an exponential
moving average of the weights (what is validated and shipped), and checkpoints written
whole (or the previous one stays) that refuse to resume a different recipe."""

from __future__ import annotations

import copy
import errno
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sitewatch.errors import LOW_SPACE, BadInputError, free_bytes
from sitewatch.files import write_text_atomic, write_with_atomic


def cosine_lr(lr: float, warmup: int, steps: int, step: int) -> float:
    """Linear warm-up over ``warmup`` steps, then a cosine down to 2 % of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


class Ema:
    """An exponential moving average of a model's weights (buffers copied)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
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


def check_recipe(
    path: Path, saved: dict[str, Any], now: dict[str, Any], keys: Iterable[str]
) -> None:
    """Refuse to resume checkpoint ``path`` when any of ``keys`` of the configuration it was
    trained with differs from ``now``'s (steps may grow; names and credits may be fixed)."""
    for key in keys:
        if key in saved and plain(saved[key]) != plain(now[key]):
            raise BadInputError(
                path,
                f"this checkpoint was trained with {key}={saved[key]!r}, not {now[key]!r}",
                "start again with --no-resume, or train into another --checkpoints folder",
            )


def plain(value: object) -> object:
    """Tuples and lists compare alike (a checkpoint's config comes back with lists)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` whole and durable, or the previous checkpoint stays (a kill, a full
    disk: then an OSError with ENOSPC)."""

    def write(tmp: Path) -> None:
        try:
            torch.save(state, tmp)
        except RuntimeError as exc:  # how torch reports a failed write (full disk)
            free = free_bytes(tmp)
            code = errno.ENOSPC if free is not None and free < LOW_SPACE else errno.EIO
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "write failed"
            raise OSError(code, f"could not write the checkpoint ({first})") from exc

    write_with_atomic(path, write)


@dataclass(frozen=True)
class Schedule:
    """How long and how fast a model trains, and how often it is saved and validated."""

    steps: int
    lr: float
    warmup: int
    weight_decay: float
    ema_decay: float
    eval_every: int
    checkpoint_seconds: float
    seed: int


Batches = Iterator[Any]
Validate = Callable[[torch.nn.Module], dict[str, Any]]


def fit(
    model: torch.nn.Module,
    schedule: Schedule,
    out: Path,
    config: dict[str, Any],
    recipe: Iterable[str],
    prepare: Callable[[int], tuple[Batches, Validate | None]],
    loss: Callable[[torch.nn.Module, Any], dict[str, torch.Tensor]],
    log: Callable[[str], None] = print,
    resume: bool = True,
) -> Path:
    """Train ``model`` with AdamW, a warm-up + cosine rate and a weight average (EMA), from
    ``out/last.pt`` when present and trained with the same ``recipe`` keys of ``config``.
    ``prepare(step)`` gives the batches from that step on and the validation (of the EMA
    weights, every ``eval_every`` steps and at the end, kept in ``out/history.jsonl`` and in
    the checkpoint). Returns the final checkpoint."""
    torch.manual_seed(schedule.seed)
    out.mkdir(parents=True, exist_ok=True)
    ema = Ema(model, schedule.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=schedule.lr, weight_decay=schedule.weight_decay)
    step = 0
    last, history = out / "last.pt", out / "history.jsonl"
    if resume and last.is_file():
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        check_recipe(last, ckpt.get("config", {}), config, recipe)
        model.load_state_dict(ckpt["model"])
        ema.model.load_state_dict(ckpt["ema"])
        opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
        log(f"resumed from {last} at step {step}")
        _forget_after(history, step)
    batches, validate = prepare(step)
    metrics: dict[str, Any] = {}

    def save() -> None:
        save_checkpoint(last, {
            "model": model.state_dict(), "ema": ema.model.state_dict(),
            "optimizer": opt.state_dict(), "step": step, "config": config,
            "validation": metrics,  # the last validation: of these weights when its step says so
        })  # fmt: skip

    saved_at = started = time.time()
    running: dict[str, float] = {}
    while step < schedule.steps:
        model.train()
        rate = cosine_lr(schedule.lr, schedule.warmup, schedule.steps, step)
        for g in opt.param_groups:
            g["lr"] = rate
        losses = loss(model, next(batches))
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model, step)
        step += 1
        for k, v in losses.items():
            running[k] = 0.95 * running.get(k, v.item()) + 0.05 * v.item()
        if step % 25 == 0:
            per_step, started = (time.time() - started) / 25, time.time()
            log(f"step {step}/{schedule.steps} "
                + " ".join(f"{k}={v:.3f}" for k, v in running.items())
                + f" lr={cosine_lr(schedule.lr, schedule.warmup, schedule.steps, step):.2e}"
                + f" {per_step:.2f}s/step")  # fmt: skip
        if time.time() - saved_at > schedule.checkpoint_seconds:
            save()
            saved_at = time.time()
        if validate is not None and (step % schedule.eval_every == 0 or step == schedule.steps):
            metrics = {"step": step, **validate(ema.model)}
            log(f"validation at step {step}: {json.dumps(_rounded(metrics))}")
            with open(history, "a") as fh:
                fh.write(json.dumps(metrics) + "\n")
    save()
    return last


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _forget_after(history: Path, step: int) -> None:
    """Validations of steps after ``step`` (a run killed after validating, before its
    checkpoint) are dropped: their weights are gone, and the run validates them again."""
    if not history.is_file():
        return
    lines = [ln for ln in history.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln).get("step", 0) <= step]
    if len(kept) != len(lines):
        write_text_atomic(history, "".join(ln + "\n" for ln in kept))
