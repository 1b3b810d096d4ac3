"""What a change method calls changed where nothing was built or destroyed: its share of the
area on *quiet* pairs of real dates (seasons, other sensors and sun, a registration
residual), and the share a new quiet pair stays under at a stated false-alarm rate.

A pair whose changed share passes that level is an alert at that rate, the way a count
series alerts at a stated rate of false alarms per site-year (``sitewatch.alerts``), and a
construction or destruction claim is supported only by more change than quiet pairs make
(``sitewatch.claims``).

The level is a log-normal prediction bound for each kind of place measured: the logs of its
shares have a mean and a spread, and with few pairs measured a Student t (n − 1 degrees of
freedom, widened by √(1 + 1/n)) says how far a *new* pair may stray; the level stated is the
highest over the kinds (farmland through the seasons changes more than an airport's
tarmac, and pooling the two would make one bimodal spread). Shares below 10⁻⁴ count as
10⁻⁴ (a pair with nothing called changed is no evidence of a zero rate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FLOOR = 1e-4  # 0.01 % of the area: below any change worth stating
MIN_PAIRS = 3
DEFAULT_FALSE_ALARM = 0.01  # per compared pair: one quiet pair in a hundred alerts


@dataclass(frozen=True)
class QuietPairs:
    """Changed shares measured on quiet pairs, by kind of place (farmland seasons, airports:
    kinds differ, so each gets its own bound and the level is the highest), and where they
    were measured."""

    groups: tuple[tuple[str, tuple[float, ...]], ...]
    source: str

    def __post_init__(self) -> None:
        if not self.groups:
            raise ValueError("quiet_pairs needs at least one kind of place")
        for name, shares in self.groups:
            if not isinstance(name, str) or not name.strip():
                raise ValueError("quiet_pairs: each kind of place needs a name")
            if len(shares) < MIN_PAIRS:
                raise ValueError(f"quiet_pairs needs at least {MIN_PAIRS} shares of {name!r}")
            for s in shares:
                if not (isinstance(s, int | float) and not isinstance(s, bool) and 0 <= s <= 1):
                    raise ValueError(f"quiet_pairs share {s!r} is not a fraction in 0…1")
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError("quiet_pairs needs a source: where the shares were measured")

    @classmethod
    def of(cls, shares: dict[str, list[float]] | list[float], source: str) -> QuietPairs:
        """From shares by kind of place (or one list: one kind)."""
        kinds = shares if isinstance(shares, dict) else {"quiet pairs": shares}
        return cls(tuple((k, tuple(v)) for k, v in kinds.items()), source)

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> QuietPairs | None:
        """The ``quiet_pairs`` entry of a model's metrics (None where there is none;
        ValueError where it is malformed)."""
        raw = metrics.get("quiet_pairs")
        if raw is None:
            return None
        shares = raw.get("shares") if isinstance(raw, dict) else None
        ok = isinstance(shares, list) or (
            isinstance(shares, dict) and all(isinstance(v, list) for v in shares.values())
        )
        if not ok:
            raise ValueError("quiet_pairs must be {shares: [fractions] or {kind: [fractions]}, "
                             "source: text}")  # fmt: skip
        assert isinstance(shares, dict | list)
        return cls.of(shares, raw.get("source", ""))

    @property
    def shares(self) -> tuple[float, ...]:
        return tuple(s for _, shares in self.groups for s in shares)

    def level(self, false_alarm: float) -> float:
        """The changed share a new quiet pair of any kind measured passes with probability
        at most ``false_alarm``."""
        if not 0 < false_alarm < 1:
            raise ValueError(f"a false-alarm rate is in (0, 1), not {false_alarm!r}")
        return max(_level(shares, false_alarm) for _, shares in self.groups)

    def false_alarm(self, share: float) -> float:
        """How often a new quiet pair (of the kind that changes most) calls at least
        ``share`` of its area changed."""
        return max(_exceedance(shares, share) for _, shares in self.groups)

    def passes(self, share: float, false_alarm: float) -> bool:
        """A pair that called ``share`` of its area changed passes the quiet level."""
        return share > self.level(false_alarm)

    def to_metrics(self) -> dict[str, Any]:
        return {
            "shares": {k: [round(s, 6) for s in v] for k, v in self.groups},
            "source": self.source,
        }


def _fit(shares: tuple[float, ...]) -> tuple[float, float, int]:
    logs = [math.log(max(s, FLOOR)) for s in shares]
    n = len(logs)
    mean = sum(logs) / n
    spread = math.sqrt(sum((v - mean) ** 2 for v in logs) / (n - 1))
    # a new pair's spread around a mean estimated from n pairs
    return mean, max(spread, 0.05) * math.sqrt(1 + 1 / n), n - 1


def _level(shares: tuple[float, ...], false_alarm: float) -> float:
    from scipy.stats import t

    mean, spread, dof = _fit(shares)
    return min(1.0, math.exp(mean + float(t.ppf(1 - false_alarm, dof)) * spread))


def _exceedance(shares: tuple[float, ...], share: float) -> float:
    from scipy.stats import t

    mean, spread, dof = _fit(shares)
    return float(t.sf((math.log(max(share, FLOOR)) - mean) / spread, dof))
