"""The command line the model recipes share (``aircraft_model.py``, ``vehicle_model.py``):
``train --run RUN`` (resumable, checkpoints under checkpoints/), ``export``, and any
measurement a recipe adds, each printing JSON. A recipe may keep each finished fold's raw
held-out predictions in the repository (``held_out``), so that cross-fitting does not
depend on checkpoints that stay out of git."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def recipe_main(
    doc: str | None,
    runs: list[str],
    steps: int,
    config: Callable[[str, int], Any],
    export: Callable[[], dict],
    measures: dict[str, Callable[[], dict]] | None = None,
    held_out: Callable[[str], Path | None] = lambda run: None,
    trainer: Callable[..., Path] | None = None,
) -> None:
    """Parse the command line and run it: train one run of the recipe, export, or measure.
    ``trainer(cfg, log=…)`` trains (default: the detector's ``train``)."""
    measures = measures or {}
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("command", choices=[*measures, "train", "export"])
    parser.add_argument("--run", choices=runs, default="all")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.command == "train":
        import torch

        if trainer is None:
            from sitewatch.detect.train.loop import train as trainer

        torch.set_num_threads(args.threads)
        cfg = config(args.run, args.steps)
        trainer(cfg, log=lambda m: print(m, flush=True))
        keep = held_out(args.run)
        if keep is not None:
            from sitewatch.detect.train.export import save_held_out

            print(json.dumps(save_held_out(Path(cfg.out) / "last.pt", keep)), flush=True)
    elif args.command == "export":
        print(json.dumps(export(), indent=1, default=str))
    else:
        print(json.dumps(measures[args.command](), indent=1, default=str))
