"""Detector benchmark: held-out airports (whole sites), CPU speed, memory on a huge COG, and
the off-the-shelf baseline side by side.

    python bench/detector.py --data ../shared/datasets/airbus-aircraft [--fold 0] [--big 20000]

Prints one JSON object. Accuracy is measured with the shipped ONNX pipeline end to end on the
airports of the held-out fold (never trained on). The baseline block is filled when
`bench/baseline_fcos.py train` has left a checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from synthetic import synthetic_geotiff

from sitewatch.detect.benchmark import evaluate_detector
from sitewatch.detect.train.data import read_sites, site_folds

HERE = Path(__file__).resolve().parent

MEMORY_PROBE = """
import resource, sys, time
from pathlib import Path
from sitewatch.detect import Detector, detect_scene
from sitewatch.scene import open_scene
det = Detector(threads=2)
scene = open_scene(Path(sys.argv[1]), 0.5, det.info.model_gsd_m)
t = time.perf_counter()
found = detect_scene(det, scene)
print(found.boxes.shape[0], time.perf_counter() - t,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def memory_run(side: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_geotiff(Path(tmp) / "big.tif", side, compress="jpeg")
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    return {
        "side_px": side,
        "detections": int(out[0]),
        "seconds": round(float(out[1]), 1),
        "peak_rss_mb": round(float(out[2])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--big", type=int, default=20000)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    sites = read_sites(args.data)
    folds = site_folds(sites)
    held_out = {n for n, (s, _a, ann) in sites.items() if ann and folds[s] == args.fold}
    report = evaluate_detector(
        args.data / "images", args.data / "annotations.csv", args.model, only=held_out
    )
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}",
        "held_out": {"fold": args.fold, "airports": sorted({sites[n][0] for n in held_out})},
        "sitewatch": report.metrics,
        "memory": memory_run(args.big) if args.big else None,
    }
    baseline = Path("checkpoints/fcos-f0/last.pt")
    if baseline.is_file():
        out = subprocess.run(
            [sys.executable, str(HERE / "baseline_fcos.py"), "eval", "--data", str(args.data)],
            check=True,
            capture_output=True,
            text=True,
        )
        result["baseline_fcos_resnet50"] = json.loads(out.stdout)
        b, s = result["baseline_fcos_resnet50"], report.metrics
        result["ratios"] = {
            "ap50": s["ap50"] / max(b["ap50"], 1e-9),
            "speed": s["km2_per_s"] / max(b["km2_per_s"], 1e-9),
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
