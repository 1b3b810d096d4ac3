"""The report reads monitoring back from the catalog and judges the demo site honestly."""

from __future__ import annotations

import pytest

from sitewatch import add_frame_site, monitor_site
from sitewatch.detect import run_detector, select_images
from sitewatch.errors import BadInputError
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.register import register_site
from sitewatch.report.data import evidence_of, judgements, load_monitoring
from tests.conftest import AIRPORT

REF = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"


def test_demo_site_is_judged_from_what_monitoring_stored(catalog) -> None:
    add_frame_site(catalog, "apt", str(REF))
    ingest(catalog, [AIRPORT], IngestOptions(site="apt"))
    run_detector(catalog, select_images(catalog, [], "apt"))
    register_site(catalog, "apt")
    with pytest.raises(BadInputError, match="has not been monitored"):
        load_monitoring(catalog, "apt")
    result = monitor_site(catalog, "apt", write_chips=False)

    stored = load_monitoring(catalog, "apt")
    # the re-derived alert steps are exactly what monitoring saw
    assert [s.baseline for s in stored.steps["aircraft"]] == [
        s.baseline for s in result.steps["aircraft"]
    ]
    ev = evidence_of(stored, "aircraft")
    assert (ev.full_views, ev.partial_views, ev.excluded_images) == (4, 1, 0)
    assert ev.dates_illustrative and ev.providers == 1 and ev.precision and ev.precision > 0.9

    kj = judgements(catalog, "apt")["aircraft"]
    last = [c for c in result.counts if c.used and not c.partial][-1]
    assert "4 full-coverage view(s) of apt between 2024-03-04 and 2024-06-10" in kj.text
    assert f"{last.estimate:.0f} aircraft on {last.date}" in kj.text
    assert kj.likelihood is None  # no probability is claimed without a baseline
    assert kj.confidence.level == "low"
    assert any("illustrative" in r for r in kj.confidence.reasons)
    assert "one imagery source: not independently verified" in kj.confidence.reasons
