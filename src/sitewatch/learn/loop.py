"""What every training loop here needs: a warm-up + cosine learning rate, an exponential
moving average of the weights (what is validated and shipped), and checkpoints written
whole (or the previous one stays) that refuse to resume a different recipe."""

from __future__ import annotations

import copy
import errno
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from sitewatch.errors import LOW_SPACE, BadInputError, free_bytes
from sitewatch.files import write_with_atomic


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
