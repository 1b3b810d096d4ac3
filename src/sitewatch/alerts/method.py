"""Baseline and buildup episodes: a robust rolling baseline and a one-sided CUSUM.

The method, for one site and class, observation by observation in time order:

1. Work on ``x = log(1 + count)``, so a +30 % buildup is the same step at 15 aircraft as at
   150, and variability is roughly proportional to the level (as it is for parked fleets).
2. **Baseline**: the median of the last ``window`` *in-control* observations; a short
   window, because a seasonal drift makes a long one lag behind the level. An observation
   joins the baseline after it has been tested (``lag`` observations later, 0 by default:
   simulation showed a lag costs more through the seasonal drift it adds than it saves
   by keeping a buildup's onset out); observations of an episode never join. **Scale**:
   the robust sd of successive differences over the last ``scale_window`` in-control
   observations (long, so it is steady; blind to slow seasonal trends), floored at
   the day-to-day churn, combined with the count's own measurement error (from the
   detector's held-out precision/recall). Until ``min_baseline`` observations exist,
   nothing is tested ("warm-up").
3. **Score** ``z = (x − baseline) / scale`` (clipped at 6), and a one-sided CUSUM
   ``S ← max(0, S·exp(−Δt/memory) + z − k)``. The decay makes irregular revisits honest: a
   high count two months ago is weaker evidence today than one last week.
4. **Alarm** when ``S ≥ h``. The episode *starts* at the first observation of the run of
   positive ``S`` that led to the alarm (the change-point estimate). While in an episode
   ``S`` is capped at ``2h``; the episode *ends* at the first of ``end_after`` consecutive
   observations back within 1.5 scales of baseline. Episodes that ended and the current
   one are reported alike, e.g. "a brief buildup in April" and "the one now".
5. **Threshold** ``h`` is not a free knob: it is read from a table of false alarms per
   site-year versus ``h``, measured by simulating stable sites through this exact
   procedure (``alerts.calibration``), at the stated false-alarm rate.
6. **Confidence** of an episode: the probability that a stable site would *not* reach the
   episode's peak CUSUM over a year, from the same table: ``exp(−FAR(peak))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import pairwise
from statistics import median
from typing import Any

import numpy as np

from sitewatch.alerts.calibration import false_alarms_per_year, threshold_for


@dataclass(frozen=True)
class AlertConfig:
    far_per_year: float = 1.0  # stated false-alarm rate: per site and year at weekly revisit
    window: int = 6  # observations in the baseline level: short, so seasons do not lag it
    scale_window: int = 40  # observations in the spread estimate: long, so it is steady
    lag: int = 0  # observations wait this long before joining the baseline
    min_baseline: int = 4
    k: float = 0.75  # CUSUM allowance: tuned for a shift of about 1.5 scales
    memory_days: float = 60.0
    churn: float = 0.08  # floor of the relative day-to-day variability
    end_after: int = 2
    max_z: float = 6.0

    @property
    def h(self) -> float:
        return threshold_for(self.far_per_year, self)

    @classmethod
    def stored(cls, parameters: dict[str, Any]) -> AlertConfig:
        """The settings a monitor run recorded; runs from before all were kept stored only
        the stated rate (the rest were the defaults then, as now)."""
        known = {f.name for f in fields(cls)}
        saved = parameters.get("alerts") or {}
        config = {k: v for k, v in saved.items() if k in known}
        config.setdefault("far_per_year", float(parameters.get("far_per_year", 1.0)))
        return cls(**config)


@dataclass(frozen=True)
class Point:
    """One observation: a time, a count estimate and its measurement sd."""

    t: datetime
    value: float
    sd: float = 0.0


@dataclass(frozen=True)
class Step:
    """How the method saw one observation."""

    t: datetime
    value: float
    baseline: float | None  # in counts
    low: float | None  # baseline band (±2 scales), counts
    high: float | None
    z: float | None
    cusum: float
    state: str  # "warm-up" | "normal" | "alert"


@dataclass(frozen=True)
class Episode:
    start: datetime
    alarm: datetime
    end: datetime | None  # None while ongoing
    baseline: float
    peak: float
    magnitude: float  # median excess over baseline during the episode, as a fraction
    confidence: float
    far_per_year: float
    observations: int
    peak_cusum: float

    @property
    def ongoing(self) -> bool:
        return self.end is None


def detect_episodes(
    points: list[Point], config: AlertConfig | None = None, h: float | None = None
) -> tuple[list[Step], list[Episode]]:
    """Run the baseline + CUSUM over time-ordered observations."""
    config = config or AlertConfig()
    h = config.h if h is None else h
    pts = sorted(points, key=lambda p: p.t)
    steps, raw = scan(pts, config, h)
    return steps, [_episode(pts, ep, config) for ep in raw]


def scan(pts: list[Point], config: AlertConfig, h: float) -> tuple[list[Step], list[dict]]:
    """The method itself over sorted points; episodes as index records (start, alarm, end)."""
    history: list[float] = []
    held: list[float] = []
    steps: list[Step] = []
    episodes: list[dict] = []
    s = 0.0
    run_start: int | None = None  # first index of the current positive-S run
    open_ep: dict | None = None
    calm = 0
    prev_t: datetime | None = None
    for i, p in enumerate(pts):
        x = math.log1p(max(p.value, 0.0))
        gap = 0.0 if prev_t is None else (p.t - prev_t).total_seconds() / 86400
        prev_t = p.t
        if len(history) < config.min_baseline:
            history.append(x)
            steps.append(Step(p.t, p.value, None, None, None, None, 0.0, "warm-up"))
            continue
        base = median(history[-config.window :])
        mad = _spread(history[-config.scale_window :])
        meas = p.sd / (1.0 + max(p.value, 0.0))
        scale = math.sqrt(max(mad, config.churn) ** 2 + meas**2)
        z = min((x - base) / scale, config.max_z)
        s = max(0.0, s * math.exp(-gap / config.memory_days) + z - config.k)
        if s > 0 and run_start is None:
            run_start = i
        elif s == 0:
            run_start = None
        if open_ep is None:
            if s >= h:
                start = run_start if run_start is not None else i
                open_ep = {"start": start, "alarm": i, "base": base, "peak_s": s}
                calm, held = 0, []
            else:
                # an observation joins the baseline ``lag`` steps after it was tested
                held.append(x)
                if len(held) > config.lag:
                    history.append(held.pop(0))
        else:
            s = min(s, 2 * h)
            open_ep["peak_s"] = max(open_ep["peak_s"], s)
            calm = calm + 1 if z < 1.5 else 0
            if calm >= config.end_after:
                end = i - config.end_after + 1
                episodes.append({**open_ep, "end": end})
                history.extend(math.log1p(max(q.value, 0)) for q in pts[end : i + 1])
                open_ep, s, run_start, calm = None, 0.0, None, 0
        state = "alert" if open_ep is not None else "normal"
        band = (math.expm1(base - 2 * scale), math.expm1(base + 2 * scale))
        steps.append(Step(p.t, p.value, math.expm1(base), max(band[0], 0), band[1], z, s, state))
    if open_ep is not None:
        episodes.append({**open_ep, "end": None})
    return steps, episodes


def _spread(history: list[float]) -> float:
    """Robust sd of one observation from successive differences (blind to slow trends)."""
    if len(history) < 3:
        return 0.0
    d = [b - a for a, b in pairwise(history)]
    mid = median(d)
    return 1.4826 * median([abs(v - mid) for v in d]) / math.sqrt(2)


def _episode(pts: list[Point], ep: dict, config: AlertConfig) -> Episode:
    end = ep["end"]
    inside = pts[ep["start"] : (end if end is not None else len(pts))]
    base = math.expm1(ep["base"])
    values = np.array([q.value for q in inside])
    magnitude = float(np.median(values) / base - 1) if base > 0 else float("inf")
    far = false_alarms_per_year(ep["peak_s"], config)
    return Episode(
        start=inside[0].t,
        alarm=pts[ep["alarm"]].t,
        end=pts[end].t if end is not None else None,
        baseline=base,
        peak=float(values.max()),
        magnitude=magnitude,
        confidence=math.exp(-far),
        far_per_year=config.far_per_year,
        observations=len(inside),
        peak_cusum=float(ep["peak_s"]),
    )
