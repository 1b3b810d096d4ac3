"""Train and measure sitewatch-change, the pixel change model, on this CPU (about an hour).

    python bench/change_pairs.py --out checkpoints/change-pairs   # real date pairs, ~8 min
    python bench/change_model.py train --run fold-0             # resumable
    python bench/change_model.py export                         # ONNX + card, JSON

What it learns from (``sitewatch.change.train.data``): real registered dates of the Airbus
airports (what is *not* change: other sun, season, sensor, view, a registration residual;
aircraft that moved are ignored), and the buildings of Joplin before the tornado, cut out
along their footprints and pasted into one date of a pair (new buildings; swapped dates:
demolished ones) or inpainted away. Validation holds out whole places: a third of the
airports and one Joplin tile, ground and buildings both. The NAIP series is kept out of
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
OUT = Path("src/sitewatch/models/change.onnx")
GSD = (0.3, 1.2)  # what it saw: 0.5–0.6 m sources, resampled by 0.6…1.6
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
        steps=steps,
    )


def export() -> dict:
    import json

    from sitewatch.change.train.export import export_onnx

    run = Path(f"checkpoints/change-{SHIPPED}")
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    last = history[-1]
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
        card="docs/MODEL_CARD_CHANGE.md",
        experimental=True,
    )
    return {"model": str(OUT), "threshold": info.threshold, "validation": last}


def main() -> None:
    from sitewatch.change.train.loop import train

    recipe_main(__doc__, RUNS, 3000, config, export, trainer=train)


if __name__ == "__main__":
    main()
