"""Off-the-shelf baseline: torchvision FCOS-ResNet50-FPN trained from scratch on the same CPU,
same data, same crops and augmentation, and the same budget as sitewatch's model.

    python bench/baseline_fcos.py train --data ../shared/datasets/airbus-aircraft --minutes 55
    python bench/baseline_fcos.py eval  --data ../shared/datasets/airbus-aircraft
    python bench/baseline_fcos.py train --recipe vehicle-munich-to-minsk --cpu-minutes 27
    python bench/baseline_fcos.py eval  --recipe vehicle-munich-to-minsk

``--recipe`` takes the data, split, GSD and crops of a sitewatch recipe: ``aircraft``
(fold 0 of the Airbus airports) or ``vehicle-RUN`` (bench/vehicle_model.py). The budget is
wall-clock minutes, or CPU minutes of this process (``--cpu-minutes``: fair when other jobs
share the machine). Checkpoints go to checkpoints/fcos-f0/ (aircraft) or
checkpoints/fcos-RECIPE/ (resumable). ``eval`` prints JSON with the same metrics as
`sitewatch eval detector`, timing whole scenes (aircraft: decode + inference).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.models.detection import fcos_resnet50_fpn

from sitewatch.detect.evaluate import (
    SceneResult,
    best_count_threshold,
    coco_ap,
    count_mare,
    precision_recall,
)
from sitewatch.detect.train.data import augment, load_scenes, sample_crop
from sitewatch.detect.train.loop import TrainConfig, split
from sitewatch.scene import load_scaled


def recipe(name: str, data: Path | None) -> tuple[TrainConfig, Path]:
    """The sitewatch training configuration to match, and the baseline's checkpoints."""
    if name == "aircraft":
        if data is None:
            raise SystemExit("--data is needed for the aircraft recipe")
        return TrainConfig(data=str(data)), Path("checkpoints/fcos-f0")
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from vehicle_model import config  # type: ignore[import-not-found]

    return config(name.removeprefix("vehicle-"), 0), Path(f"checkpoints/fcos-{name}")


def build(size: int) -> torch.nn.Module:
    return fcos_resnet50_fpn(
        weights=None,
        weights_backbone=None,
        num_classes=2,
        min_size=size,
        max_size=size,
        detections_per_img=500,
        score_thresh=0.05,
    )


def train(cfg: TrainConfig, ckpt: Path, minutes: float, cpu: bool) -> None:
    samples, _ = split(cfg)
    scenes = load_scenes(samples, cfg.gsd, cfg.satellite, cfg.seed)
    model = build(cfg.crop)
    clock = time.process_time if cpu else time.time
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    ckpt.mkdir(parents=True, exist_ok=True)
    step, spent = 0, 0.0
    if (ckpt / "last.pt").is_file():
        ck = torch.load(ckpt / "last.pt", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, spent = ck["step"], ck["spent"]
    counts = np.array([len(s.boxes) + 5 for s in scenes], float)
    p = counts / counts.sum()
    model.train()
    start = clock() - spent

    def save() -> None:
        state = {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "step": step,
            "spent": clock() - start,
        }
        torch.save(state, ckpt / "last.tmp")
        (ckpt / "last.tmp").replace(ckpt / "last.pt")

    saved = time.time()
    while clock() - start < minutes * 60:
        rng = np.random.default_rng([1, step])
        images, targets = [], []
        for _ in range(4):
            scene = scenes[rng.choice(len(scenes), p=p)]
            crop, boxes, ignore, _ = sample_crop(scene, cfg.crop, rng, cfg.scale_jitter)
            img, boxes, _ = augment(crop, boxes, ignore, rng)
            images.append(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))))
            targets.append(
                {
                    "boxes": torch.from_numpy(boxes).reshape(-1, 4),
                    "labels": torch.ones(len(boxes), dtype=torch.int64),
                }
            )
        warm = min(1.0, (step + 1) / 200)
        for g in opt.param_groups:
            g["lr"] = 0.01 * warm
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        step += 1
        if step % 10 == 0:
            print(f"step {step} loss={loss.item():.3f} {clock() - start:.0f}s", flush=True)
        if time.time() - saved > 300:
            save()
            saved = time.time()
    save()


@torch.no_grad()
def evaluate(cfg: TrainConfig, ckpt: Path) -> dict:
    _, samples = split(cfg)
    scenes = load_scenes(samples, cfg.gsd, cfg.satellite, cfg.seed + 1)
    model = build(1280)
    ck = torch.load(ckpt / "last.pt", weights_only=False)
    model.load_state_dict(ck["model"])
    model.eval()
    results, seconds = [], []
    for sample, scene in zip(samples, scenes, strict=True):
        t = time.perf_counter()
        pixels = scene.pixels if cfg.satellite else load_scaled(sample.path, sample.gsd_m / cfg.gsd)
        h, w = pixels.shape[:2]
        model.transform.min_size, model.transform.max_size = (min(h, w),), max(h, w)  # as is
        x = torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)
        out = model([x])[0]
        seconds.append(time.perf_counter() - t)
        results.append(
            SceneResult(scene.name, scene.boxes, out["boxes"].numpy(), out["scores"].numpy())
        )
    threshold = best_count_threshold(results)  # tuned on the same scenes: flatters the baseline
    km2 = float(np.mean([s.pixels.shape[0] * s.pixels.shape[1] for s in scenes])) * cfg.gsd**2 / 1e6
    return (
        coco_ap(results)
        | precision_recall(results, threshold)
        | {
            "count_mare": count_mare(results, threshold),
            "threshold": threshold,
            "seconds_per_scene": float(np.mean(seconds)),
            "km2_per_s": km2 / float(np.mean(seconds)),
            "train_steps": ck["step"],
            "train_minutes": round(ck["spent"] / 60, 1),
            "scenes": len(results),
        }
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["train", "eval"])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--recipe", default="aircraft")
    parser.add_argument("--minutes", type=float, default=55)
    parser.add_argument("--cpu-minutes", type=float)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg, ckpt = recipe(args.recipe, args.data)
    if args.command == "train":
        cpu = args.cpu_minutes is not None
        train(cfg, ckpt, args.cpu_minutes if cpu else args.minutes, cpu)
    else:
        print(json.dumps(evaluate(cfg, ckpt), indent=1))
