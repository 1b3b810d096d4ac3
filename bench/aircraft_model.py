"""Train and measure sitewatch-aircraft on every development airport, with 3-fold site-wise
cross-validation of the same recipe for its card.

    python bench/aircraft_model.py train --run fold-0     # ~55 min each on 2 cores
    python bench/aircraft_model.py train --run fold-1
    python bench/aircraft_model.py train --run fold-2
    python bench/aircraft_model.py train --run all
    python bench/aircraft_model.py export                 # ONNX + card figures, JSON

Folds hold out whole airports (``group_folds``, balanced by annotated scenes). The shipped
model is trained on all airports; its calibration, threshold and figures come from the
pooled out-of-fold predictions (``cross_fit``), which also measure how often the 90 %
count interval covers the true count. Checkpoints: checkpoints/aircraft-<run>/ (resumable,
out of git); each finished fold's raw held-out predictions: bench/cv/aircraft-<run>.json
(in git, what ``export`` pools).
"""

from __future__ import annotations

import os
from pathlib import Path

from recipe import recipe_main

DATA = Path(os.environ.get("SITEWATCH_AIRBUS", "../shared/datasets/airbus-aircraft"))
FOLDS = 3
RUNS = [f"fold-{k}" for k in range(FOLDS)] + ["all"]
OUT = Path("src/sitewatch/models/aircraft.onnx")
CV = Path(__file__).parent / "cv"


def held_out(run: str) -> Path | None:
    """Where a finished fold's raw held-out predictions are kept (in git; the 'all' run
    holds nothing out)."""
    return None if run == "all" else CV / f"aircraft-{run}.json"


def config(run: str, steps: int):
    from sitewatch.detect.train.loop import TrainConfig

    fold = -1 if run == "all" else int(run.removeprefix("fold-"))
    return TrainConfig(
        data=str(DATA),
        out=f"checkpoints/aircraft-{run}",
        fold=fold,
        folds=FOLDS,
        steps=steps,
        workers=0,
    )


def export() -> dict:
    from sitewatch.detect.train.data import read_sites
    from sitewatch.detect.train.export import cross_fit, export_onnx

    # each scene's airport: the count interval is fitted and checked airport by airport
    place_of = {image: site for image, (site, _acq, _ann) in read_sites(DATA).items()}
    fit = cross_fit(
        {run: _fold(run) for run in RUNS[:-1]},
        f"whole airports, {FOLDS}-fold site-wise cross-validation (out-of-fold, pooled)",
        place_of,
    )
    info = export_onnx(
        Path("checkpoints/aircraft-all/last.pt"),
        OUT,
        name="sitewatch-aircraft",
        version="2",
        calibration=fit.as_calibration(),
    )
    return {"model": str(OUT), "threshold": info.threshold, "metrics": info.metrics}


def _fold(run: str) -> Path:
    """A fold's kept held-out predictions, refreshed first when its checkpoint is here and
    is not the one they came from (a fold retrained since); the checkpoint where none are
    kept."""
    import json

    from sitewatch.detect.train.export import save_held_out
    from sitewatch.hashing import sha256_file

    kept, checkpoint = held_out(run), Path(f"checkpoints/aircraft-{run}/last.pt")
    assert kept is not None  # folds hold places out
    if checkpoint.exists():
        made_by = json.loads(kept.read_text())["checkpoint_sha256"] if kept.exists() else None
        if made_by != sha256_file(checkpoint):
            save_held_out(checkpoint, kept)
    return kept if kept.exists() else checkpoint


def main() -> None:
    recipe_main(__doc__, RUNS, 2200, config, export, held_out=held_out)


if __name__ == "__main__":
    main()
