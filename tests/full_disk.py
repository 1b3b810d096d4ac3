"""A disk that fills while a training checkpoint is written (for the models trained through
``sitewatch.learn.fit``): ``torch.save`` leaves half a file and fails as a full disk makes
it, and the free space reads 4 KiB."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def disk_fills_on_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sitewatch.errors as errors
    import sitewatch.learn.loop as loop

    def full(state: object, path: Path) -> None:
        Path(path).write_bytes(b"PK\x03\x04 half a zip")  # what a full disk leaves behind
        raise RuntimeError("[enforce fail at inline_container.cc] file write failed")

    monkeypatch.setattr(loop.torch, "save", full)
    monkeypatch.setattr(errors, "free_bytes", lambda path: 4096)
    monkeypatch.setattr(loop, "free_bytes", lambda path: 4096)


def full_disk_keeps_the_last_checkpoint(
    train: Callable[..., Path], cfg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Train ``cfg`` for two steps, then a third while the disk fills: one error names the
    checkpoint and the cause, the step-2 checkpoint is untouched, nothing half-written is
    left, and it loads."""
    import torch

    from sitewatch.errors import OutputError

    cfg.steps = 2
    last = train(cfg, log=lambda m: None)
    good = last.read_bytes()
    disk_fills_on_checkpoint(monkeypatch)
    cfg.steps = 3
    with pytest.raises(OutputError, match=r"last\.pt: the disk is full"):
        train(cfg, log=lambda m: None)
    assert last.read_bytes() == good
    assert {p.name for p in last.parent.iterdir()} == {"last.pt", "history.jsonl"}
    monkeypatch.undo()
    assert torch.load(last, weights_only=False)["step"] == 2
