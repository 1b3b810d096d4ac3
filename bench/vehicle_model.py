"""Train and measure sitewatch-vehicle: cross-city validation both ways, then all data.

    python bench/vehicle_model.py gsd                      # the measurement that picks the GSD
    python bench/vehicle_model.py train --run munich-to-minsk   # each ~20 min on 2 cores
    python bench/vehicle_model.py train --run minsk-to-munich
    python bench/vehicle_model.py train --run all
    python bench/vehicle_model.py export                   # ONNX + card, JSON on stdout

The data are real nadir aerial and drone photos (≈0.125 m) of Munich and Minsk, degraded
to a satellite-like 0.3 m (``detect/train/data.degrade``). Validation holds out a whole city.
The shipped model is trained on both cities; its calibration and operating threshold come
from the pooled out-of-city predictions of the two cross-city models (cross-fitting), and
its card (src/sitewatch/models/vehicle.md, beside the ONNX) reports each
direction. Checkpoints go to checkpoints/vehicle-<run>/ (resumable).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from recipe import recipe_main

DATA = Path(os.environ.get("SITEWATCH_AERIAL_CARS", "../shared/datasets/aerial-cars"))
CITIES = {"kit-munich": "Munich (KIT AIS aerial)", "minsk-drone": "Minsk (drone)"}
RUNS = {"munich-to-minsk": ["minsk-drone"], "minsk-to-munich": ["kit-munich"], "all": None}
CLASSES = "vehicle=car+truck+bus+minibus"  # cyclists are not vehicles a site counts
GSD, SOURCE_GSD = 0.3, 0.125
LICENCE = (
    "CC BY-SA 4.0 (trained on KIT AIS Data Set imagery, CC BY 3.0, and Minsk drone photos "
    "© Yauhen Kharuzhy and the Minsk OpenStreetMap community, CC BY-SA)"
)
CREDIT = (
    "KIT AIS Data Set (© KIT IPF); Yauhen Kharuzhy and the Minsk OpenStreetMap community; "
    "labels: aerial-cars-dataset"
)
OUT = Path("src/sitewatch/models/vehicle.onnx")


def config(run: str, steps: int):
    from sitewatch.detect.train.loop import TrainConfig

    return TrainConfig(
        data=str(DATA),
        out=f"checkpoints/vehicle-{run}",
        format="yolo",
        classes=CLASSES,
        split_by="source",
        val_groups=RUNS[run],
        fold=-1,
        gsd=GSD,
        source_gsd=SOURCE_GSD,
        satellite=True,
        crop=256,
        batch=8,
        steps=steps,
        eval_every=400,
        workers=0,
        name="sitewatch-vehicle",
        licence=LICENCE,
        credit=CREDIT,
    )


def gsd_measurement() -> dict:
    """How close parked vehicles stand, against the heatmap's cell at each GSD: two centres
    closer than two stride-4 cells fall in one 3×3 peak window and count once."""
    from sitewatch.detect.train.dataset import ClassMap, samples

    found, _ = samples(DATA, "yolo", ClassMap.parse(CLASSES), "source", SOURCE_GSD)
    lengths, nearest = [], []
    for s in found:
        b = s.boxes * s.gsd_m
        if len(b) < 2:
            continue
        lengths += list(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))
        c = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], 1)
        d = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        nearest += list(d.min(1))
    length, near = np.asarray(lengths), np.asarray(nearest)
    return {
        "vehicles": len(near),
        "length_m_p5_p50_p95": np.percentile(length, [5, 50, 95]).round(2).tolist(),
        "nearest_neighbour_m_p5_p50": np.percentile(near, [5, 50]).round(2).tolist(),
        "merged_in_one_peak_window": {
            str(g): round(float((near < 2 * 4 * g).mean()), 4) for g in (0.3, 0.4, 0.5)
        },
        "median_length_px": {
            str(g): round(float(np.median(length) / g), 1) for g in (0.3, 0.4, 0.5)
        },
    }


def export() -> dict:
    """The all-cities model with calibration, threshold and figures cross-fitted on the two
    cross-city models (each direction's figures kept under ``folds``)."""
    from sitewatch.detect.train.export import cross_fit, export_onnx

    fit = cross_fit(
        {
            run: Path(f"checkpoints/vehicle-{run}/last.pt")
            for run in ("munich-to-minsk", "minsk-to-munich")
        },
        "the other city (Munich ↔ Minsk), pooled over both directions",
    )
    info = export_onnx(
        Path("checkpoints/vehicle-all/last.pt"),
        OUT,
        name="sitewatch-vehicle",
        experimental=True,
        calibration=fit.as_calibration(),
    )
    return {"model": str(OUT), "threshold": info.threshold, "metrics": info.metrics}


def imagery_gsd(levels: tuple[float, ...] = (0.3, 0.4, 0.5)) -> dict:
    """Each cross-city model on its held-out city as satellites of coarser GSD would show it:
    degraded to that GSD, then resampled to the model's 0.3 m as sitewatch does at inference.
    Threshold-free AP50 and count error at the model's own held-out threshold."""
    import cv2
    import torch  # noqa: F401  (the train extra)

    from sitewatch.detect.evaluate import SceneResult, coco_ap, count_mare
    from sitewatch.detect.train.data import degrade
    from sitewatch.detect.train.export import load_checkpoint
    from sitewatch.detect.train.loop import predict_scene, split, summarise
    from sitewatch.scene import load_scaled

    out: dict = {}
    for run in ("munich-to-minsk", "minsk-to-munich"):
        model, cfg = load_checkpoint(Path(f"checkpoints/vehicle-{run}/last.pt"))
        _, val = split(cfg)
        rows: dict[str, dict] = {}
        threshold: float | None = None
        for level in sorted(levels):
            results = []
            for i, sample in enumerate(val):
                full = load_scaled(sample.path, 1.0)
                coarse = degrade(full, sample.gsd_m / level, np.random.default_rng([7, i]))
                h, w = full.shape[:2]
                size = (round(w * sample.gsd_m / cfg.gsd), round(h * sample.gsd_m / cfg.gsd))
                pixels = cv2.resize(coarse, size, interpolation=cv2.INTER_LINEAR)
                boxes, scores, _ = predict_scene(model, pixels, 0.02)
                gt = sample.boxes * np.array([size[0] / w, size[1] / h] * 2, np.float32)
                results.append(SceneResult(sample.file_name, gt, boxes, scores))
            if threshold is None:  # the count-optimal threshold on 0.3 m imagery
                threshold = summarise(results)["threshold"]
            rows[str(level)] = coco_ap(results) | {"count_mare": count_mare(results, threshold)}
        out[run] = {"threshold_raw": threshold, "by_imagery_gsd_m": rows}
    return out


def main() -> None:
    recipe_main(
        __doc__,
        list(RUNS),
        1600,
        config,
        export,
        {"gsd": gsd_measurement, "imagery-gsd": imagery_gsd},
    )


if __name__ == "__main__":
    main()
