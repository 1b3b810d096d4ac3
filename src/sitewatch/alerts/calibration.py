"""False alarms per site-year versus the CUSUM threshold, measured by simulation.

``TABLE`` was produced by ``python bench/alerts.py --calibrate`` (4,000 stable simulated
sites, two years each, weekly revisits with jitter and 15 % cloud loss, 8 % churn, ±10 %
seasonal cycle, 10–80 objects, detector P 0.99 / R 0.98) for the default ``AlertConfig``.
Another configuration is calibrated on first use (slower, fewer series).
"""

from __future__ import annotations

from dataclasses import astuple, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sitewatch.alerts.method import AlertConfig

# (h, false alarms per site-year) for the default AlertConfig, h ascending
TABLE: list[tuple[float, float]] = [
    (1.0, 2.1143),
    (1.25, 1.7284),
    (1.5, 1.4159),
    (1.75, 1.1614),
    (2.0, 0.9585),
    (2.25, 0.7854),
    (2.5, 0.6499),
    (2.75, 0.5385),
    (3.0, 0.4455),
    (3.25, 0.3599),
    (3.5, 0.293),
    (3.75, 0.2365),
    (4.0, 0.1909),
    (4.25, 0.1541),
    (4.5, 0.1168),
    (4.75, 0.0935),
    (5.0, 0.0715),
    (5.25, 0.0564),
    (5.5, 0.0451),
    (5.75, 0.0345),
    (6.0, 0.0251),
    (6.25, 0.02),
    (6.5, 0.0145),
    (6.75, 0.0111),
    (7.0, 0.0081),
    (7.25, 0.006),
    (7.5, 0.0046),
    (7.75, 0.0032),
    (8.0, 0.0025),
]


def _key(config: AlertConfig) -> tuple:
    """Everything but the stated rate, which only picks a row of the table."""
    return astuple(replace(config, far_per_year=1.0))


def _table(config: AlertConfig) -> list[tuple[float, float]]:
    from sitewatch.alerts.method import AlertConfig

    if TABLE and _key(config) == _key(AlertConfig()):
        return TABLE
    return _calibrated(_key(config))


@lru_cache(maxsize=8)
def _calibrated(key: tuple) -> list[tuple[float, float]]:
    from sitewatch.alerts.method import AlertConfig

    return calibrate(AlertConfig(*key), sites=600, seed=1)


def calibrate(
    config: AlertConfig, sites: int = 4000, years: float = 2.0, seed: int = 0
) -> list[tuple[float, float]]:
    """Measure false alarms per site-year on stable simulated sites for a grid of h."""
    from sitewatch.alerts.method import scan
    from sitewatch.alerts.simulate import SiteModel, series

    grid = [round(v, 2) for v in np.arange(1.0, 8.01, 0.25)]
    rng = np.random.default_rng(seed)
    histories = [series(rng, years * 365.25, SiteModel())[0] for _ in range(sites)]
    table = []
    for h in grid:
        alarms = sum(len(scan(pts, config, h)[1]) for pts in histories)
        table.append((h, alarms / (sites * years)))
    return table


def threshold_for(far_per_year: float, config: AlertConfig) -> float:
    """The smallest tabulated h whose false-alarm rate is at most ``far_per_year``."""
    if far_per_year <= 0:
        raise ValueError("the false-alarm rate must be positive")
    table = _table(config)
    for h, far in table:
        if far <= far_per_year:
            return h
    return table[-1][0]


def false_alarms_per_year(h: float, config: AlertConfig) -> float:
    """False alarms per site-year at threshold ``h`` (log-linear between table rows)."""
    table = _table(config)
    hs = np.array([r[0] for r in table])
    fars = np.log(np.maximum([r[1] for r in table], 1e-4))
    return float(np.exp(np.interp(h, hs, fars)))
