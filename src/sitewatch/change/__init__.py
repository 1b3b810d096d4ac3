"""Change: where and how much the imagery of a site changed between dates, in its frame."""

from sitewatch.change.evaluate import evaluate_pairs, find_pairs
from sitewatch.change.methods import ChangeMap, ChangeMethod, change_map

__all__ = ["ChangeMap", "ChangeMethod", "change_map", "evaluate_pairs", "find_pairs"]
