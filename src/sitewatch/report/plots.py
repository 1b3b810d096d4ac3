"""The count time series a report shows: estimates with their interval, the baseline band,
alert episodes shaded, and partial-coverage counts marked apart (they never feed alerts)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sitewatch.monitor.counts import Count
    from sitewatch.monitor.stored import StoredMonitoring


def series_figure(
    m: StoredMonitoring, class_name: str, start: date | None = None, end: date | None = None
) -> Figure:
    """One class's counts over time at the site from ``start`` to ``end`` (inclusive; open
    when None), as a matplotlib Figure (not drawn yet)."""
    from matplotlib.figure import Figure

    def shown(t: datetime | None) -> bool:
        return (
            t is not None
            and (start is None or t.date() >= start)
            and (end is None or t.date() <= end)
        )

    counts = [c for c in m.counts if c.used and c.class_name == class_name and shown(c.acquired_at)]
    full = [c for c in counts if not c.partial]
    partial = [c for c in counts if c.partial]
    fig = Figure(figsize=(9, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    # steps past warm-up: each has a baseline and its usual range (low, high), set together
    band = [
        (s.t, s.low, s.high)
        for s in m.steps.get(class_name, [])
        if s.low is not None and s.high is not None and shown(s.t)
    ]
    if band:
        # matplotlib plots datetimes through its units machinery; its stubs say float arrays
        ax.fill_between([t for t, _, _ in band],  # type: ignore[arg-type]
                        [low for _, low, _ in band], [high for _, _, high in band],
                        step="mid", color="#9ab", alpha=0.35, lw=0,
                        label="usual range (baseline ± 2 spreads)")  # fmt: skip
    episodes = [
        e for e in m.episodes.get(class_name, [])
        if (end is None or e.start.date() <= end)
        and (start is None or e.end is None or e.end.date() >= start)
    ]  # fmt: skip
    last = full[-1].acquired_at if full else None  # shown() keeps dated counts only
    for i, e in enumerate(episodes):
        until = e.end or last or e.start
        # datetimes, as above: matplotlib converts them, its stubs want floats
        ax.axvspan(e.start, until, color="#e74", alpha=0.18, lw=0,  # type: ignore[arg-type]
                   label="alert episode" if i == 0 else None)  # fmt: skip
    if full:
        _points(ax, full, "o", "#124", "count (90 % interval)", filled=True)
    if partial:
        _points(ax, partial, "s", "#888", "partial coverage (not used for alerts)", filled=False)
    illustrative = any(c.date_is_illustrative for c in counts)
    if start is not None:  # an episode that began earlier is shaded from the period's start
        ax.set_xlim(left=datetime.combine(start, time(), UTC))  # type: ignore[arg-type]
    if end is not None:
        ax.set_xlim(right=datetime.combine(end, time(23, 59), UTC))  # type: ignore[arg-type]
    ax.set_ylabel(f"{class_name} in site")
    ax.set_ylim(bottom=0)
    ax.set_title(
        f"{m.site}: {class_name} over time" + (" (dates illustrative)" if illustrative else ""),
        loc="left",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.autofmt_xdate()
    return fig


def _points(
    ax: Axes, counts: list[Count], marker: str, colour: str, label: str, filled: bool
) -> None:
    t: list[datetime] = []
    est: list[float] = []
    below: list[float] = []
    above: list[float] = []
    for c in counts:
        # plotted counts are used ones: dated, with an estimate and its interval
        assert c.acquired_at is not None and c.estimate is not None
        assert c.low is not None and c.high is not None
        t.append(c.acquired_at)
        est.append(c.estimate)
        below.append(c.estimate - c.low)
        above.append(c.high - c.estimate)
    # datetimes on x: matplotlib converts them, its stubs want floats
    ax.errorbar(t, est, yerr=[below, above], fmt=marker, color=colour, ms=5, capsize=2,  # type: ignore[arg-type]
                mfc=colour if filled else "white", label=label)  # fmt: skip


def to_svg(fig: Figure) -> str:
    """The figure as a standalone SVG file's text, reproducible (no date, fixed ids); see
    ``inline_svg`` for the form an HTML page embeds."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "sitewatch", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"


def inline_svg(svg: str, label: str, prefix: str) -> str:
    """``svg`` (as ``to_svg`` writes it) as an element to paste into HTML: an image with
    ``label`` as its accessible name, its ids prefixed with ``prefix``.

    The XML prolog, DOCTYPE and RDF ``<metadata>`` belong to a standalone file; inside HTML
    they are validation errors (HTML has no processing instructions, one DOCTYPE, no RDF).
    The prefix keeps two plots' ids (clip paths, glyphs) from colliding on one page.
    """
    import xml.etree.ElementTree as ET

    # a global registry: the default namespace keeps tags as <svg>, <path>, not <ns0:svg>
    ET.register_namespace("", SVG)
    ET.register_namespace("xlink", XLINK)
    root = ET.fromstring(svg)
    for metadata in root.findall(f"{{{SVG}}}metadata"):
        root.remove(metadata)
    href = f"{{{XLINK}}}href"
    for el in root.iter():
        if "id" in el.attrib:
            el.set("id", prefix + el.attrib["id"])
        if el.get(href, "").startswith("#"):
            el.set(href, "#" + prefix + el.attrib[href][1:])
        for key, value in list(el.attrib.items()):
            if "url(#" in value:  # clip-path="url(#p…)"
                el.set(key, value.replace("url(#", "url(#" + prefix))
    root.set("role", "img")
    root.set("aria-label", label)
    title = ET.Element(f"{{{SVG}}}title")
    title.text = label  # shown as a tooltip; the accessible name in SVG's own terms
    root.insert(0, title)
    return ET.tostring(root, encoding="unicode")
