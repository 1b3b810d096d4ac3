"""Change: where and how much the imagery of a site changed between dates, in its frame."""

from sitewatch.change.evaluate import evaluate_pairs, find_pairs
from sitewatch.change.methods import ChangeMap, ChangeMethod, change_map
from sitewatch.change.site import ChangeKind, ChangeRegion, ChangeReport, PairChange, change_site
from sitewatch.change.stored import StoredChange, StoredRegion, load_change

__all__ = [
    "ChangeKind",
    "ChangeMap",
    "ChangeMethod",
    "ChangeRegion",
    "ChangeReport",
    "PairChange",
    "StoredChange",
    "StoredRegion",
    "change_map",
    "change_site",
    "evaluate_pairs",
    "find_pairs",
    "load_change",
]
