"""Validation that holds whole places out (airports, cities, map tiles): places near-copy
themselves, so a random split measures memory, not generalisation."""

from __future__ import annotations

import hashlib

from sitewatch.errors import BadInputError


def group_folds(counts: dict[str, int], k: int) -> dict[str, int]:
    """Deterministic folds of whole places, balanced by image count."""
    # order by size, then by a hash so ties do not depend on naming
    order = sorted(counts, key=lambda s: (-counts[s], hashlib.sha1(s.encode()).hexdigest()))
    load = [0] * k
    folds = {}
    for group in order:
        fold = min(range(k), key=lambda f: (load[f], f))
        folds[group] = fold
        load[fold] += counts[group]
    return folds


def validation_groups(
    groups: list[str], val_groups: list[str] | None, fold: int, folds: int
) -> set[str]:
    """The places held out: named ones, or fold ``fold`` of ``folds`` (-1: none)."""
    known = set(groups)
    if val_groups:
        unknown = sorted(set(val_groups) - known)
        if unknown:
            raise BadInputError(
                "--val-group",
                f"no images from {', '.join(unknown)}",
                f"places in this dataset: {', '.join(sorted(known)[:20])}",
            )
        return set(val_groups)
    if fold < 0:
        return set()
    if len(known) < 2:
        raise BadInputError(
            "--split-by",
            f"all images are from one place ({next(iter(known))})",
            "validation needs a place not trained on: pass --fold -1 to train without it",
        )
    counts: dict[str, int] = {}
    for g in groups:
        counts[g] = counts.get(g, 0) + 1
    assignment = group_folds(counts, min(folds, len(known)))
    return {g for g, f in assignment.items() if f == fold % min(folds, len(known))}
