"""Train and measure sitewatch-change, the pixel change model, on this CPU (about an hour).

    python bench/change_pairs.py --out checkpoints/change-pairs   # real date pairs, ~8 min
    python bench/change_model.py train --run fold-0             # resumable
    python bench/change_model.py export                         # ONNX + card, JSON

What it learns from (``sitewatch.change.train.data``): real registered dates of the Airbus
airports (what is *not* change: other sun, season, sensor, view, a registration residual;
aircraft that moved are ignored), and the buildings of Joplin before the tornado, cut out
along their footprints and pasted into one date of a pair (new buildings; swapped dates:
demolished ones) or removed under the date's own ground. Validation holds out whole
places: a third of the airports and the Joplin tile the demo window lies in
(``tile_1361-10160``), ground and buildings both, so that ``bench/change.py``'s Joplin
figures are on a tile the model never saw. The NAIP series is kept out of
training altogether: it is the nuisance test (seasons, years, no construction), at a GSD
(5 m) the model never saw.

The shipped model is the fold-0 one, so that every figure on its card is held out. Its
operating threshold is the best-F1 one on that validation. Checkpoints:
checkpoints/change-<run>/ (out of git).
"""

from __future__ import annotations

import os
from pathlib import Path

from recipe import recipe_main

DATA = Path(os.environ.get("SITEWATCH_DATA", "../shared/datasets"))
PAIRS = Path("checkpoints/change-pairs")
RUNS = ["fold-0", "all"]
SHIPPED = "fold-0"
OUT = Path("src/sitewatch/models/change/change.onnx")  # detectors are models/*.onnx
GSD = (0.3, 1.0)  # what it saw: 0.5–0.6 m sources resampled by 0.6…1.6 (Mix.scale)
DEMO_TILE = "tile_1361-10160"  # holds the Joplin demo window
LICENCE = "CC BY-NC-SA 4.0"
CREDIT = (
    "Airbus Aircraft Detection sample dataset, © Airbus DS Intelligence, CC BY-NC-SA 4.0; "
    "Joplin imagery: Maxar Open Data (via xView2), CC BY-NC 4.0; building footprints of "
    "Joplin (a 2020 footprint release, via xView2)"
)


def config(run: str, steps: int):
    from sitewatch.change.train.loop import ChangeTrainConfig

    joplin = DATA / "joplin-pre-post"
    return ChangeTrainConfig(
        pairs=str(PAIRS) if (PAIRS / "A").is_dir() else None,
        pair_group=r"^(site-\d+)",
        pair_gsd=0.5,
        buildings=[str(p) for p in sorted((joplin / "pre").glob("*.tif"))],
        footprints=str(joplin / "joplin_buildings.geojson"),
        out=f"checkpoints/change-{run}",
        fold=-1 if run == "all" else int(run.removeprefix("fold-")),
        val_tiles=None if run == "all" else [DEMO_TILE],
        steps=steps,
    )


def export() -> dict:
    import torch

    from sitewatch.change.train.export import export_onnx

    run = Path(f"checkpoints/change-{SHIPPED}")
    ckpt = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    last = ckpt.get("validation") or {}
    if last.get("step") != ckpt["step"]:  # figures of other weights would be a false card
        raise SystemExit(f"{run}/last.pt is at step {ckpt['step']}, its last validation at "
                         f"{last.get('step')}: finish the run first")  # fmt: skip
    info = export_onnx(
        run / "last.pt",
        OUT,
        name="sitewatch-change",
        version="1",
        threshold=last["threshold"],
        gsd_m=GSD,
        metrics={"validation": last},
        licence=LICENCE,
        credit=CREDIT,
        card=(
            "Trained from scratch without labelled change pairs: real registered airport dates "
            "as what is not change, Joplin buildings pasted or removed as what is. Threshold: "
            "best F1 on held-out synthetic pairs (airports and a Joplin tile never trained "
            "on). Unmeasured on real labelled change; see models/change/change.md."
        ),
        experimental=True,
    )
    return {"model": str(OUT), "threshold": info.threshold, "validation": last}


def main() -> None:
    from sitewatch.change.train.loop import train

    recipe_main(__doc__, RUNS, 3000, config, export, trainer=train)


if __name__ == "__main__":
    main()
