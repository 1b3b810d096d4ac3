"""Recycled imagery: is this picture a new acquisition, or an earlier one edited?

A news picture passed off as new is usually an older image cropped, resized, re-saved,
colour-graded, slightly rotated, mirrored or screenshotted with a border and a caption.
Registration would match it to the earlier image, but it matches a different date of the
same place just as well; the question here is whether the *pixels* are the same.

1. **Fingerprint** (once per image): the strongest SIFT keypoints of the grey image at a
   working size (RootSIFT descriptors, half precision), with their positions.
2. **Search**: every query descriptor (and those of the mirrored query) against every
   fingerprint at once, a block of images per matrix product; an image gets a vote for each
   query keypoint whose nearest neighbour *in that image* passes the ratio test. Few images
   collect many votes.
3. **Verify** the best-voted images: a similarity (rotation, scale, shift) fitted by RANSAC
   to the voting matches; then the candidate is warped onto the query and the two are
   compared pixel by pixel in their overlap, band-passed and normalised per block so
   colour, contrast and recompression cancel. One acquisition agrees almost everywhere;
   another date of the same place does not (shadows, vehicles, aircraft, view angle).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

METHOD = "recycled-sift-1"  # recorded with findings: change it when a rule below changes
WORK_SIDE = 1024  # fingerprints and comparisons at this longest side, at most
KEEP = 400  # strongest keypoints per fingerprint in the index (the search)
DENSE = 4000  # keypoints per image when a candidate is verified (thin overlaps need many)
RATIO = 0.8
MIN_VOTES = 12  # fewer voting matches: not even a candidate
MIN_INLIERS = 12  # of the similarity fitted to the votes
BLOCK = 32  # comparison blocks, working pixels
MIN_OVERLAP = 0.05  # of the smaller image's area, for a comparison to mean anything
MIN_BLOCKS = 4  # textured blocks compared, at least
# One acquisition: the pixels agree (median block correlation) and the keypoints sit on
# one similarity to a fraction of a pixel; other dates of one place shift by parallax and
# differ in shadows and vehicles. Neither alone separates them on the odd-numbered shared
# airports (bench/verify.py --tune; 120 copies and crops, 141 other-date pairs): copies
# agree 0.93–0.99 with 0.30–0.64 px, other dates up to 0.94 with 0.53 px and more. The
# score agreement − 0.06 × RMS does (all but one copy ≥ 0.903, other dates ≤ 0.899).
RMS_WEIGHT = 0.06
SAME_SCORE = 0.90


class Reuse(StrEnum):
    """What a candidate is to the query image."""

    SAME_ACQUISITION = "same acquisition"  # the same pixels, edited
    SAME_PLACE = "same place, different acquisition"  # matched geometry, different pixels
    CANNOT_TELL = "matched, cannot tell"  # matched, but too little overlap or texture
    UNRELATED = "unrelated"


@dataclass(frozen=True)
class Fingerprint:
    """An image's keypoints (N, 2, working px), RootSIFT descriptors (N, 128, float16), its
    working size (h, w) and scale (working px per source px)."""

    points: np.ndarray
    descriptors: np.ndarray
    shape: tuple[int, int]
    scale: float

    def save(self, path: Path) -> None:
        from sitewatch.files import write_with_atomic

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, points=self.points, descriptors=self.descriptors,
                         shape=np.array(self.shape), scale=np.array(self.scale),
                         method=np.array(METHOD))  # fmt: skip

        write_with_atomic(path, write)

    @classmethod
    def load(cls, path: Path) -> Fingerprint | None:
        """A stored fingerprint, or None if it is missing, unreadable or of another method."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["method"]) != METHOD:
                    return None
                shape = tuple(int(v) for v in z["shape"])
                return cls(z["points"], z["descriptors"], (shape[0], shape[1]), float(z["scale"]))
        except (OSError, ValueError, KeyError, EOFError, IndexError, zipfile.BadZipFile):
            return None


def fingerprint(gray: np.ndarray, scale: float = 1.0, keep: int = KEEP) -> Fingerprint:
    """The fingerprint of a grey image (0 = no data) read at ``scale`` of its source: its
    ``keep`` strongest keypoints (``DENSE`` for verifying a candidate)."""
    import cv2

    from sitewatch.register import MatchConfig, extract_features

    factor = min(1.0, WORK_SIDE / max(gray.shape))
    if factor < 1.0:
        size = (max(1, round(gray.shape[1] * factor)), max(1, round(gray.shape[0] * factor)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    found = extract_features(gray, MatchConfig(features=keep))
    d = found.descriptors.astype(np.float32)
    d /= np.maximum(d.sum(axis=1, keepdims=True), 1e-9)  # RootSIFT: L1, square root
    d = np.sqrt(d)
    return Fingerprint(found.points.astype(np.float32), d.astype(np.float16),
                       (gray.shape[0], gray.shape[1]), scale * factor)  # fmt: skip


def working_gray(path: Path) -> tuple[np.ndarray, float]:
    """The image as grey at the working size, and its scale (working px per source px)."""
    from sitewatch.register import load_gray

    return load_gray(path, WORK_SIDE)


@dataclass(frozen=True)
class Candidate:
    key: str
    votes: int
    mirrored: bool


class Index:
    """Fingerprints of a catalog, searchable by one query at a time."""

    def __init__(self, entries: Iterable[tuple[str, Fingerprint]]) -> None:
        items = list(entries)
        self.keys = [k for k, _f in items]
        self.prints = dict(items)
        self._stack = np.zeros((len(items), KEEP, 128), np.float16)
        # an image with fewer than two keypoints has no ratio test: its padding would pass
        # as a distant second neighbour and it would collect votes from every query
        self._usable = np.array([len(f.descriptors) >= 2 for _k, f in items], bool)
        for i, (_k, f) in enumerate(items):
            n = min(len(f.descriptors), KEEP)
            self._stack[i, :n] = f.descriptors[:n]

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query: Fingerprint, mirrored: Fingerprint | None = None,
               exclude: str | None = None, top: int = 5) -> list[Candidate]:  # fmt: skip
        """The images with most ratio-test votes for the query (or its mirror image)."""
        votes = self._votes(query.descriptors)
        flipped = self._votes(mirrored.descriptors) if mirrored is not None else None
        found = []
        for i, key in enumerate(self.keys):
            if key == exclude:
                continue
            v, m = int(votes[i]), False
            if flipped is not None and flipped[i] > v:
                v, m = int(flipped[i]), True
            if v >= MIN_VOTES:
                found.append(Candidate(key, v, m))
        return sorted(found, key=lambda c: -c.votes)[:top]

    def _votes(self, descriptors: np.ndarray, block: int = 64) -> np.ndarray:
        q = descriptors.astype(np.float32)
        out = np.zeros(len(self.keys), np.int64)
        if len(q) < 2:
            return out
        for start in range(0, len(self.keys), block):
            chunk = self._stack[start : start + block].astype(np.float32)
            sims = (q @ chunk.reshape(-1, 128).T).reshape(len(q), len(chunk), KEEP)
            top2 = -np.partition(-sims, 1, axis=2)[..., :2]  # best and second similarity
            d1 = np.sqrt(np.maximum(2 - 2 * top2[..., 0], 0))
            d2 = np.sqrt(np.maximum(2 - 2 * top2[..., 1], 0))
            out[start : start + len(chunk)] = (d1 < RATIO * d2).sum(axis=0)
        return np.where(self._usable, out, 0)


def matches(query: Fingerprint, other: Fingerprint) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches as two (N, 2) arrays of working pixels: query's, then other's."""
    q = query.descriptors.astype(np.float32)
    o = other.descriptors.astype(np.float32)
    if len(q) < 2 or len(o) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    sims = q @ o.T
    # the two nearest of each row, in order: a partition, not a sort of 4,000 columns
    two = np.argpartition(-sims, 1, axis=1)[:, :2]
    rows = np.arange(len(q))
    swap = sims[rows, two[:, 1]] > sims[rows, two[:, 0]]
    order = np.where(swap[:, None], two[:, ::-1], two)
    d1 = np.sqrt(np.maximum(2 - 2 * sims[rows, order[:, 0]], 0))
    d2 = np.sqrt(np.maximum(2 - 2 * sims[rows, order[:, 1]], 0))
    keep = d1 < RATIO * d2
    return query.points[keep], other.points[order[keep, 0]]


@dataclass(frozen=True)
class Evidence:
    """Why a candidate is (or is not) the query's acquisition: the similarity mapping the
    query's source pixels onto the candidate's, its inliers and their RMS, the share of the
    smaller image the two share, and the pixel agreement there (median block correlation,
    −1…1) over ``blocks`` textured blocks."""

    verdict: Reuse
    inliers: int
    rms_px: float | None  # of the inliers about the similarity, coarser grid's pixels
    matrix: np.ndarray | None  # query source px → candidate source px (3×3)
    overlap: float
    agreement: float | None
    blocks: int
    mirrored: bool

    @property
    def scale(self) -> float | None:
        if self.matrix is None:
            return None
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:2, :2]))))

    @property
    def rotation_deg(self) -> float | None:
        """The turn of the query onto the candidate, degrees, clockwise as shown (y down);
        for a mirrored copy, after the mirror is undone."""
        if self.matrix is None:
            return None
        m = self.matrix[:2, :2]
        if np.linalg.det(m) < 0:  # a mirrored copy: the turn after undoing the mirror
            m = m @ np.diag([-1.0, 1.0])
        return float(np.degrees(np.arctan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1])))

    def to_dict(self) -> dict[str, object]:
        def r(x: float | None, n: int = 4) -> float | None:
            return None if x is None else round(float(x), n)

        return {
            "verdict": self.verdict.value,
            "inliers": self.inliers,
            "rms_px": r(self.rms_px),
            "overlap": r(self.overlap),
            "agreement": r(self.agreement),
            "blocks": self.blocks,
            "mirrored": self.mirrored,
            "scale": r(self.scale),
            "rotation_deg": r(self.rotation_deg, 2),
            "transform": None if self.matrix is None else [
                [round(float(v), 6) for v in row] for row in self.matrix
            ],
        }  # fmt: skip


def compare(
    query_gray: np.ndarray,
    query: Fingerprint,
    other_gray: np.ndarray,
    other: Fingerprint,
    mirrored: bool = False,
) -> Evidence:
    """Fit the query onto ``other`` and compare their pixels (both grey at working size, as
    their fingerprints were made, ``DENSE`` ones; with ``mirrored``, the query's grey and
    fingerprint are of the mirrored image)."""
    import cv2

    src, dst = matches(query, other)
    none = Evidence(Reuse.UNRELATED, 0, None, None, 0.0, None, 0, mirrored)
    if len(src) < MIN_INLIERS:
        return none
    cv2.setRNGSeed(0x5174)
    fit, inl = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.0, maxIters=4000, confidence=0.999
    )
    if fit is None or inl is None or int(inl.sum()) < MIN_INLIERS:
        return none
    work = np.vstack([fit, [0.0, 0.0, 1.0]])  # query working px → other working px
    s = float(np.sqrt(abs(np.linalg.det(work[:2, :2]))))
    if not 0.05 < s < 20:
        return none
    keep = inl.ravel() > 0
    inliers = int(keep.sum())
    moved = src[keep] @ fit[:, :2].T + fit[:, 2]
    rms = float(np.sqrt(((moved - dst[keep]) ** 2).sum(axis=1).mean())) / max(s, 1.0)
    scores, overlap = block_scores(query_gray, other_gray, work)
    agreement = float(np.median(scores)) if len(scores) >= MIN_BLOCKS else None
    source = (
        np.diag([1 / other.scale, 1 / other.scale, 1.0])
        @ work
        @ np.diag([query.scale, query.scale, 1.0])
    )
    if mirrored:  # the fit is of the mirrored query: undo the flip on the query side
        w = query.shape[1] / query.scale
        source = source @ np.array([[-1.0, 0, w], [0, 1, 0], [0, 0, 1]])
    if agreement is None or overlap < MIN_OVERLAP:
        verdict = Reuse.CANNOT_TELL  # the geometry matched; too little to compare pixels on
    elif agreement - RMS_WEIGHT * rms >= SAME_SCORE:
        verdict = Reuse.SAME_ACQUISITION
    else:
        verdict = Reuse.SAME_PLACE
    return Evidence(verdict, inliers, rms, source, overlap, agreement, len(scores), mirrored)


def _bandpass(gray: np.ndarray) -> np.ndarray:
    import cv2

    g = gray.astype(np.float32)
    return cv2.GaussianBlur(g, (0, 0), 1.0) - cv2.GaussianBlur(g, (0, 0), 4.0)


def block_scores(
    query_gray: np.ndarray, other_gray: np.ndarray, work: np.ndarray
) -> tuple[np.ndarray, float]:
    """Correlation of band-passed blocks where both hold data and texture, and the share of
    the smaller image the two share (``work``: query working px → other working px, pixel
    edges on integers).

    The finer image is warped onto the coarser one's grid: the other way, upsampling blurs
    it and one acquisition would not agree with itself."""
    import cv2

    if np.sqrt(abs(np.linalg.det(work[:2, :2]))) < 1:  # the other is coarser
        base, moving, to_base = other_gray, query_gray, work
    else:
        base, moving, to_base = query_gray, other_gray, np.linalg.inv(work)
    shrink = float(np.sqrt(abs(np.linalg.det(to_base[:2, :2]))))
    if shrink < 0.8:  # anti-alias before a warp that shrinks
        sigma = 0.5 * np.sqrt(1 / shrink**2 - 1)
        moving = np.where(moving > 0, cv2.GaussianBlur(moving, (0, 0), sigma), 0).astype(np.uint8)
    h, w = base.shape
    # OpenCV puts pixel centres on integers, the fit put edges there
    edge = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1.0]])
    centred = np.linalg.inv(edge) @ to_base @ edge
    warped = cv2.warpAffine(moving, centred[:2], (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    valid = (warped > 0) & (base > 0)
    shared = float(valid.sum())
    valid = cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    smaller = min(float(base.size), float((moving > 0).sum()) * shrink**2)
    overlap = min(1.0, shared / max(smaller, 1.0))
    a, b = _bandpass(base), _bandpass(warped)
    scores = []
    for y in range(0, h - BLOCK + 1, BLOCK):
        for x in range(0, w - BLOCK + 1, BLOCK):
            m = valid[y : y + BLOCK, x : x + BLOCK]
            if m.mean() < 0.9:
                continue
            pa, pb = a[y : y + BLOCK, x : x + BLOCK][m], b[y : y + BLOCK, x : x + BLOCK][m]
            sa, sb = pa.std(), pb.std()
            if sa < 1.0 or sb < 1.0:  # flat: says nothing
                continue
            scores.append(float(((pa - pa.mean()) * (pb - pb.mean())).mean() / (sa * sb)))
    return np.array(scores), overlap


def mirrored(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(gray[:, ::-1])
