"""The evidence a report weighs and its key judgements, from a site's stored monitoring
(``monitor.stored.load_monitoring``)."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

from sitewatch.alerts import Step
from sitewatch.alerts.method import Episode
from sitewatch.monitor.counts import Count
from sitewatch.monitor.stored import StoredMonitoring, load_monitoring
from sitewatch.report.judgement import KeyJudgement, key_judgement
from sitewatch.report.language import Evidence, assess_confidence
from sitewatch.store.catalog import Catalog


def evidence_of(
    m: StoredMonitoring, class_name: str, counts: list[Count] | None = None
) -> Evidence:
    """The evidence behind one class's judgement at the site, from ``counts`` (default: all;
    a report for a period passes the views up to its end)."""
    counts = m.counts if counts is None else counts
    mine = [c for c in counts if c.class_name == class_name]
    full = [c for c in mine if c.used and not c.partial]
    # images this class was not counted on (left out whole, or by its model)
    excluded = {c.sha256 for c in counts} - {c.sha256 for c in mine if c.used}
    gaps = [(_taken(b) - _taken(a)).total_seconds() / 86400 for a, b in pairwise(full)]
    acc = m.accuracy(class_name)
    measured = acc if acc is not None and not acc.source.startswith("unknown") else None
    return Evidence(
        full_views=len(full),
        partial_views=sum(c.partial for c in mine if c.used),
        excluded_images=len(excluded),
        longest_gap_days=max(gaps) if gaps else None,
        precision=measured.precision if measured is not None else None,
        recall=measured.recall if measured is not None else None,
        dates_illustrative=any(c.date_is_illustrative for c in full),
        providers=len({m.images[c.sha256].provider for c in full} - {None}),
        min_baseline=m.alerts.min_baseline,
    )


def _taken(c: Count) -> datetime:
    assert c.acquired_at is not None  # a used count is of a dated image (monitoring skips undated)
    return c.acquired_at


def judge(
    m: StoredMonitoring,
    class_name: str,
    counts: list[Count] | None = None,
    steps: list[Step] | None = None,
    episodes: list[Episode] | None = None,
) -> KeyJudgement:
    """One class's key judgement over ``counts``/``steps``/``episodes`` (default: all)."""
    return key_judgement(
        m.site,
        class_name,
        m.counts if counts is None else counts,
        m.steps[class_name] if steps is None else steps,
        m.episodes[class_name] if episodes is None else episodes,
        assess_confidence(evidence_of(m, class_name, counts)),
        m.alerts.min_baseline,
    )


def judgements(catalog: Catalog, name: str) -> dict[str, KeyJudgement]:
    """The key judgement for each class monitored at site ``name``."""
    m = load_monitoring(catalog, name)
    return {cls: judge(m, cls) for cls in m.classes}
