"""The report as the field's own tools read it: poppler on the PDFs (tagged; archival
PDF/A-3 with report.json attached; every provenance column on the page), html5lib and
axe-core on the HTML, a JSON-LD parser on the embedded ClaimReview."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitewatch.cli import app
from sitewatch.report.render import write_report
from tests.conftest import copy_catalog
from tests.report.test_report_browser import CHROMIUM


def _needs(*tools: str) -> None:
    # found, not imported: importing WeasyPrint flips a Pillow global in the test process
    if importlib.util.find_spec("weasyprint") is None:
        pytest.skip("the pdf extra (WeasyPrint) is not installed")
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (poppler-utils) is not installed (`make test` installs it)")


def _run(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def pdfs(monitored, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The demo's report with its default PDF, and the archival PDF the CLI writes."""
    _needs("pdfinfo", "pdftotext", "pdfdetach")
    catalog, _ = monitored
    out = tmp_path_factory.mktemp("pdf")
    files = write_report(catalog, "apt", out / "r.html", pdf=out / "r.pdf")
    result = CliRunner().invoke(app, [
        "--workspace", str(catalog.workspace), "report", "apt", "--out", str(out / "a.html"),
        "--pdf", str(out / "a.pdf"), "--archival",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PDF/A-3b, report.json attached" in result.output
    return files, out / "a.pdf", out / "a.json"


def _info(pdf: Path) -> dict[str, str]:
    return dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in _run("pdfinfo", pdf).splitlines())
    )


def test_the_pdf_is_tagged_with_its_metadata_complete(pdfs) -> None:  # type: ignore[no-untyped-def]
    files, _, _ = pdfs
    info = _info(files.pdf)
    assert info["Tagged"] == "yes"  # a structure tree: headings, tables, figures for AT
    assert info["Title"] == "sitewatch report: apt"
    assert info["Author"] == "sitewatch" and info["Creator"].startswith("sitewatch ")
    assert "apt" in info["Subject"] and "CreationDate" in info and "ModDate" in info
    assert info["Page size"].endswith("(A4)")


def test_the_archival_pdf_is_pdf_a_3_carrying_the_json_twin(pdfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, archival, twin = pdfs
    info = _info(archival)
    assert info["Tagged"] == "yes" and info["Metadata Stream"] == "yes"
    xmp = _run("pdfinfo", "-meta", archival)
    # XMP writes the identification as attributes or as elements: accept either
    part = re.search(r"pdfaid:part(?:=\"|>)(\d)", xmp)
    conformance = re.search(r"pdfaid:conformance(?:=\"|>)([A-Z])", xmp)
    assert part and part.group(1) == "3", xmp
    assert conformance and conformance.group(1) in ("B", "U"), xmp
    assert "sitewatch report: apt" in xmp  # dc:title as in the document information
    listing = _run("pdfdetach", "-list", archival)
    assert re.search(r"^1: report\.json$", listing, re.M), listing
    saved = tmp_path / "attached.json"
    _run("pdfdetach", "-save", "1", "-o", saved, archival)
    assert json.loads(saved.read_text(encoding="utf-8")) == json.loads(twin.read_text())
    assert saved.read_bytes() == twin.read_bytes()  # the twin file itself, byte for byte


def test_archival_needs_a_pdf(monitored) -> None:  # type: ignore[no-untyped-def]
    catalog, _ = monitored
    result = CliRunner().invoke(app, ["--workspace", str(catalog.workspace), "report", "apt",
                                      "--archival"])  # fmt: skip
    assert result.exit_code != 0 and "--archival" in result.output and "--pdf" in result.output


@dataclass(frozen=True)
class Word:
    text: str
    x0: float
    y0: float
    x1: float
    page: int


def _words(pdf: Path) -> tuple[list[Word], float]:
    """Every word poppler finds on the pages with its box (points), and the page width;
    text outside the page is not among them (poppler clips to the page)."""
    out = _run("pdftotext", "-bbox", pdf, "-")
    width = float(re.search(r'<page width="([\d.]+)"', out).group(1))  # type: ignore[union-attr]
    words = []
    for page, body in enumerate(out.split("<page ")[1:], 1):
        for x0, y0, x1, _, text in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
            body,
        ):
            words.append(Word(html.unescape(text), float(x0), float(y0), float(x1), page))
    return words, width


def _column(words: list[Word], header: str, following: str | None) -> str:
    """The text of a table column, top to bottom, from its header to the next header's
    left edge (or the page's right side), on every page the header appears on."""
    parts = []
    for head in (w for w in words if w.text == header):
        right = min((w.x0 for w in words
                     if w.page == head.page and w.text == following and abs(w.y0 - head.y0) < 2),
                    default=1e9)  # fmt: skip
        cells = [w for w in words if w.page == head.page and w.y0 > head.y0 + 2
                 and head.x0 - 1 <= w.x0 < right - 1]  # fmt: skip
        parts += [w.text for w in sorted(cells, key=lambda w: (round(w.y0), w.x0))]
    return " ".join(parts)


def test_every_provenance_column_is_on_the_page(pdfs) -> None:  # type: ignore[no-untyped-def]
    """The A4 table used to run off the page: registration was cut, used and SHA-256 lost."""
    files, _, _ = pdfs
    words, width = _words(files.pdf)
    assert all(w.x1 <= width for w in words)
    twin = json.loads(files.json.read_text())
    for header in ("registration", "used", "SHA-256"):
        assert any(w.text == header for w in words), f"the {header} column is not on the page"
    registration = _column(words, "registration", "used")
    for im in twin["images"]:
        rmse = im["registration"]["rmse_px"]
        assert rmse == round(rmse, 2)  # hundredths of a pixel, not nine decimals
        assert f"{im['registration']['method']}, ok, RMSE {rmse} px" in registration
    # the whole hash is printed (a reader checks a file against it), wrapped in its cell
    hashes = _column(words, "SHA-256", None).replace(" ", "").replace("\u200b", "")
    for im in twin["images"]:
        assert im["sha256"] in hashes, im["name"]


def _parse_html(text: str):  # type: ignore[no-untyped-def]
    html5lib = pytest.importorskip("html5lib", reason="html5lib is a dev extra")
    parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=False)
    return parser.parse(text), parser.errors


def test_the_html_parses_without_errors_and_its_plot_is_a_named_image(monitored, tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog, _ = monitored
    text = write_report(catalog, "apt", tmp_path / "r.html").html.read_text()
    doc, errors = _parse_html(text)
    assert errors == []  # the XML prolog and DOCTYPE of the pasted SVG were two
    assert "<?xml" not in text and "rdf:RDF" not in text and text.count("<!DOCTYPE") == 1
    assert doc.get("lang") == "en"
    svg = doc.find(".//figure/{http://www.w3.org/2000/svg}svg")
    assert svg is not None and svg.get("role") == "img"
    assert svg.get("aria-label", "").startswith("Chart of aircraft counted at apt")
    assert doc.find(".//main") is not None


def test_axe_finds_nothing_to_fix_in_chromium(monitored, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.accessibility import axe_violations

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra")
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    catalog, _ = monitored
    files = write_report(catalog, "apt", tmp_path / "r.html")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(files.html.as_uri())
        # moderate too: "region" (content outside landmarks) and "landmark-one-main" are
        found = axe_violations(page, ("moderate", "serious", "critical"))
        browser.close()
    assert found == []


HOSTILE = 'Jets parked </script><script>alert(1)</script> & <!-- "more" -->'


def test_claims_are_embedded_as_claimreview_json_ld_that_cannot_break_out(
    monitored, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.claims import ClaimSpec, SourceSpec, add_claim

    catalog = copy_catalog(monitored[0], tmp_path / "ws")
    try:
        bare = write_report(catalog, "apt", tmp_path / "bare.html").html.read_text()
        assert "application/ld+json" not in bare  # no claims, no block
        add_claim(catalog, ClaimSpec(
            HOSTILE, "apt", date(2024, 4, 1), date(2024, 6, 30), "increase", "aircraft",
            sources=(SourceSpec("media", outlet="Wire </script>"),),
        ))  # fmt: skip
        text = write_report(catalog, "apt", tmp_path / "r.html").html.read_text()
    finally:
        catalog.close()
    doc, errors = _parse_html(text)
    assert errors == []
    scripts = doc.findall(".//script")
    assert [s.get("type") for s in scripts] == ["application/ld+json"]  # nothing ran away
    data = json.loads(scripts[0].text)
    (item,) = data["@graph"]
    assert data["@context"][0] == "https://schema.org" and item["@type"] == "ClaimReview"
    assert item["claimReviewed"] == HOSTILE
    assert item["itemReviewed"]["appearance"][0]["publisher"]["name"] == "Wire </script>"
    assert item["reviewRating"]["@type"] == "Rating"
    block = text[text.index('<script type="application/ld+json">') :]
    block = block[: block.index("</script>")]
    assert "<" not in block[1:] and "&" not in block  # written as \u003c and \u0026
    # the claim text is shown as text in the claims section, escaped for HTML
    (shown,) = [s for s in doc.iter("section") if s.get("id", "").startswith("claim-")]
    assert HOSTILE in "".join(shown.itertext())
