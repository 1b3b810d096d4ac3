"""Development pairs for pixel change, in the LEVIR-CD layout (A/, B/, label/), from real
airport dates: every pair of annotated acquisitions of one Airbus airport is registered
(B into A's pixels, `register.features`), cut into 512 × 512 tiles where both dates hold
pixels, and labelled with the aircraft that moved: a box in one date that no box of the
other date matches (IoU ≥ 0.3 once B's boxes are carried into A) is change, filled.

    python bench/change_pairs.py --out /tmp/change-dev [--data ../shared/datasets]
    sitewatch eval change --pairs /tmp/change-dev --method irmad

What the labels are: aircraft arriving, leaving or moving, at 0.5 m, between real dates
with real nuisance (another sun, view angle, season; vehicles and people that come and go
are *not* labelled, nor any construction, so a method that finds them loses precision).
Labels are boxes, not outlines: a perfect method's IoU stays below 1. The airports'
labels miss some aircraft (a missed one that moved is unlabelled change). Prints JSON.
The tiles are derived from CC BY-NC-SA 4.0 imagery (Airbus DS): keep them out of git.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from sitewatch.formats.annotations import read_airbus_csv
from sitewatch.frame import project, warp
from sitewatch.register import features as ft
from sitewatch.register.imagery import load_gray

TILE = 512
MATCH_IOU = 0.3


def boxes_by_image(data: Path) -> dict[str, np.ndarray]:
    out: dict[str, list[list[float]]] = defaultdict(list)
    for b in read_airbus_csv(data / "annotations.csv"):
        out[b.file_name].append([b.x0, b.y0, b.x1, b.y1])
    return {k: np.array(v, float).reshape(-1, 4) for k, v in out.items()}


def carried(boxes: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Boxes through ``h``: the box around each projected rectangle."""
    out = []
    for x0, y0, x1, y1 in boxes:
        p = project(h, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float))
        out.append([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
    return np.array(out, float).reshape(-1, 4)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter + 1e-9)


def unmatched(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one matching by IoU; the boxes of each side left without a partner."""
    if not len(a) or not len(b):
        return a, b
    m = iou(a, b)
    used_a, used_b = set(), set()
    for i, j in sorted(zip(*np.nonzero(m >= MATCH_IOU), strict=True), key=lambda ij: -m[ij]):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    keep_a = [i for i in range(len(a)) if i not in used_a]
    keep_b = [j for j in range(len(b)) if j not in used_b]
    return a[keep_a], b[keep_b]


def build(data: Path, out: Path) -> dict:
    for name in ("A", "B", "label"):
        (out / name).mkdir(parents=True, exist_ok=True)
    boxes = boxes_by_image(data)
    sites: dict[str, dict[str, Path]] = defaultdict(dict)
    with open(data / "sites.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["annotated"] == "1":  # one annotated image per acquisition
                sites[row["site_id"]].setdefault(
                    row["acquisition_id"], data / "images" / row["image_id"]
                )
    cfg = ft.MatchConfig()
    pairs = tiles = changed_tiles = 0
    changed_px = total_px = 0
    skipped = []
    for _, acqs in sorted(sites.items()):
        if len(acqs) < 2:
            continue
        grays = {k: load_gray(p, 4096)[0] for k, p in acqs.items()}
        feats = {k: ft.extract(g, cfg) for k, g in grays.items()}
        for a, b in itertools.combinations(sorted(acqs), 2):
            fit = ft.register(feats[b], feats[a], cfg, grays[b].shape)
            if not fit.ok or fit.matrix is None:
                skipped.append(f"{a}–{b}: {fit.reason}")
                continue
            pairs += 1
            rgb_a = np.asarray(Image.open(acqs[a]).convert("RGB"))
            rgb_b = np.asarray(Image.open(acqs[b]).convert("RGB"))
            size = (rgb_a.shape[1], rgb_a.shape[0])
            warped = warp(rgb_b, fit.matrix, size)
            valid = warp(np.full(rgb_b.shape[:2], 255, np.uint8), fit.matrix, size) == 255
            none = np.zeros((0, 4))
            in_b = carried(boxes.get(acqs[b].name, none), fit.matrix)
            gone, came = unmatched(boxes.get(acqs[a].name, none), in_b)
            label = np.zeros(rgb_a.shape[:2], np.uint8)
            for x0, y0, x1, y1 in np.vstack([gone, came]):
                label[max(0, int(y0)) : int(np.ceil(y1)), max(0, int(x0)) : int(np.ceil(x1))] = 255
            for y in range(0, size[1] - TILE + 1, TILE):
                for x in range(0, size[0] - TILE + 1, TILE):
                    if not valid[y : y + TILE, x : x + TILE].all():
                        continue
                    stem = f"{a}-{b[-2:]}-{x:04d}-{y:04d}"
                    window = np.s_[y : y + TILE, x : x + TILE]
                    Image.fromarray(rgb_a[window]).save(out / "A" / f"{stem}.png")
                    Image.fromarray(warped[window]).save(out / "B" / f"{stem}.png")
                    Image.fromarray(label[window]).save(out / "label" / f"{stem}.png")
                    tiles += 1
                    n = int((label[window] > 0).sum())
                    changed_tiles += n > 0
                    changed_px += n
                    total_px += TILE * TILE
    return {"pairs_of_dates": pairs, "tiles": tiles, "tiles_with_change": changed_tiles,
            "changed_share": changed_px / max(total_px, 1), "not_registered": skipped}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    t0 = time.perf_counter()
    result = build(args.data / "airbus-aircraft", args.out)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
