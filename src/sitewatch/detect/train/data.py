"""Training data: scenes at model scale (with a satellite-like degradation for aerial
sources), site-wise folds, crops with augmentation, targets."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sitewatch.detect.train.dataset import Sample
from sitewatch.learn.folds import group_folds
from sitewatch.scene import load_scaled


def _empty() -> np.ndarray:
    return np.zeros((0, 4), np.float32)


@dataclass
class Scene:
    """One training scene at model scale: pixels (H, W, 3 uint8), boxes (N, 4) x0 y0 x1 y1,
    the model class of each box, and ignore boxes (difficult or crowd: neither positive nor
    negative)."""

    name: str
    site: str
    pixels: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # none: 0s
    ignore: np.ndarray = field(default_factory=_empty)

    def __post_init__(self) -> None:
        if not len(self.classes):
            self.classes = np.zeros(len(self.boxes), np.int64)
        elif len(self.classes) != len(self.boxes):
            raise ValueError(
                f"{self.name}: {len(self.classes)} classes for {len(self.boxes)} boxes"
            )


def read_sites(data: Path) -> dict[str, tuple[str, str, bool]]:
    """image file → (site id, acquisition id, annotated) from the Airbus ``sites.csv``."""
    with open(data / "sites.csv", newline="") as fh:
        return {
            r["image_id"]: (r["site_id"], r["acquisition_id"], r["annotated"] == "1")
            for r in csv.DictReader(fh)
        }


def site_folds(sites: dict[str, tuple[str, str, bool]], k: int = 5) -> dict[str, int]:
    """Deterministic site-wise folds: whole airports, balanced by annotated image count."""
    counts: dict[str, int] = {}
    for site, _acq, annotated in sites.values():
        counts[site] = counts.get(site, 0) + int(annotated)
    return group_folds(counts, k)


def degrade(pixels: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Resample a sharp aerial/drone image by ``scale`` (< 1) the way a satellite sensor
    would see the ground: optics and detector blur (a Gaussian of about 0.6 output pixels,
    which puts the MTF at Nyquist near 0.2, typical of VHR satellites, where a bare resize
    keeps an aerial camera's crispness), area sampling, sensor noise and JPEG compression
    as delivered by imagery providers."""
    import cv2

    sigma = rng.uniform(0.45, 0.75) / scale  # in source pixels
    blurred = cv2.GaussianBlur(pixels, (0, 0), sigma)
    h, w = pixels.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(blurred, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small += rng.normal(0, rng.uniform(1.0, 3.0), small.shape)
    out = np.clip(small, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(
        ".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 95))]
    )
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR) if ok else None
    return decoded[:, :, ::-1].copy() if decoded is not None else out


def load_scenes(
    samples: list[Sample], gsd: float, satellite: bool = False, seed: int = 0
) -> list[Scene]:
    """Samples at the model's GSD (``gsd`` metres per model pixel), boxes scaled alike.

    ``satellite`` degrades sources finer than the model's GSD like a satellite sensor
    (``degrade``); otherwise pixels are area-resampled (JPEGs via their reduced DCT)."""
    scenes = []
    for i, sample in enumerate(samples):
        scale = sample.gsd_m / gsd
        _check_size(sample, scale)
        factor: np.ndarray | np.float32 = np.float32(scale)
        if satellite and scale < 1:
            full = load_scaled(sample.path, 1.0)
            pixels = degrade(full, scale, np.random.default_rng([seed, i]))
            # the exact ratio of the rounded sizes, so boxes sit on the same pixels
            factor = np.array(
                [pixels.shape[1] / full.shape[1], pixels.shape[0] / full.shape[0]] * 2,
                np.float32,
            )
        else:
            pixels = load_scaled(sample.path, scale)
        h, w = pixels.shape[:2]
        boxes = _clip(sample.boxes * factor, w, h)
        ignore = _clip(sample.ignore * factor, w, h)
        keep = (boxes[:, 2] - boxes[:, 0] > 0) & (boxes[:, 3] - boxes[:, 1] > 0)
        scenes.append(
            Scene(sample.file_name, sample.group, pixels, boxes[keep], sample.classes[keep], ignore)
        )
    return scenes


MAX_PIXELS = 250_000_000  # one scene at model scale: ~750 MB of RGB


def _check_size(sample: Sample, scale: float) -> None:
    """Refuse a scene that would not fit in memory at the model's GSD, before decoding."""
    from PIL import Image

    from sitewatch.errors import BadInputError

    with Image.open(sample.path) as im:
        w, h = im.size
    if w * h * max(scale, 1.0) ** 2 > MAX_PIXELS:
        raise BadInputError(
            sample.path,
            f"{w}×{h} px at {sample.gsd_m} m would be {round(w * scale)}×{round(h * scale)} px "
            "at the model's GSD",
            "train at a coarser --gsd, or cut the image into tiles",
        )


def _clip(boxes: np.ndarray, w: int, h: int) -> np.ndarray:
    b = boxes.astype(np.float32).copy()
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
    return b


# -- augmentation ------------------------------------------------------------------------


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def sample_crop(
    scene: Scene, size: int, rng: np.random.Generator, scale_range: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A square crop (resized to ``size``) around an object or anywhere, with its boxes.

    Returns pixels, kept boxes, ignore boxes (objects cut so much that they are neither
    positives nor negatives, and the scene's own ignore boxes) and the kept boxes' classes.
    """
    s = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
    side = min(round(size / s), *scene.pixels.shape[:2])
    h, w = scene.pixels.shape[:2]
    if len(scene.boxes) and rng.random() < 0.7:
        b = scene.boxes[rng.integers(len(scene.boxes))]
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        x0 = int(np.clip(cx - rng.uniform(0.1, 0.9) * side, 0, w - side))
        y0 = int(np.clip(cy - rng.uniform(0.1, 0.9) * side, 0, h - side))
    else:
        x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    crop = scene.pixels[y0 : y0 + side, x0 : x0 + side]
    factor = size / side
    crop = _resize(crop, size) if side != size else crop.copy()
    boxes = scene.boxes - np.array([x0, y0, x0, y0], dtype=np.float32)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, side)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, side)
    visible = (clipped[:, 2] - clipped[:, 0]).clip(0) * (clipped[:, 3] - clipped[:, 1]).clip(0)
    frac = visible / np.maximum(area, 1e-6)
    keep = clipped[frac >= 0.45] * factor
    ignore = clipped[(frac > 0.02) & (frac < 0.45)] * factor
    if len(scene.ignore):
        extra = scene.ignore - np.array([x0, y0, x0, y0], dtype=np.float32)
        extra[:, [0, 2]] = extra[:, [0, 2]].clip(0, side)
        extra[:, [1, 3]] = extra[:, [1, 3]].clip(0, side)
        extra = extra[(extra[:, 2] > extra[:, 0]) & (extra[:, 3] > extra[:, 1])] * factor
        ignore = np.concatenate([ignore, extra.astype(np.float32)])
    return crop, keep, ignore, scene.classes[frac >= 0.45]


def augment(
    img: np.ndarray, boxes: np.ndarray, ignore: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flips, 90° rotations and photometric jitter (brightness, contrast, saturation, gamma,
    blur, noise): satellite scenes have no canonical up and vary in sensor and light."""
    size = img.shape[0]

    def flip_lr(b: np.ndarray) -> np.ndarray:
        return np.stack([size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3]], 1)

    def rot90(b: np.ndarray) -> np.ndarray:  # matches np.rot90(img, 1): (x, y) → (y, size - x)
        return np.stack([b[:, 1], size - b[:, 2], b[:, 3], size - b[:, 0]], 1)

    if rng.random() < 0.5:
        img, boxes, ignore = img[:, ::-1], flip_lr(boxes), flip_lr(ignore)
    for _ in range(int(rng.integers(0, 4))):
        img, boxes, ignore = np.rot90(img), rot90(boxes), rot90(ignore)
    x = img.astype(np.float32) / 255.0
    gray = x.mean(axis=2, keepdims=True)
    x = gray + (x - gray) * rng.uniform(0.6, 1.4)  # saturation
    x = (x - x.mean()) * rng.uniform(0.7, 1.3) + x.mean() + rng.uniform(-0.12, 0.12)
    x = x * rng.uniform(0.9, 1.1, size=(1, 1, 3))  # white balance
    x = np.clip(x, 0, 1) ** rng.uniform(0.75, 1.33)
    if rng.random() < 0.2:
        import cv2

        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.2))
    if rng.random() < 0.2:
        x = x + rng.normal(0, rng.uniform(0.005, 0.03), x.shape).astype(np.float32)
    return np.clip(x, 0, 1).astype(np.float32), boxes.astype(np.float32), ignore


# -- targets -----------------------------------------------------------------------------


def gaussian_radius(w: float, h: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: the centre may move this far and the box still reaches the IoU."""
    a1, b1 = 1, h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4, 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def encode_targets(
    boxes: np.ndarray,
    ignore: np.ndarray,
    size: int,
    stride: int,
    max_objects: int = 256,
    classes: np.ndarray | None = None,
    num_classes: int = 1,
) -> dict[str, np.ndarray]:
    """Heatmap per class (with ignore weight), and size/offset targets at object centres."""
    out = size // stride
    heat = np.zeros((num_classes, out, out), np.float32)
    labels = np.zeros(len(boxes), np.int64) if classes is None else classes
    weight = np.ones((1, out, out), np.float32)
    for x0, y0, x1, y1 in ignore / stride:
        weight[0, int(y0) : math.ceil(y1), int(x0) : math.ceil(x1)] = 0
    index = np.zeros(max_objects, np.int64)
    wh = np.zeros((max_objects, 2), np.float32)
    offset = np.zeros((max_objects, 2), np.float32)
    mask = np.zeros(max_objects, np.float32)
    ys, xs = np.ogrid[:out, :out]
    for i, (x0, y0, x1, y1) in enumerate(boxes[:max_objects]):
        bw, bh = x1 - x0, y1 - y0
        if bw < 2 or bh < 2:
            continue
        cx, cy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride
        ix, iy = min(int(cx), out - 1), min(int(cy), out - 1)
        sigma = max(0.0, gaussian_radius(bw / stride, bh / stride)) / 3 + 0.35
        g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
        c = int(labels[i])
        np.maximum(heat[c], g, out=heat[c])
        weight[0, iy, ix] = 1
        index[i] = iy * out + ix
        wh[i] = (math.log(bw), math.log(bh))
        offset[i] = (cx - ix, cy - iy)
        mask[i] = 1
    # objects inside ignore areas still count
    weight = np.maximum(weight, heat.max(axis=0, keepdims=True) > 0.3)
    return {
        "heat": heat,
        "weight": weight.astype(np.float32),
        "index": index,
        "wh": wh,
        "offset": offset,
        "mask": mask,
    }
