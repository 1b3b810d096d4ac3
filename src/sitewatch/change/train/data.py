"""Training pairs for the change model: real dates of real places, with changes of a known
outline placed into them (the single-temporal supervision of STAR/ChangeStar).

Three kinds of source, each a list of ``Place``:
- registered dates of one place (airport acquisitions): what is
  *not* change, for real — another sun, season, sensor, view angle, a registration residual.
  Changes that are not of the trained kind (aircraft that moved) are ``ignore``.
- one date with its building outlines (Joplin before the tornado, footprints rasterised):
  buildings are cut out as sprites, and removed from a copy of the date by inpainting.
- the sprites, pasted into one date of a pair with a soft edge and a shadow, are new
  buildings; their outline is the label. Swapping the dates makes them demolished.

Every sample is drawn from a generator seeded by (seed, step), so training resumes exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sitewatch.change.model import standardised
from sitewatch.errors import BadInputError

MIN_SPRITE_PX = 40  # at the source GSD: a shed of ~15 m² at 0.6 m
MIN_SPRITE_CONTRAST = 10.0  # grey levels between a roof and the ground around it


@dataclass(frozen=True)
class Place:
    """Co-registered dates of one place (at least one), on one pixel grid."""

    dates: tuple[np.ndarray, ...]  # (H, W, 3) uint8 each
    group: str  # the place, for validation on whole places
    gsd: float  # metres per pixel
    ignore: np.ndarray | None = None  # (H, W) bool: neither change nor not (moved aircraft)
    buildings: np.ndarray | None = None  # (H, W) int32 building ids (0: none), on dates[0]

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.dates[0].shape[:2]
        return h, w


@dataclass(frozen=True)
class Sprite:
    """A building cut from a real date: its pixels and outline."""

    pixels: np.ndarray  # (h, w, 3) uint8
    mask: np.ndarray  # (h, w) bool
    gsd: float
    group: str


@dataclass(frozen=True)
class Sample:
    before: np.ndarray  # (3, S, S) float32 in 0…1
    after: np.ndarray
    label: np.ndarray  # (S, S) float32: 1 change, 0 none
    weight: np.ndarray  # (S, S) float32: 0 where neither (ignored, outside both dates)


# -- sprites -----------------------------------------------------------------------------


def sprites_of(place: Place) -> list[Sprite]:
    """Every building of ``place`` that stands out from the ground around it (a footprint of
    another year over a lawn does not) and lies wholly inside the date."""
    assert place.buildings is not None
    img, ids = place.dates[0], place.buildings
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    out = []
    h, w = ids.shape
    for i, (ys, xs) in enumerate(_boxes(ids)):
        y0, y1 = max(ys.start - 3, 0), min(ys.stop + 3, h)
        x0, x1 = max(xs.start - 3, 0), min(xs.stop + 3, w)
        if y0 == 0 or x0 == 0 or y1 == h or x1 == w:
            continue  # cut by the date's edge
        window = ids[y0:y1, x0:x1]
        mask = window == i + 1
        if mask.sum() < MIN_SPRITE_PX:
            continue
        if not _stands_out(gray[y0:y1, x0:x1], window, i + 1):
            continue  # another year's footprint over a lawn, or walls touching
        out.append(Sprite(img[y0:y1, x0:x1].copy(), mask, place.gsd, place.group))
    return out


def _boxes(ids: np.ndarray) -> list[tuple[slice, slice]]:
    """The bounding slices of ids 1…max (``scipy.ndimage.find_objects``, None for gaps)."""
    from scipy.ndimage import find_objects

    return [b if b is not None else (slice(0, 0), slice(0, 0)) for b in find_objects(ids)]


# -- one sample --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """How samples are drawn: the share of each kind of place, and how many changes."""

    pairs: float = 0.5  # two real dates (airports, seasons)
    buildings: float = 0.5  # one date with buildings, against itself
    quiet: float = 0.2  # samples with no change at all (pure nuisance)
    most_added: int = 5
    most_removed: int = 4
    # patches of ground moved onto other ground (new grass, bare soil, a mown field): a
    # change of the land, not of what is built on it, so not labelled (as LEVIR-CD does)
    most_distractors: int = 3
    most_persisting: int = 2  # pasted into both dates: a pasted building is no change itself
    # another season or year on the land (``_season``): the share of samples with it
    season: float = 0.5
    scale: tuple[float, float] = (0.6, 1.6)  # resampling of the crop (GSD jitter)


def draw(
    places: list[Place],
    sprites: list[Sprite],
    size: int,
    rng: np.random.Generator,
    mix: Mix = Mix(),
) -> Sample:
    """One training pair of ``size`` × ``size`` pixels with its change label."""
    pairs = [p for p in places if len(p.dates) >= 2]
    built = [p for p in places if p.buildings is not None]
    use_pairs = bool(pairs) and (
        not built or rng.random() < mix.pairs / (mix.pairs + mix.buildings)
    )
    place = pairs[rng.integers(len(pairs))] if use_pairs else built[rng.integers(len(built))]
    scale = float(np.exp(rng.uniform(*np.log(mix.scale))))
    span = min(round(size / scale), *place.shape)
    h, w = place.shape
    y, x = int(rng.integers(0, h - span + 1)), int(rng.integers(0, w - span + 1))
    window = np.s_[y : y + span, x : x + span]
    quiet = rng.random() < mix.quiet
    label = np.zeros((span, span), bool)
    sun = rng.uniform(0.1, 0.5) * rng.choice([-1, 1], 2)  # one sun for every shadow cast
    if use_pairs:
        i, j = rng.choice(len(place.dates), 2, replace=False)
        a, b = place.dates[i][window].copy(), place.dates[j][window].copy()
        ignore = np.zeros((span, span), bool) if place.ignore is None else place.ignore[window]
        ground, ids, f = ~ignore, None, 0.5  # a residual on top of a real registration's own
        if rng.random() < mix.season:
            _season(b, ignore, rng)
    else:
        assert place.buildings is not None
        a = place.dates[0][window].copy()
        ids = place.buildings[window]
        b, ignore, ground, f = a.copy(), np.zeros((span, span), bool), ids == 0, 1.0
        if rng.random() < mix.season:
            _season(b, cv2.dilate((ids > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0, rng)
        for _ in range(int(rng.integers(0, mix.most_distractors + 1))):
            _distract(b, ground, rng)
        if not quiet:
            label |= _remove(b, ids, rng, int(rng.integers(0, mix.most_removed + 1)))
    if sprites:
        # buildings that stand in both dates are no change, however they were placed
        for _ in range(int(rng.integers(0, mix.most_persisting + 1))):
            sprite = sprites[rng.integers(len(sprites))]
            both = _paste(a, sprite, place.gsd, rng, ground, sun, also=b)
            ground = ground & (cv2.dilate(both.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0)
        if not quiet:
            for _ in range(int(rng.integers(1 if use_pairs else 0, mix.most_added + 1))):
                sprite = sprites[rng.integers(len(sprites))]
                label |= _paste(b, sprite, place.gsd, rng, ground, sun)
    # every edit is made before the residual, so no pixel of b escapes its resampling
    m = _residual(rng, span, f)
    b, label = _warp(b, m), _warp(label.astype(np.uint8), m, nearest=True) > 0
    if rng.random() < 0.5:
        a, b = b, a  # new buildings become demolished ones
    a, b = _look(a, rng), _look(b, rng)
    weight: np.ndarray = (~ignore).astype(np.float32)
    # the edge of a change (the soft alpha, walls and eaves) is neither change nor not
    edge = cv2.dilate(label.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    edge &= cv2.erode(label.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0
    weight[edge] = 0
    if span != size:
        a, b = (cv2.resize(v, (size, size), interpolation=cv2.INTER_AREA) for v in (a, b))
        label = cv2.resize(label.astype(np.float32), (size, size)) > 0.5
        weight = cv2.resize(weight, (size, size), interpolation=cv2.INTER_NEAREST)
    k, flip = int(rng.integers(4)), rng.random() < 0.5
    out = []
    for v in (a, b, label.astype(np.float32), weight):
        v = np.rot90(v, k)
        out.append(np.ascontiguousarray(v[:, ::-1] if flip else v))
    a, b, label_f, weight = out
    # as the model will see them (``standardised``; every pixel here holds data)
    return Sample(
        standardised(a.transpose(2, 0, 1).astype(np.float32) / 255),
        standardised(b.transpose(2, 0, 1).astype(np.float32) / 255),
        label_f,
        weight,
    )


def _residual(rng: np.random.Generator, size: int, f: float) -> np.ndarray:
    """A registration residual as an affine matrix: a shift of up to 1.5 px, a little
    rotation and scale (``f`` of that)."""
    angle = rng.uniform(-0.4, 0.4) * f
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1 + rng.uniform(-0.01, 0.01) * f)
    return (
        np.asarray(m, np.float64)
        + np.array([[0, 0, 1], [0, 0, 1]]) * rng.uniform(-1.5, 1.5, (2, 1)) * f
    )


def _warp(img: np.ndarray, m: np.ndarray, nearest: bool = False) -> np.ndarray:
    h, w = img.shape[:2]
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    src = img.astype(np.float32) if nearest else img  # ids: OpenCV warps no int32
    out = cv2.warpAffine(src, m, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)
    return out.astype(img.dtype)


def _distract(img: np.ndarray, ground: np.ndarray, rng: np.random.Generator) -> None:
    """A blob of ``img``'s own ground copied onto other ground (soft, irregular edge),
    where it covers no building at either end."""
    h, w = ground.shape
    r = int(rng.integers(6, max(7, min(h, w) // 5)))
    if 2 * r + 2 >= min(h, w):
        return
    blob = np.zeros((2 * r, 2 * r), np.float32)
    noise = cv2.GaussianBlur(rng.normal(0, 1, blob.shape).astype(np.float32), (0, 0), r / 3)
    yy, xx = np.mgrid[-r:r, -r:r] / r
    blob = ((xx**2 + yy**2) + 0.4 * noise / (np.abs(noise).max() + 1e-6) < 0.8).astype(np.float32)
    (sy, sx), (ty, tx) = (rng.integers(0, [h - 2 * r, w - 2 * r]) for _ in range(2))
    src, dst = np.s_[sy : sy + 2 * r, sx : sx + 2 * r], np.s_[ty : ty + 2 * r, tx : tx + 2 * r]
    inside = blob > 0
    if not (ground[src][inside].all() and ground[dst][inside].all()):
        return
    alpha = cv2.GaussianBlur(blob, (0, 0), 1.5)[..., None]
    moved = alpha * img[src].astype(np.float32) + (1 - alpha) * img[dst].astype(np.float32)
    img[dst] = np.clip(moved, 0, 255).astype(np.uint8)


def _season(img: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> None:
    """Another season or year on the land, in place: a few large regions of one colour
    (fields, lawns, water, bare ground, paving) each take on, in part, the colour of
    another land cover of the same image (a field turned from green to straw, a lawn
    browned, a pond silted), their grain stronger or weaker, their edges moved by a few
    pixels (a shore at another water level, a field's headland). Not change, as LEVIR-CD
    does not label it. Roofs are far smaller than the regions, and what stands out inside
    one keeps its colour; bright surfaces (roofs, concrete) are left as they are, and
    ``keep`` (buildings, ignored ground) is never touched."""
    h, w = img.shape[:2]
    sh, sw = max(h // 4, 8), max(w // 4, 8)
    small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    pixels = cv2.cvtColor(small.astype(np.float32) / np.float32(255), cv2.COLOR_RGB2LAB)
    pixels = pixels.reshape(-1, 3)
    k = int(rng.integers(3, 8))
    # k-means seeded from the sample's generator: the same step draws the same regions
    centres = pixels[rng.choice(len(pixels), k, replace=False)].copy()
    for _ in range(6):
        classes = ((pixels[:, None] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
        for c in range(k):
            if (classes == c).any():
                centres[c] = pixels[classes == c].mean(axis=0)
    classes_img = cv2.medianBlur(classes.reshape(sh, sw).astype(np.uint8), 3)
    classes_img = cv2.resize(classes_img, (w, h), interpolation=cv2.INTER_NEAREST)
    smallest = max(0.04 * h * w, 2500.0)  # far above a roof at 0.3–1 m
    regions = []
    for c in range(k):
        if centres[c, 0] > 75:
            continue  # bright: roofs and concrete, not land that greens and browns
        n, comp, stats, _ = cv2.connectedComponentsWithStats((classes_img == c).astype(np.uint8))
        regions += [(c, comp == i) for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= smallest]
    if not regions or k < 2:
        return
    lab = cv2.cvtColor(img.astype(np.float32) / np.float32(255), cv2.COLOR_RGB2LAB)
    out, touched = lab.copy(), np.zeros((h, w), bool)
    # what stands out from the land around it (a roof, a car, a tree: smaller than 20 px
    # across) is not land cover, and keeps its colour; a straight edge between two
    # fields does not stand out from its own side's median
    lab8 = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    local = np.sqrt(((lab8.astype(np.float32) - cv2.medianBlur(lab8, 41)) ** 2).sum(axis=2))
    spots = cv2.morphologyEx(
        (local > 25).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
    )
    round5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    odd = cv2.dilate(spots, round5) > 0
    # the land's new colour fades in around them, in their own shape (no box, no seam)
    spare = 1 - cv2.GaussianBlur(odd.astype(np.float32), (0, 0), 1.5)
    for i in rng.permutation(len(regions))[: int(rng.integers(1, 5))]:
        c, region = regions[i]
        mask = region.astype(np.uint8)
        r = int(rng.integers(-4, 5))  # the region's edge moves by up to 4 px either way
        if r:
            op = cv2.dilate if r > 0 else cv2.erode
            mask = op(mask, np.ones((2 * abs(r) + 1,) * 2, np.uint8))
        mask[odd] = 0
        inside = mask > 0
        if not inside.any():
            continue
        alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), rng.uniform(0.7, 2.0))
        alpha *= spare
        alpha[keep | odd] = 0
        other = centres[rng.choice([j for j in range(k) if j != c])]
        target = other + rng.uniform(-4, 4, 3).astype(np.float32)
        mean = lab[inside].mean(axis=0)
        recoloured = target + (lab - mean) * np.float32(rng.uniform(0.5, 1.5))
        share = np.float32(rng.uniform(0.35, 1.0))
        out += (share * alpha)[..., None] * (recoloured - out)
        touched |= alpha > 1e-3
    rgb = cv2.cvtColor(np.clip(out, [0, -127, -127], [100, 127, 127]).astype(np.float32),
                       cv2.COLOR_LAB2RGB)  # fmt: skip
    img[touched] = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)[touched]


def _remove(img: np.ndarray, ids: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """Up to ``n`` whole buildings of ``img`` that stand out from the ground (a footprint of
    another year may not match this date's roof) replaced by ground: a patch of the date's
    own open ground where one fits, else inpainted with the ground's grain. Walls, eaves and
    the near shadow go too. Returns their outline."""
    h, w = ids.shape
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    whole = []
    for i, (ys, xs) in enumerate(_boxes(ids), start=1):
        if ys.stop == 0 or ys.start == 0 or xs.start == 0 or ys.stop == h or xs.stop == w:
            continue  # absent, or cut by the crop
        if _stands_out(gray[ys, xs], ids[ys, xs], i):
            whole.append(i)
    gone = np.zeros((h, w), bool)
    if not whole or n == 0:
        return gone
    ground = ids == 0
    for i in rng.choice(whole, min(n, len(whole)), replace=False):
        mask = ids == i
        gone |= mask
        hole = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        rows, cols = np.nonzero(hole)
        y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        local = hole[y0:y1, x0:x1]
        alpha = cv2.GaussianBlur(local.astype(np.float32), (0, 0), 1.2)[..., None]
        fill = _ground_patch(img, ground & ~hole, local, rng)
        if fill is None:
            filled = cv2.inpaint(img, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)[y0:y1, x0:x1]
            noise = rng.normal(0, rng.uniform(3, 9), filled.shape).astype(np.float32)
            fill = filled + cv2.GaussianBlur(noise, (0, 0), rng.uniform(0.6, 1.5))
        region = img[y0:y1, x0:x1].astype(np.float32)
        img[y0:y1, x0:x1] = np.clip(alpha * fill + (1 - alpha) * region, 0, 255).astype(np.uint8)
    return gone


def _stands_out(gray: np.ndarray, ids: np.ndarray, i: int) -> bool:
    """Building ``i``'s roof differs from the open ground around it (grey levels)."""
    mask = ids == i
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ring &= ~mask & (ids == 0)
    if mask.sum() < 8 or ring.sum() < 8:
        return False
    return abs(float(gray[mask].mean()) - float(gray[ring].mean())) >= MIN_SPRITE_CONTRAST


def _ground_patch(
    img: np.ndarray, ground: np.ndarray, shape: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """Pixels of ``img`` under ``shape`` placed somewhere all ground, or None (ten tries)."""
    h, w = ground.shape
    sh, sw = shape.shape
    if sh >= h or sw >= w:
        return None
    for _ in range(10):
        y, x = int(rng.integers(0, h - sh)), int(rng.integers(0, w - sw))
        if ground[y : y + sh, x : x + sw][shape].all():
            return img[y : y + sh, x : x + sw].astype(np.float32)
    return None


def _paste(
    img: np.ndarray,
    sprite: Sprite,
    gsd: float,
    rng: np.random.Generator,
    ground: np.ndarray,
    sun: np.ndarray,
    also: np.ndarray | None = None,
) -> np.ndarray:
    """``sprite`` placed on ``ground`` of ``img`` (at ``img``'s GSD, with jitter in size,
    turn, roof colour, a soft edge and a shadow cast away from ``sun``, a fraction of its
    size per axis), and the same into ``also`` where given; returns its outline (empty
    where it found no room)."""
    h, w = img.shape[:2]
    s = sprite.gsd / gsd * rng.uniform(0.75, 1.35)
    px, mask = sprite.pixels, sprite.mask.astype(np.float32)
    k = int(rng.integers(4))
    px, mask = np.rot90(px, k), np.rot90(mask, k)
    sh, sw = max(round(px.shape[0] * s), 3), max(round(px.shape[1] * s), 3)
    if sh >= h - 2 or sw >= w - 2:
        return np.zeros((h, w), bool)
    px = np.asarray(cv2.resize(np.ascontiguousarray(px), (sw, sh), interpolation=cv2.INTER_AREA))
    mask = np.asarray(cv2.resize(np.ascontiguousarray(mask), (sw, sh)))
    for _ in range(10):  # a spot on open ground
        y, x = int(rng.integers(1, h - sh - 1)), int(rng.integers(1, w - sw - 1))
        if ground[y : y + sh, x : x + sw][mask > 0.5].all():
            break
    else:
        return np.zeros((h, w), bool)
    roof = px.astype(np.float32) * rng.uniform(0.75, 1.25, 3) + rng.uniform(-20, 20)
    if rng.random() < 0.3:
        roof = roof[..., rng.permutation(3)]  # another roof colour
    alpha = cv2.GaussianBlur(mask, (0, 0), 0.6)[..., None]
    # the shadow falls beside the building, away from the sun, and is not part of it
    dy, dx = (sun * np.array([sh, sw])).astype(int)
    shadow = np.zeros((h + 2 * sh, w + 2 * sw), np.float32)  # room for a shadow off the edge
    shadow[sh + y + dy : sh + y + dy + sh, sw + x + dx : sw + x + dx + sw] = mask
    shadow = shadow[sh : sh + h, sw : sw + w]
    shadow = cv2.GaussianBlur(shadow, (0, 0), 1.0) * rng.uniform(0.3, 0.6)
    for target in (img,) if also is None else (img, also):
        dark = target.astype(np.float32) * (1 - shadow[..., None])
        under = dark[y : y + sh, x : x + sw]
        dark[y : y + sh, x : x + sw] = alpha * np.clip(roof, 0, 255) + (1 - alpha) * under
        target[...] = np.clip(dark, 0, 255).astype(np.uint8)
    outline = np.zeros((h, w), bool)
    outline[y : y + sh, x : x + sw] = mask > 0.5
    return outline


def _look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another sensor and light: gain, offset, white balance, gamma, saturation, haze,
    blur, noise and JPEG, drawn for each date on its own."""
    x = img.astype(np.float32) / np.float32(255)
    gray = x.mean(axis=2, keepdims=True)
    x = gray + (x - gray) * rng.uniform(0.6, 1.4)
    x = (x - x.mean()) * rng.uniform(0.7, 1.3) + x.mean() + rng.uniform(-0.12, 0.12)
    x = x * rng.uniform(0.88, 1.12, size=(1, 1, 3))
    if rng.random() < 0.2:
        x = x * (1 - (haze := rng.uniform(0.05, 0.3))) + haze * rng.uniform(0.6, 0.9)
    x = np.clip(x, 0, 1) ** rng.uniform(0.75, 1.33)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(0.005, 0.025), x.shape).astype(np.float32)
    out = (np.clip(x, 0, 1) * 255).astype(np.uint8)
    if rng.random() < 0.5:
        quality = int(rng.integers(35, 95))
        buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR))[..., ::-1]
    return out


# -- loading ----------------------------------------------------------------------------


def load_levir(root: Path, group: str, gsd: float) -> list[Place]:
    """Registered pairs in the LEVIR-CD layout (A/, B/, label/), as ``bench/change_pairs.py``
    writes them from airport dates: the label (moved aircraft) is ``ignore`` here, since
    the model learns structures, not vehicles. The first group of regular expression
    ``group`` in a file's stem names its place (the airport of an acquisition); files it
    does not match are left out."""
    import re

    from PIL import Image

    pattern = re.compile(group)
    if pattern.groups < 1:
        raise BadInputError(group, "the pattern has no group to name a place", "e.g. ^(site-\\d+)")
    out = []
    for a_path in sorted((root / "A").glob("*.png")):
        found = pattern.search(a_path.stem)
        if found is None:
            continue
        a = np.asarray(Image.open(a_path).convert("RGB"))
        b = np.asarray(Image.open(root / "B" / a_path.name).convert("RGB"))
        label = np.asarray(Image.open(root / "label" / a_path.name).convert("L")) > 0
        ignore = cv2.dilate(label.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        out.append(Place((a, b), found.group(1), gsd, ignore=ignore))
    return out


def load_buildings(tiles: list[Path], footprints: Path) -> list[Place]:
    """Georeferenced dates with building footprints (GeoJSON in lon/lat, RFC 7946), the
    buildings rasterised as ids on each date's grid; one place per tile."""
    import json

    import rasterio
    from rasterio.features import rasterize
    from shapely.geometry import shape

    from sitewatch import geo

    shapes = [shape(f["geometry"]) for f in json.loads(footprints.read_text())["features"]]
    out = []
    for tile in tiles:
        with rasterio.open(tile) as src:
            rgb = np.ascontiguousarray(src.read([1, 2, 3]).transpose(1, 2, 0))
            crs = geo.checked_crs(src.crs.to_wkt())
            native = (geo.reproject(g, geo.WGS84, crs) for g in shapes)
            ids = rasterize(
                ((g, i + 1) for i, g in enumerate(native) if not g.is_empty),
                out_shape=rgb.shape[:2],
                transform=src.transform,
                dtype="int32",
            )
            gsd = geo.gsd_metres(tuple(src.transform)[:6], src.width, src.height, crs)
        out.append(Place((rgb,), tile.stem, float(gsd), buildings=_compact(ids)))
    return out


def _compact(ids: np.ndarray) -> np.ndarray:
    """Building ids renumbered 1…n over those present."""
    present = np.unique(ids)
    lookup = np.zeros(int(present.max()) + 1, np.int32)
    lookup[present[present > 0]] = np.arange(1, int((present > 0).sum()) + 1, dtype=np.int32)
    return lookup[ids]
