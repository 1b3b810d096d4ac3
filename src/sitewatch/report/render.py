"""Write a site's report: self-contained HTML (plots inline) and its JSON twin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sitewatch.claims.ledger import list_claims
from sitewatch.errors import MissingDependencyError
from sitewatch.files import write_bytes_atomic, write_json_atomic, write_text_atomic
from sitewatch.report.build import report_dict
from sitewatch.report.data import StoredMonitoring, load_monitoring
from sitewatch.report.figures import PairFigure, data_uri, pair_figure, site_view
from sitewatch.report.plots import series_figure, to_svg
from sitewatch.store.catalog import Catalog


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
) -> str:
    """The report as one HTML document (no external files, nothing fetched when opened)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("sitewatch.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["data_uri"] = data_uri
    return env.get_template("report.html.j2").render(
        r=report, svgs=svgs, figures=figures or [], site_jpeg=site_jpeg
    )


def write_report(
    catalog: Catalog,
    name: str,
    out: str | Path,
    start: date | None = None,
    end: date | None = None,
    pdf: str | Path | None = None,
) -> ReportFiles:
    """Write ``out`` (HTML), its twin (same name, ``.json``) and optionally ``pdf``.

    Everything is computed before the first byte is written, so a failure leaves no file.
    """
    out = Path(out)
    m: StoredMonitoring = load_monitoring(catalog, name)
    report = report_dict(m, start, end, list_claims(catalog, name))
    svgs = {cls: to_svg(series_figure(m, cls, start, end)) for cls in m.classes}
    figures = [
        pair_figure(catalog, name, c["before_sha256"], c["after_sha256"])
        for c in report["before_after"]
    ]
    html = render_html(report, svgs, figures, site_view(catalog, name))
    document = to_pdf(html) if pdf is not None else None
    twin = out.with_suffix(".json")
    write_json_atomic(twin, report)
    write_text_atomic(out, html)
    if document is not None:
        write_bytes_atomic(Path(pdf), document)
    return ReportFiles(out, twin, Path(pdf) if pdf is not None else None)


def to_pdf(html: str) -> bytes:
    """The HTML laid out as an A4 PDF by WeasyPrint (the ``pdf`` extra, Pango from Debian).

    Importing WeasyPrint sets Pillow's process-wide ``LOAD_TRUNCATED_IMAGES``, which would
    let every later decode in this process accept truncated JPEGs (ingest validation and
    detection rely on them failing); the flag is put back as it was.
    """
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
        return weasyprint.HTML(string=html).write_pdf()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
