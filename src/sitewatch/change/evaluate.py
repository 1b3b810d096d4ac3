"""Change detection scored on pairs in the LEVIR-CD / DSIFN layout: ``A/``, ``B/`` and
``label/`` folders of same-named images, label 255 (or 1) = change, 0 = no change.

Scores are of the change class: precision, recall, F1 and IoU pooled over every pixel of
every pair (as the benchmarks report them), and the same per pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.change.methods import ChangeMethod, change_map, change_model
from sitewatch.errors import BadInputError, DatasetNotFoundError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
FOLDERS = ("A", "B", "label")


@dataclass(frozen=True)
class Pair:
    name: str
    before: Path
    after: Path
    label: Path


@dataclass
class Tally:
    """Pixel counts of the change class."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        self.tp += int((predicted & truth).sum())
        self.fp += int((predicted & ~truth).sum())
        self.fn += int((~predicted & truth).sum())
        self.tn += int((~predicted & ~truth).sum())

    def scores(self) -> dict[str, float]:
        """Precision, recall, F1 and IoU; each 0 where it is undefined (nothing predicted,
        nothing true)."""
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        union = self.tp + self.fp + self.fn
        return {"precision": p, "recall": r, "f1": f1, "iou": self.tp / union if union else 0.0}


def find_pairs(folder: Path) -> list[Pair]:
    """The pairs of a LEVIR-layout folder, by name; anything incomplete is an error naming it."""
    folder = Path(folder)
    missing = [name for name in FOLDERS if not (folder / name).is_dir()]
    if missing:
        raise DatasetNotFoundError(
            f"{folder}: no {', '.join(f'{m}/' for m in missing)} folder (the LEVIR-CD layout: "
            "A/, B/ and label/ holding same-named images)"
        )
    files = {name: _images(folder / name) for name in FOLDERS}
    for name in ("B", "label"):
        for stem in sorted(files["A"].keys() - files[name].keys())[:1]:
            raise BadInputError(folder / "A" / files["A"][stem].name, f"has no partner in {name}/")
        for stem in sorted(files[name].keys() - files["A"].keys())[:1]:
            raise BadInputError(folder / name / files[name][stem].name, "has no partner in A/")
    if not files["A"]:
        raise BadInputError(folder / "A", "holds no images (png, jpg, tif)")
    return [
        Pair(stem, files["A"][stem], files["B"][stem], files["label"][stem])
        for stem in sorted(files["A"])
    ]


def evaluate_pairs(
    folder: Path,
    method: ChangeMethod = ChangeMethod.CVA,
    progress: Callable[[str], None] | None = None,
    model: Path | None = None,
) -> dict[str, Any]:
    """Score ``method`` on every pair of ``folder``: pooled and per-pair metrics (``model``:
    a change model file other than the shipped one, for the model method)."""
    pooled = Tally()
    per_pair = []
    for pair in find_pairs(folder):
        before, after = _read(pair.before), _read(pair.after)
        truth = _label(pair.label)
        if not before.shape[:2] == after.shape[:2] == truth.shape:
            raise BadInputError(
                pair.before,
                f"A, B and label differ in size ({before.shape[:2]}, {after.shape[:2]}, "
                f"{truth.shape})",
            )
        if before.shape[2:] != after.shape[2:]:
            raise BadInputError(pair.after, "A and B differ in their number of bands")
        predicted = change_map(before, after, method, model=model).mask
        tally = Tally()
        tally.add(predicted, truth)
        pooled.add(predicted, truth)
        per_pair.append({"name": pair.name, **tally.scores(), "changed_truth": int(truth.sum())})
        if progress:
            progress(pair.name)
    return {
        **pooled.scores(),
        "method": str(method),
        **({"model": change_model(model).version} if method == ChangeMethod.MODEL else {}),
        "pairs": len(per_pair),
        "pixels": pooled.tp + pooled.fp + pooled.fn + pooled.tn,
        "per_pair": per_pair,
    }


def _images(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in out:
            raise BadInputError(path, f"two images named {path.stem!r} in {folder.name}/")
        out[path.stem] = path
    return out


def _read(path: Path) -> np.ndarray:
    """An image as (H, W, C) numbers: plain pictures by Pillow, rasters by rasterio."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import rasterio

        try:
            with rasterio.open(path) as ds:
                return np.moveaxis(ds.read(), 0, -1)
        except rasterio.errors.RasterioIOError as exc:
            raise BadInputError(path, f"cannot read raster ({exc})") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
    except (OSError, UnidentifiedImageError) as exc:
        raise BadInputError(path, f"cannot decode image ({exc})") from None
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _label(path: Path) -> np.ndarray:
    """A change label as booleans: 255 (or 1) = change, 0 = no change; anything else is
    refused (a label saved as JPEG, or a multi-class map, would be scored wrongly)."""
    pixels = _read(path)
    if pixels.shape[2] > 1 and np.any(pixels != pixels[..., :1]):  # grey saved as RGB is fine
        raise BadInputError(path, "a change label must be one band (0 and 255)")
    grey = pixels[..., 0]
    values = set(np.unique(grey).tolist())
    if not values <= {0, 255} and not values <= {0, 1}:
        shown = ", ".join(str(v) for v in sorted(values)[:6])
        raise BadInputError(
            path, f"label values must be 0 and 255 (or 0 and 1), found {shown}",
            "save labels losslessly (PNG), not as JPEG",
        )  # fmt: skip
    return grey > 0
