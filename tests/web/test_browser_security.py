"""Hostile pages and hostile catalog data against the dashboard, in Debian's Chromium."""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from sitewatch.claims import list_claims
from sitewatch.store.models import ClaimSource, Image
from tests.conftest import write_jpeg
from tests.web.conftest import open_page

# a page another program on this machine serves: it posts to the dashboard with the cookie
HOSTILE_PAGE = """<!doctype html><title>cat pictures</title><body><script>
const target = new URLSearchParams(location.search).get("target");
const post = (path, body) =>
  fetch(target + path, { method: "POST", mode: "no-cors", credentials: "include", body });
(async () => {
  const jpeg = await (await fetch("evil.jpg")).blob();
  const form = new FormData();
  form.append("file", jpeg, "evil.jpg");
  form.append("site", "apt");
  form.append("acquired", "2024-07-01");
  const json = (value) => new Blob([JSON.stringify(value)]);  // no-cors: no JSON type allowed
  await Promise.allSettled([
    post("/api/images", form),
    post("/api/sites/apt/jobs", json({ stages: ["monitor"] })),
    post("/api/claims", json({ text: "Planted claim.", site: "apt" })),
    fetch(target + "/api/sites/apt/report.pdf", { mode: "no-cors", credentials: "include" }),
  ]);
  document.body.dataset.done = "1";
})();
</script></body>"""


@pytest.fixture
def hostile_site(tmp_path: Path) -> Iterator[str]:
    """HOSTILE_PAGE (and a JPEG to upload) served from another port of 127.0.0.1."""
    (tmp_path / "index.html").write_text(HOSTILE_PAGE)
    write_jpeg(tmp_path / "evil.jpg", size=(320, 240), seed=66)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _jobs(server) -> list[dict]:  # type: ignore[no-untyped-def]
    import json

    with urllib.request.urlopen(server.url + "/api/jobs", timeout=10) as res:
        return json.loads(res.read())


def test_a_page_on_another_local_port_cannot_use_the_cookie(
    server, browser, hostile_site, tmp_path, monkeypatch
) -> None:
    import sitewatch.report.render as render

    reports: list[str] = []
    real = render.write_report
    monkeypatch.setattr(
        render, "write_report", lambda *a, **k: reports.append("x") or real(*a, **k)
    )
    errors: list[str] = []
    page = open_page(browser, errors)
    page.goto(f"{server.url}/?token={server.token}")  # the analyst is logged in
    page.wait_for_selector("body[data-ready=overview]")
    images, claims, jobs = (
        server.catalog.count_images(), len(list_claims(server.catalog)), len(_jobs(server)),
    )  # fmt: skip

    page.goto(f"{hostile_site}/?target={server.url}")  # then visits another local page
    page.wait_for_selector("body[data-done='1']", state="attached")
    assert server.catalog.count_images() == images  # no upload,
    assert len(list_claims(server.catalog)) == claims  # no claim,
    assert len(_jobs(server)) == jobs  # no job
    assert reports == []  # and no report made

    errors.clear()  # the hostile page's own (its favicon, the refused requests)
    page.goto(server.url + "/")  # the dashboard's own upload still works with the cookie
    page.wait_for_selector("body[data-ready=overview]")
    page.set_input_files("#upload input[type=file]", str(write_jpeg(tmp_path / "own.jpg", seed=9)))
    page.select_option("#upload select[name=site]", "apt")
    page.fill("#upload input[name=acquired]", "2024-09-01")
    page.click("#upload button[type=submit]")
    page.locator("#upload-result.ok").wait_for()
    assert server.catalog.count_images() == images + 1
    assert not errors, errors


def test_javascript_urls_in_the_catalog_never_become_links(server, browser) -> None:
    hostile = ["javascript:alert(document.cookie)", " JaVaScRiPt:alert(1)", "data:text/html,x"]
    with server.catalog.session() as s:
        rows = s.scalars(select(Image).where(Image.original_name.like("%.jpg"))).all()[:4]
        source = s.scalars(select(ClaimSource)).first()
        saved = [(r.id, r.source_url) for r in rows], (source.id, source.url)
        for row, url in zip(rows, [*hostile, "https://example.org/scene"], strict=True):
            row.source_url = url  # as if stored before URLs were checked
        source.url = hostile[0]
    try:
        errors: list[str] = []
        page = open_page(browser, errors)
        page.goto(server.url + "/sites/apt")
        page.wait_for_selector("body[data-ready=site]")
        hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        assert hrefs and not [h for h in hrefs if urlsplit(h).scheme not in ("http", "https")]
        assert "https://example.org/scene" in hrefs  # http(s) links stay links
        text = page.locator("#images").inner_text() + page.locator("#claims").inner_text()
        assert hostile[0] in text and "data:text/html,x" in text  # shown, as text
        assert page.evaluate("window.cspViolations") == [] and not errors, errors

        with urllib.request.urlopen(server.url + "/api/sites/apt/report.html", timeout=60) as res:
            html = res.read().decode()
        assert 'http-equiv="Content-Security-Policy"' in html and "script-src" not in html
        page.set_content(html)  # the report as a browser shows the file
        hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        assert hrefs and not [h for h in hrefs if urlsplit(h).scheme not in ("http", "https")]
        assert "https://example.org/scene" in hrefs
        assert hostile[0] in page.locator("body").inner_text()
    finally:
        with server.catalog.session() as s:
            for image_id, url in saved[0]:
                s.get(Image, image_id).source_url = url
            s.get(ClaimSource, saved[1][0]).url = saved[1][1]


def test_pages_and_api_send_the_csp_and_break_none_of_it(server, browser) -> None:
    errors: list[str] = []
    page = open_page(browser, errors)
    for path, ready in (
        ("/", "body[data-ready=overview]"), ("/sites/apt", "body[data-ready=site]"),
        ("/sites/apt/view", "body[data-ready=viewer]"), ("/docs", ".opblock"),
    ):  # fmt: skip
        res = page.goto(server.url + path)
        assert res is not None and "script-src 'self'" in res.headers["content-security-policy"]
        page.wait_for_selector(ready)
        assert page.evaluate("window.cspViolations") == [], path
    api = page.request.get(server.url + "/api/sites")
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]
    assert api.headers["x-content-type-options"] == "nosniff"
    assert not errors, errors


def test_the_api_docs_render_with_the_network_off(server, browser) -> None:
    errors: list[str] = []
    page = open_page(browser, errors)
    offsite: list[str] = []

    def only_loopback(route) -> None:  # type: ignore[no-untyped-def]
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.goto(server.url + "/docs")
    page.wait_for_selector(".opblock")
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/sites/{name}/report.{fmt}" in [o.replace("\u200b", "") for o in operations]
    assert offsite == [] and not errors, (offsite, errors)
