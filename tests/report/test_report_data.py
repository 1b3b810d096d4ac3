"""The report reads monitoring back from the catalog and judges the demo site honestly."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser

import matplotlib.dates as mdates
import pytest

from sitewatch import monitor_site
from sitewatch.alerts import AlertConfig
from sitewatch.monitor.stored import load_monitoring
from sitewatch.report.build import report_dict
from sitewatch.report.data import evidence_of, judgements
from sitewatch.report.plots import series_figure
from tests.conftest import AIRCRAFT_THRESHOLD, copy_catalog


def test_demo_site_is_judged_from_what_monitoring_stored(monitored) -> None:
    catalog, result = monitored
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
    from sitewatch.monitor.stored import StoredMonitoring
    from sitewatch.report.plots import series_figure, to_svg
    from tests.report.test_language import counts_of

    values = [30, 31, 29, 30, 31, 30, 29, 30, 44, 45, 43, 30, 29, 31, 30]
    counts, _ = counts_of(values)
    day = counts[3].acquired_at + timedelta(days=2)
    counts.append(replace(counts_of([12])[0][0], partial=True, coverage=0.3, acquired_at=day))
    cfg = AlertConfig()
    m = StoredMonitoring("Apron", 1, cfg, counts)
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
    # the episode ended mid-series: every later date is still on the axis (a loop variable
    # once reused the period's `end` and cut the plot at the episode's end)
    last = max(c.acquired_at for c in counts)
    assert m.episodes["aircraft"][0].end < last
    assert ax.get_xlim()[1] >= mdates.date2num(last)
    svg = to_svg(fig)
    root = ET.fromstring(svg)  # well-formed, standalone
    assert root.tag.endswith("svg") and svg == to_svg(series_figure(m, "aircraft"))


def test_report_twin_holds_judgement_series_changes_and_provenance(monitored) -> None:
    catalog, result = monitored
    m = load_monitoring(catalog, "apt")
    rep = json.loads(json.dumps(report_dict(m)))  # plain JSON all the way down
    assert rep["judgements"]["aircraft"]["confidence"] == "low"
    series = rep["series"]["aircraft"]
    assert [r["count"] for r in series] == [c.count for c in result.counts if c.used]
    assert [r["partial"] for r in series] == [False, True, False, False, False]
    last_pair = rep["changes"][-1]
    assert last_pair["stayed"] == result.pairs[-1].tally("stayed")
    assert last_pair["appeared"] == result.pairs[-1].tally("appeared")
    # the largest change is shown side by side, and says why
    shown = [(c["before_date"], c["after_date"]) for c in rep["before_after"]]
    assert ("2024-04-22", "2024-05-13") in shown and len(shown) <= 3
    assert all(c["why"].startswith(("large change", "an alert")) for c in rep["before_after"])
    images = {r["name"][:8]: r for r in rep["images"]}
    assert images["78400c58"]["registration"]["method"].split("+")[0] == "chain"
    assert all(r["used"] and r["licence"] == "CC BY-NC-SA 4.0" for r in rep["images"])
    assert rep["alerts"]["far_per_year"] == 1.0 and rep["scale"][0]["phrase"] == "almost no chance"
    det = rep["detectors"]["aircraft"]  # the shipped model's card: held-out AP and count error
    assert det["name"] == "sitewatch-aircraft" and det["ap50"] > 0.9 and det["count_error"] < 0.1
    assert (
        det["precision"] > 0.9
        and det["threshold"] == AIRCRAFT_THRESHOLD
        and not det["experimental"]
    )
    # a period shows its own dates only
    april = report_dict(m, date(2024, 4, 1), date(2024, 4, 30))
    assert [r["date"] for r in april["series"]["aircraft"]] == ["2024-04-08", "2024-04-22"]
    # its confidence weighs the views up to its end, not views it cannot have seen
    reasons = april["judgements"]["aircraft"]["confidence_reasons"]
    assert any("only 2 full-coverage view(s)" in r for r in reasons), reasons
    whole = rep["judgements"]["aircraft"]["confidence_reasons"]
    assert any("only 4 full-coverage view(s)" in r for r in whole), whole


def test_the_plot_shows_the_period_only(monitored) -> None:
    m = load_monitoring(monitored[0], "apt")
    whole = series_figure(m, "aircraft").axes[0]
    april = series_figure(m, "aircraft", date(2024, 4, 1), date(2024, 4, 30)).axes[0]

    def dates(ax):  # type: ignore[no-untyped-def]
        return sorted(
            mdates.num2date(x).date().isoformat()
            for line in ax.get_lines() for x in line.get_xdata(orig=False)
        )  # fmt: skip

    assert set(dates(whole)) >= {"2024-03-04", "2024-06-10"}
    assert set(dates(april)) == {"2024-04-08", "2024-04-22"}
    left, right = april.get_xlim()
    assert mdates.num2date(left).date() == date(2024, 4, 1)
    assert mdates.num2date(right).date() == date(2024, 4, 30)


class _Spans(HTMLParser):
    """Collects the text of every ``<span data-key=…>`` (the report's numbers)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        key = dict(attrs).get("data-key")
        if tag == "span" and key:
            self._key = key

    def handle_data(self, data: str) -> None:
        if self._key is not None:
            self.found.append((self._key, data))
            self._key = None


def _at(report: dict, key: str):
    node = report
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_every_number_in_the_html_equals_the_json_twin(monitored, tmp_path) -> None:
    import json

    from sitewatch.report.render import write_report

    catalog, _ = monitored
    files = write_report(catalog, "apt", tmp_path / "out" / "report.html")
    html = files.html.read_text()
    twin = json.loads(files.json.read_text())
    parser = _Spans()
    parser.feed(html)
    assert len(parser.found) > 60  # counts, intervals, changes, provenance, method, scale
    for key, text in parser.found:
        assert float(text) == pytest.approx(float(_at(twin, key)), abs=0), key
    assert twin["judgements"]["aircraft"]["text"] in html
    # self-contained: the plot is inline and nothing is loaded from elsewhere
    assert html.count("<svg") == 1 and 'src="http' not in html and "<link" not in html
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.json"]


def test_a_failed_pdf_leaves_no_file_behind(monitored, tmp_path, monkeypatch) -> None:
    from sitewatch.errors import MissingDependencyError
    from sitewatch.report import render

    def no_weasyprint(html: str, attach_json: bytes | None = None) -> bytes:
        raise MissingDependencyError("PDF output", "WeasyPrint is not usable", "pip install")

    monkeypatch.setattr(render, "to_pdf", no_weasyprint)
    catalog, _ = monitored
    with pytest.raises(MissingDependencyError, match="PDF output"):
        render.write_report(catalog, "apt", tmp_path / "r.html", pdf=tmp_path / "r.pdf")
    assert list(tmp_path.iterdir()) == []


def test_a_site_with_one_image_gets_an_honest_report(catalog, tmp_path) -> None:
    from sitewatch import add_frame_site
    from sitewatch.report.render import write_report
    from tests.conftest import DEMO_REF as REF

    add_frame_site(catalog, "lone", str(REF))
    files = write_report(catalog, "lone", tmp_path / "lone.html")
    html = files.html.read_text()
    assert "lone has one image (ef92f434" in html and "a single view cannot" in html
    assert "No judgement" in html and "No pair of dates" in html
    twin = json.loads(files.json.read_text())
    assert twin["classes"] == [] and len(twin["images"]) == 1
    assert twin["images"][0]["reason"] == "the only image of the site: nothing to compare it with"


def test_only_partial_coverage_is_said_plainly(tmp_path) -> None:
    from dataclasses import replace

    from sitewatch.alerts import AlertConfig
    from sitewatch.monitor.stage import alert_scan
    from sitewatch.monitor.stored import StoredMonitoring
    from sitewatch.report.build import report_dict
    from sitewatch.report.render import render_html
    from sitewatch.sites.registry import SiteImage
    from tests.report.test_language import counts_of

    counts = [replace(c, partial=True, coverage=0.4) for c in counts_of([12, 14, 13])[0]]
    images = {c.sha256: SiteImage(c.sha256, c.name, c.acquired_at, False, "Vendor", None, None,
                                  None, 0.5, 2560, 2560, False, "explicit", 0.4, 0, 12)
              for c in counts}  # fmt: skip
    m = StoredMonitoring("Pier", 1, AlertConfig(), counts, images=images)
    m.steps, m.episodes = alert_scan(counts, m.classes, m.alerts)
    rep = report_dict(m)
    text = rep["judgements"]["aircraft"]["text"]
    assert text.startswith("No image covers the whole of Pier")
    assert rep["judgements"]["aircraft"]["confidence"] == "low"
    assert all(p["partial"] and p["state"] == "partial" for p in rep["series"]["aircraft"])
    assert text in render_html(rep, {"aircraft": "<svg></svg>"})


def test_the_report_reads_back_every_alert_setting_monitoring_used(monitored, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The report re-derives episodes with the settings of the monitor run, not defaults
    (monitor used to store only the stated false-alarm rate)."""
    catalog = copy_catalog(monitored[0], tmp_path / "ws")
    tuned = replace(AlertConfig(), far_per_year=0.5, window=8, k=1.0, churn=0.1, end_after=3)
    monitor_site(catalog, "apt", alerts=tuned, write_chips=False)
    assert load_monitoring(catalog, "apt").alerts == tuned
    catalog.close()


def test_runs_from_before_all_settings_were_kept_read_as_then() -> None:
    assert AlertConfig.stored({"far_per_year": 0.5}) == AlertConfig(far_per_year=0.5)
    assert AlertConfig.stored({"alerts": {"k": 1.0, "gone": 1}}) == AlertConfig(k=1.0)
