"""What a change method calls changed where nothing was built or destroyed: its share of the
area on *quiet* pairs of real dates (seasons, other sensors and sun, a registration
residual), and the share a new quiet pair stays under at a stated false-alarm rate.

A pair whose changed share passes that level is an alert at that rate, the way a count
series alerts at a stated rate of false alarms per site-year (``sitewatch.alerts``), and a
construction or destruction claim is supported only by more change than quiet pairs make
(``sitewatch.claims``).

The level is a log-normal prediction bound: the logs of the measured shares have a mean and a
spread, and with few pairs measured a Student t (n − 1 degrees of freedom, widened by
√(1 + 1/n)) says how far a *new* pair may stray. Shares below 10⁻⁵ count as 10⁻⁵ (a pair
with nothing called changed is no evidence of a zero rate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FLOOR = 1e-5
MIN_PAIRS = 3
DEFAULT_FALSE_ALARM = 0.01  # per compared pair: one quiet pair in a hundred alerts


@dataclass(frozen=True)
class QuietPairs:
    """Changed shares measured on quiet pairs, and where they were measured."""

    shares: tuple[float, ...]
    source: str

    def __post_init__(self) -> None:
        if len(self.shares) < MIN_PAIRS:
            raise ValueError(f"quiet_pairs needs at least {MIN_PAIRS} shares")
        for s in self.shares:
            if not (isinstance(s, int | float) and not isinstance(s, bool) and 0 <= s <= 1):
                raise ValueError(f"quiet_pairs share {s!r} is not a fraction in 0…1")
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError("quiet_pairs needs a source: where the shares were measured")

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> QuietPairs | None:
        """The ``quiet_pairs`` entry of a model's metrics (None where there is none;
        ValueError where it is malformed)."""
        raw = metrics.get("quiet_pairs")
        if raw is None:
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("shares"), list):
            raise ValueError("quiet_pairs must be {shares: [fractions], source: text}")
        return cls(tuple(raw["shares"]), raw.get("source", ""))

    def passes(self, share: float, false_alarm: float) -> bool:
        """A pair that called ``share`` of its area changed passes the quiet level."""
        return share > self.level(false_alarm)

    def to_metrics(self) -> dict[str, Any]:
        return {"shares": [round(s, 6) for s in self.shares], "source": self.source}

    @property
    def _fit(self) -> tuple[float, float, int]:
        logs = [math.log(max(s, FLOOR)) for s in self.shares]
        n = len(logs)
        mean = sum(logs) / n
        spread = math.sqrt(sum((v - mean) ** 2 for v in logs) / (n - 1))
        # a new pair's spread around a mean estimated from n pairs
        return mean, max(spread, 0.05) * math.sqrt(1 + 1 / n), n - 1

    def level(self, false_alarm: float) -> float:
        """The changed share a new quiet pair passes with probability ``false_alarm``."""
        from scipy.stats import t

        if not 0 < false_alarm < 1:
            raise ValueError(f"a false-alarm rate is in (0, 1), not {false_alarm!r}")
        mean, spread, dof = self._fit
        return min(1.0, math.exp(mean + float(t.ppf(1 - false_alarm, dof)) * spread))

    def false_alarm(self, share: float) -> float:
        """How often a new quiet pair calls at least ``share`` of its area changed."""
        from scipy.stats import t

        mean, spread, dof = self._fit
        return float(t.sf((math.log(max(share, FLOOR)) - mean) / spread, dof))
