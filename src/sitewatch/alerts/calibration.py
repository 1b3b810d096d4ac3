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
    (0.5, 3.9888),
    (0.6, 3.6679),
    (0.7, 3.3567),
    (0.8, 3.0679),
    (0.9, 2.7795),
    (1.0, 2.4941),
    (1.1, 2.2363),
    (1.2, 1.9794),
    (1.3, 1.7691),
    (1.4, 1.5625),
    (1.5, 1.3699),
    (1.6, 1.2129),
    (1.7, 1.0622),
    (1.8, 0.9347),
    (1.9, 0.8221),
    (2.0, 0.719),
    (2.1, 0.6356),
    (2.2, 0.5575),
    (2.3, 0.486),
    (2.4, 0.4216),
    (2.5, 0.3646),
    (2.6, 0.321),
    (2.7, 0.2811),
    (2.8, 0.2467),
    (2.9, 0.2155),
    (3.0, 0.1869),
    (3.1, 0.1628),
    (3.2, 0.1417),
    (3.3, 0.1226),
    (3.4, 0.1071),
    (3.5, 0.0921),
    (3.6, 0.0811),
    (3.7, 0.0704),
    (3.8, 0.0604),
    (3.9, 0.0527),
    (4.0, 0.0439),
    (4.1, 0.0364),
    (4.2, 0.0291),
    (4.3, 0.0249),
    (4.4, 0.0206),
    (4.5, 0.0184),
    (4.6, 0.0144),
    (4.7, 0.0124),
    (4.8, 0.0104),
    (4.9, 0.0084),
    (5.0, 0.0067),
    (5.1, 0.0055),
    (5.2, 0.0047),
    (5.3, 0.0036),
    (5.4, 0.0029),
    (5.5, 0.0026),
    (5.6, 0.0021),
    (5.7, 0.0018),
    (5.8, 0.0016),
    (5.9, 0.0013),
    (6.0, 0.0013),
    (6.1, 0.0011),
    (6.2, 0.001),
    (6.3, 0.0009),
    (6.4, 0.0008),
    (6.5, 0.0004),
    (6.6, 0.0004),
    (6.7, 0.0003),
    (6.8, 0.0001),
    (6.9, 0.0001),
    (7.0, 0.0001),
    (7.1, 0.0001),
    (7.2, 0.0001),
    (7.3, 0.0001),
    (7.4, 0.0001),
    (7.5, 0.0001),
    (7.6, 0.0),
    (7.7, 0.0),
    (7.8, 0.0),
    (7.9, 0.0),
    (8.0, 0.0),
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

    grid = [round(v, 2) for v in np.arange(0.5, 8.01, 0.1)]
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
