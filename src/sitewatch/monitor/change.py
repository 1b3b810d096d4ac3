"""Object-level change between two dates: which objects stayed, appeared or departed.

Only the two images' common footprint inside the site is compared, so an object is never
"departed" merely because the later image did not cover its stand. Objects are paired by
an optimal (Hungarian) assignment on centre distance in metres, gated by a radius that
grows with object size and by a size ratio (a small jet on a wide-body's stand is a swap).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment
from shapely.geometry.base import BaseGeometry

from sitewatch.monitor.counts import FrameObject
from sitewatch.store.models import ChangeKind


@dataclass(frozen=True)
class MatchConfig:
    min_radius_m: float = 4.0  # registration error and box jitter
    radius_fraction: float = 0.2  # of the object's length
    max_size_ratio: float = 1.5


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    class_name: str
    x: float  # frame pixels
    y: float
    before: FrameObject | None
    after: FrameObject | None
    distance_m: float | None
    chip: str | None = None  # before|after image, relative to the workspace

    def with_chip(self, path: str) -> Change:
        return replace(self, chip=path)


def match_objects(
    before: list[FrameObject],
    after: list[FrameObject],
    gsd_m: float,
    config: MatchConfig | None = None,
) -> list[Change]:
    """Pair objects of two dates (same class only); the unpaired departed or appeared."""
    config = config or MatchConfig()
    changes: list[Change] = []
    for cls in sorted({o.class_name for o in before} | {o.class_name for o in after}):
        a = [o for o in before if o.class_name == cls]
        b = [o for o in after if o.class_name == cls]
        pairs = _assign(a, b, gsd_m, config)
        paired_a = {i for i, _, _ in pairs}
        paired_b = {j for _, j, _ in pairs}
        for i, j, dist in pairs:
            x, y = (a[i].x + b[j].x) / 2, (a[i].y + b[j].y) / 2
            changes.append(Change(ChangeKind.STAYED, cls, x, y, a[i], b[j], dist))
        changes += [
            Change(ChangeKind.DEPARTED, cls, o.x, o.y, o, None, None)
            for i, o in enumerate(a)
            if i not in paired_a
        ]
        changes += [
            Change(ChangeKind.APPEARED, cls, o.x, o.y, None, o, None)
            for j, o in enumerate(b)
            if j not in paired_b
        ]
    return changes


def _assign(
    a: list[FrameObject], b: list[FrameObject], gsd_m: float, config: MatchConfig
) -> list[tuple[int, int, float]]:
    if not a or not b:
        return []
    pa = np.array([(o.x, o.y) for o in a])
    pb = np.array([(o.x, o.y) for o in b])
    dist = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2) * gsd_m
    la = np.array([o.length for o in a]) * gsd_m
    lb = np.array([o.length for o in b]) * gsd_m
    radius = np.maximum(config.min_radius_m, config.radius_fraction * np.maximum.outer(la, lb))
    ratio = np.maximum.outer(la, lb) / np.maximum(np.minimum.outer(la, lb), 1e-6)
    allowed = (dist <= radius) & (ratio <= config.max_size_ratio)
    cost = np.where(allowed, dist, 1e9)
    rows, cols = linear_sum_assignment(cost)
    return [
        (int(i), int(j), float(dist[i, j]))
        for i, j in zip(rows, cols, strict=True)
        if allowed[i, j]
    ]


def common_region(polygon: BaseGeometry, *footprints: BaseGeometry) -> BaseGeometry:
    """The part of the site both (all) images saw."""
    region = polygon
    for fp in footprints:
        region = region.intersection(fp)
    return region
