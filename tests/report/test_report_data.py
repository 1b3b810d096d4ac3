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


def test_series_plot_shows_counts_bands_episodes_and_partial_views(tmp_path) -> None:
    import xml.etree.ElementTree as ET
    from dataclasses import replace
    from datetime import timedelta

    from sitewatch.alerts import AlertConfig
    from sitewatch.monitor.stage import alert_scan
    from sitewatch.report.data import StoredMonitoring
    from sitewatch.report.plots import series_figure, to_svg
    from tests.report.test_language import counts_of

    values = [30, 31, 29, 30, 31, 30, 29, 30, 44, 45, 43, 30, 29, 31, 30]
    counts, _ = counts_of(values)
    day = counts[3].acquired_at + timedelta(days=2)
    counts.append(replace(counts_of([12])[0][0], partial=True, coverage=0.3, acquired_at=day))
    cfg = AlertConfig()
    m = StoredMonitoring("Apron", 1, cfg, counts, {}, None)
    m.steps, m.episodes = alert_scan(counts, ["aircraft"], cfg)
    assert len(m.episodes["aircraft"]) == 1
    fig = series_figure(m, "aircraft")
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["usual range (baseline ± 2 spreads)", "alert episode"]
    assert "count (90 % interval)" in labels and "partial coverage (not used for alerts)" in labels
    # the plotted counts are the estimates, the partial one apart
    plotted = {c.get_label(): list(c.lines[0].get_ydata()) for c in ax.containers}
    assert plotted["count (90 % interval)"] == values
    assert plotted["partial coverage (not used for alerts)"] == [12]
    svg = to_svg(fig)
    root = ET.fromstring(svg)  # well-formed, standalone
    assert root.tag.endswith("svg") and svg == to_svg(series_figure(m, "aircraft"))
