"""The report as a reader sees it: rendered by real headless Chromium, not just present."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sitewatch.report.render import write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra")
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    return sync_api.sync_playwright()


def test_report_renders_judgement_plot_and_provenance_in_chromium(monitored, tmp_path) -> None:
    catalog, _ = monitored
    files = write_report(catalog, "apt", tmp_path / "report.html")
    with _browser() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking",
                  "--disable-component-update"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(files.html.as_uri())
        judgement = page.locator(".judgement p.kj").first
        assert judgement.is_visible()
        assert "too few to say whether it is busier than usual" in judgement.inner_text()
        assert "Low confidence" in page.locator(".judgement").first.inner_text()
        plot = page.locator("figure.series svg").first
        box = plot.bounding_box()
        assert box is not None and box["width"] > 500 and box["height"] > 150  # drawn, sized
        site = page.locator("img.site")  # the site view: reference, area, footprints
        assert site.is_visible() and site.evaluate("e => e.complete && e.naturalWidth") == 760
        frames = page.locator("img.frame")  # before/after pairs, decoded and shown
        assert frames.count() >= 2 and frames.count() % 2 == 0
        for i in range(frames.count()):
            img = frames.nth(i)
            img.scroll_into_view_if_needed()
            assert img.is_visible() and img.evaluate("e => e.complete && e.naturalWidth") == 560
        rows = page.locator("table.provenance tbody tr")
        assert rows.count() == 5 and all(rows.nth(i).is_visible() for i in range(5))
        assert "CC BY-NC-SA 4.0" in rows.first.inner_text()
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 20_000


def test_pdf_has_pages_that_are_not_blank(monitored, tmp_path) -> None:
    import importlib.util
    import subprocess

    import numpy as np
    from PIL import Image

    # found, not imported: importing it here would flip the Pillow flag checked below
    if importlib.util.find_spec("weasyprint") is None:
        pytest.skip("the pdf extra (WeasyPrint) is not installed")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed (`make test` installs it)")
    from PIL import ImageFile

    catalog, _ = monitored
    files = write_report(catalog, "apt", tmp_path / "r.html", pdf=tmp_path / "r.pdf")
    # WeasyPrint's import flips a Pillow global; truncated images must still fail afterwards
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert files.pdf is not None and files.pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(files.pdf), str(tmp_path / "page")],
                   check=True)  # fmt: skip
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    for page in pages:
        grey = np.asarray(Image.open(page).convert("L"), float)
        assert grey.std() > 10, f"{page.name} is blank"
