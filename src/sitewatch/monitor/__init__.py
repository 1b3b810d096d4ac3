"""Monitor: footprint-aware counts over time, object change between dates, alert episodes."""

from sitewatch.monitor.change import Change, MatchConfig, match_objects
from sitewatch.monitor.counts import Count, estimate
from sitewatch.monitor.stage import MonitorResult, PairChange, monitor_site

__all__ = [
    "Change",
    "Count",
    "MatchConfig",
    "MonitorResult",
    "PairChange",
    "estimate",
    "match_objects",
    "monitor_site",
]
