"""Counting by centre inside footprints, object matching, and the monitor stage end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box
from sqlalchemy import select

from sitewatch import add_frame_site
from sitewatch.detect import run_detector, select_images
from sitewatch.errors import BadInputError
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.monitor import MatchConfig, match_objects, monitor_site
from sitewatch.monitor.counts import FrameObject, ImageView
from sitewatch.register import register_site
from sitewatch.store.models import Run
from sitewatch.uncertainty import Accuracy, estimate
from tests.conftest import AIRPORT

REF = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"


def obj(i: int, x: float, y: float, length: float = 80.0, cls: str = "aircraft") -> FrameObject:
    return FrameObject(i, cls, 0.9, x, y, length)


def test_object_straddling_the_boundary_counts_by_its_centre() -> None:
    site = box(0, 0, 100, 100)
    # one box 90..130 (centre 110, outside) and one 70..106 (centre 88, inside)
    view = ImageView(None, np.eye(3), site, 1.0, [obj(1, 110, 50), obj(2, 88, 50)],
                     Accuracy(1, 1, "t"), ("aircraft",))  # fmt: skip
    assert [o.detection_id for o in view.inside(site)] == [2]


def test_matching_pairs_stayed_and_flags_appeared_departed() -> None:
    before = [obj(1, 100, 100), obj(2, 400, 100), obj(3, 700, 700, length=60)]
    after = [
        obj(11, 103, 98),  # the same aircraft, 1.8 m away at 0.5 m/px
        obj(12, 400, 180),  # 40 m away: another aircraft, not a move of 2
        obj(13, 702, 700, length=140),  # a wide-body on the stand of a small jet: a swap
    ]
    changes = match_objects(before, after, gsd_m=0.5, config=MatchConfig())
    kinds = {(c.kind, (c.before or c.after).detection_id) for c in changes}
    assert ("stayed", 1) in kinds
    stayed = next(c for c in changes if c.kind == "stayed")
    assert stayed.after.detection_id == 11 and stayed.distance_m == pytest.approx(1.80, abs=0.01)
    assert {("departed", 2), ("departed", 3), ("appeared", 12), ("appeared", 13)} <= kinds
    assert len(changes) == 5


def test_count_uncertainty_follows_detector_accuracy() -> None:
    perfect, _ = estimate(30, Accuracy(1.0, 1.0, "t"))
    assert perfect == 30
    true, sd = estimate(30, Accuracy(0.9, 0.8, "t"))
    assert true == pytest.approx(30 * 0.9 / 0.8) and sd > 1.5
    assert estimate(30, Accuracy(0.99, 0.98, "t"))[1] < sd


def test_monitor_demo_site_end_to_end(catalog, tmp_path: Path) -> None:
    add_frame_site(catalog, "apt", str(REF))
    ingest(catalog, [AIRPORT], IngestOptions(site="apt"))
    with pytest.raises(BadInputError, match="has not been registered"):
        monitor_site(catalog, "apt")
    run_detector(catalog, select_images(catalog, [], "apt"))
    register_site(catalog, "apt")
    result = monitor_site(catalog, "apt")
    used = [c for c in result.counts if c.used]
    assert [c.date for c in used] == ["2024-03-04", "2024-04-08", "2024-04-22", "2024-05-13",
                                      "2024-06-10"]  # fmt: skip
    full = [c for c in used if not c.partial]
    # truth inside the site (whole reference frame) is 29/21/30/29 for the full views
    assert [c.count for c in full] == pytest.approx([29, 21, 30, 29], abs=2)
    assert all(c.low <= c.estimate <= c.high for c in used)
    partial = next(c for c in used if c.partial)
    assert partial.coverage < 0.2 and "not used for alerts" in partial.reason
    # consecutive full views see ~99 % of the site in common; changes are tallied there
    last = result.pairs[-1]
    assert last.common_coverage > 0.95
    assert last.before_count == last.tally("stayed") + last.tally("departed")
    assert last.after_count == last.tally("stayed") + last.tally("appeared")
    chip = next(c.chip for c in last.changes if c.chip)
    assert (catalog.workspace / chip).is_file()
    # four full-coverage dates only build the baseline: no test, no alert, said so
    assert result.episodes["aircraft"] == []
    assert all(s.state == "warm-up" for s in result.steps["aircraft"])
    paths = result.write(tmp_path / "out")
    data = json.loads(paths[-1].read_text())
    assert data["counts"][0]["count"] == used[0].count
    changes_header = paths[1].read_text().splitlines()[0].split(",")
    assert {"stayed_objects", "common_coverage_fraction", "date_illustrative"} <= set(
        changes_header
    )
    counts = list(csv.DictReader(paths[0].open()))
    assert {"count_objects", "low90_objects", "coverage_fraction"} <= set(counts[0])
    assert {r["date_illustrative"] for r in counts} == {"true"}  # the demo dates are
    assert all(len(r["estimate_objects"].partition(".")[2]) <= 4 for r in counts)
    # a class the detector looks for but never found is counted as zero, not left out
    with catalog.session() as s:
        for run in s.scalars(select(Run).where(Run.stage == "detect")):
            run.parameters = {**run.parameters, "classes": ["aircraft", "helicopter"]}
    again = monitor_site(catalog, "apt", write_chips=False)
    assert again.classes == ["aircraft", "helicopter"]
    assert [c.count for c in again.counts if c.used and c.class_name == "helicopter"] == [0] * 5
