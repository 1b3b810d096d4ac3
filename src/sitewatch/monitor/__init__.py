"""Monitor: footprint-aware counts over time, object change between dates, alert episodes;
and the stored monitoring read back (``load_monitoring``) for the report and claims."""

from sitewatch.monitor.change import Change, MatchConfig, match_objects
from sitewatch.monitor.counts import Count
from sitewatch.monitor.stage import MonitorResult, PairChange, monitor_site
from sitewatch.monitor.stored import StoredMonitoring, load_monitoring

__all__ = [
    "Change",
    "Count",
    "MatchConfig",
    "MonitorResult",
    "PairChange",
    "StoredMonitoring",
    "load_monitoring",
    "match_objects",
    "monitor_site",
]
