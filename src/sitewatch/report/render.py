"""Write a site's report: self-contained HTML (plots inline), its JSON twin, and a PDF
(tagged; on request archival, PDF/A-3b with the twin attached)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sitewatch.claims.check import check_claim
from sitewatch.claims.exchange import claimreview
from sitewatch.claims.ledger import list_claims
from sitewatch.errors import BadInputError, MissingDependencyError
from sitewatch.files import write_bytes_atomic, write_text_atomic
from sitewatch.monitor.stored import StoredMonitoring, load_monitoring
from sitewatch.report.build import report_dict
from sitewatch.report.figures import (
    ChangeFigure,
    PairFigure,
    change_figure,
    data_uri,
    pair_figure,
    site_view,
)
from sitewatch.report.plots import inline_svg, series_figure, to_svg
from sitewatch.store.catalog import Catalog

if TYPE_CHECKING:
    from markupsafe import Markup


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    pdf: Path | None = None


def render_html(
    report: dict[str, Any],
    svgs: dict[str, str],
    figures: list[PairFigure] | None = None,
    site_jpeg: bytes | None = None,
    reviews: dict[str, Any] | None = None,
    change_figures: list[ChangeFigure] | None = None,
) -> str:
    """The report as one HTML document (no external files, nothing fetched when opened);
    ``svgs`` are inline plots (``inline_svg``), ``reviews`` the site's claims as ClaimReview
    JSON-LD, embedded for search engines and fact-check tools when given."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("sitewatch.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["data_uri"] = data_uri
    env.filters["jsonld"] = script_json
    return env.get_template("report.html.j2").render(
        r=report, svgs=svgs, figures=figures or [], site_jpeg=site_jpeg, claimreview=reviews,
        change_figures=change_figures or [],
    )  # fmt: skip


def script_json(data: Any) -> Markup:
    """``data`` as JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` written
    as JSON escapes, so no text in it (a claim quoting ``</script>``) can end the element
    or open a comment; JSON parsers read the same strings back."""
    from markupsafe import Markup

    text = json.dumps(data, indent=1, ensure_ascii=False)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escape)
    return Markup(text)  # made safe above for a script element, where HTML escapes are text


def plot_label(site: str, class_name: str) -> str:
    """The accessible name of a class's plot (the table after it has the same numbers)."""
    return (
        f"Chart of {class_name} counted at {site} over time: each count with its 90 % "
        "interval, the usual range and any alert episodes; the table below lists the numbers."
    )


def write_report(
    catalog: Catalog,
    name: str,
    out: str | Path,
    start: date | None = None,
    end: date | None = None,
    pdf: str | Path | None = None,
    archival: bool = False,
) -> ReportFiles:
    """Write ``out`` (HTML), its twin (same name, ``.json``) and optionally ``pdf``: tagged
    for screen readers, and with ``archival`` PDF/A-3b with the twin attached (report.json).

    Everything is computed before the first byte is written, so a failure leaves no file.
    """
    if archival and pdf is None:
        raise BadInputError("archival", "an archival PDF needs a PDF to write", "give pdf=…")
    # refused before any work when a path is the catalog's own database or image store
    out = catalog.output(out)
    for path in (out.with_suffix(".json"), *([pdf] if pdf is not None else [])):
        catalog.output(path)
    m: StoredMonitoring = load_monitoring(catalog, name)
    claims = list_claims(catalog, name)
    report = report_dict(m, start, end, claims)
    svgs = {
        cls: inline_svg(to_svg(series_figure(m, cls, start, end)), plot_label(m.site, cls),
                        f"plot{i}-")
        for i, cls in enumerate(m.classes)
    }  # fmt: skip
    figures = [
        pair_figure(catalog, name, c["before_sha256"], c["after_sha256"])
        for c in report["before_after"]
    ]
    # the same public address the dashboard's ClaimReview export uses; none: no review url
    reviews = (
        claimreview(
            [(c, check_claim(c, m)) for c in claims], os.environ.get("SITEWATCH_PUBLIC_URL")
        )
        if claims
        else None
    )
    changes = [
        change_figure(catalog, name, c["before_sha256"], c["after_sha256"])
        for c in report["pixel_change_figures"]
    ]
    html = render_html(report, svgs, figures, site_view(catalog, name), reviews, changes)
    # the twin's bytes, written once and attached as they are to an archival PDF
    twin_text = json.dumps(report, indent=1, ensure_ascii=False)
    document = None
    if pdf is not None:
        document = to_pdf(html, twin_text.encode("utf-8") if archival else None)
    twin = out.with_suffix(".json")
    write_text_atomic(twin, twin_text)
    write_text_atomic(out, html)
    if pdf is not None and document is not None:  # a document is made only for a pdf
        write_bytes_atomic(Path(pdf), document)
    return ReportFiles(out, twin, Path(pdf) if pdf is not None else None)


ARCHIVAL = "pdf/a-3b"  # PDF/A-3 allows an attached file of any kind; B: looks the same


def to_pdf(html: str, attach_json: bytes | None = None) -> bytes:
    """The HTML laid out as an A4 PDF by WeasyPrint (the ``pdf`` extra, Pango from Debian),
    tagged (headings, tables, figures for screen readers). Given ``attach_json`` (the JSON
    twin), an archival PDF/A-3b carrying it as ``report.json``, the data the pages show.

    Importing WeasyPrint sets Pillow's process-wide ``LOAD_TRUNCATED_IMAGES``, which would
    let every later decode in this process accept truncated JPEGs (ingest validation and
    detection rely on them failing); the flag is put back as it was.
    """
    import inspect

    from PIL import ImageFile

    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        try:
            import weasyprint
        except (ImportError, OSError) as exc:  # OSError: the Pango libraries are missing
            raise MissingDependencyError(
                "PDF output",
                f"WeasyPrint is not usable ({exc})",
                "pip install 'sitewatch[pdf]' and apt install libpango-1.0-0 libpangoft2-1.0-0",
            ) from None
        if "pdf_tags" not in weasyprint.DEFAULT_OPTIONS:
            raise MissingDependencyError(
                "PDF output",
                f"WeasyPrint {weasyprint.__version__} cannot tag a PDF for screen readers",
                "pip install -U weasyprint (66 or later)",
            )
        options: dict[str, Any] = {"pdf_tags": True}
        if attach_json is not None:
            # "Data": what the tables and plot are drawn from (ISO 32000-2, 7.11.3)
            relation = "relationship" in inspect.signature(weasyprint.Attachment).parameters
            options["pdf_variant"] = ARCHIVAL
            options["attachments"] = [
                weasyprint.Attachment(
                    string=attach_json, name="report.json",
                    description="the report's data (sitewatch report.json)",
                    **({"relationship": "Data"} if relation else {}),
                )
            ]  # fmt: skip
        return weasyprint.HTML(string=html).write_pdf(**options)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
