"""The dashboard in Debian's headless Chromium against a live server: what an analyst sees."""

from __future__ import annotations

from pathlib import Path

from sitewatch.claims import list_claims
from tests.conftest import write_jpeg
from tests.web.conftest import open_page as _page


def _tiles_loaded(page, box: str, at_least: int = 1) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(  # a function, not an expression: the CSP forbids eval
        f"() => document.querySelectorAll('{box} img.leaflet-tile-loaded').length >= {at_least}"
    )
    # decoded images with pixels, not broken-image placeholders
    sizes = page.eval_on_selector_all(
        f"{box} img.leaflet-tile-loaded", "t => t.map(i => i.naturalWidth)"
    )
    assert sizes and all(w == 256 for w in sizes)


def test_overview_site_page_and_viewer(server, browser, artifacts) -> None:
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready=overview]")
    rows = page.locator("#sites tbody tr")
    assert rows.count() == 2
    assert "warm-up" in rows.filter(has_text="apt").inner_text()
    assert "not monitored" in rows.filter(has_text="joplin").inner_text()
    assert page.locator("#sites svg.sparkline polyline").count() == 1
    assert page.locator("#map path.leaflet-interactive").count() == 1  # the Joplin AOI
    _tiles_loaded(page, "#map")  # the latest Joplin GeoTIFF, through rio-tiler
    page.screenshot(path=str(artifacts / "dashboard-overview.png"), full_page=True)

    page.get_by_role("link", name="apt", exact=True).click()
    page.wait_for_url("**/sites/apt")
    page.wait_for_selector("body[data-ready=site]")
    points = page.locator("#chart circle.point")
    assert points.count() == 5  # one per dated view, the partial one included
    assert page.locator("#chart circle.point.partial").count() == 1
    box = page.locator("#chart svg").bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 150
    _tiles_loaded(page, "#sitemap")
    assert page.locator("#sitemap path").count() >= 5  # area + footprints
    assert page.locator("#changes tbody tr").count() == 4
    provenance = page.locator("#images tbody tr")
    assert provenance.count() == 5 and "CC BY-NC-SA 4.0" in provenance.first.inner_text()
    assert "low confidence" in page.locator("#judgements").inner_text()
    claims = page.locator("#claims article.claim")
    assert [claims.nth(i).get_attribute("data-status") for i in range(claims.count())] == [
        "supported", "consistent", "not_observable", "not_observable",
    ]  # fmt: skip
    # the checks of the imagery: each stated, here never run (the server's catalog has none)
    checks = page.locator("#verification section.check")
    assert checks.count() == 3
    assert "Not run on any of the 5 image(s)." in checks.first.inner_text()
    assert "Cannot show:" in checks.first.inner_text()
    assert "2 independent origin(s) among 3 source(s)" in claims.first.inner_text()
    claims.first.screenshot(path=str(artifacts / "dashboard-claim.png"))
    page.fill("#period-from", "2024-04-01")
    page.fill("#period-to", "2024-05-31")
    pdf = page.locator("a.report", has_text="report (PDF)").get_attribute("href")
    assert pdf == "/api/sites/apt/report.pdf?from=2024-04-01&to=2024-05-31"
    report = page.evaluate("SW.api('/api/sites/apt/report.json?from=2024-04-01&to=2024-05-31')")
    assert {r["date"] for r in report["series"]["aircraft"]} == {
        "2024-04-08",
        "2024-04-22",
        "2024-05-13",
    }
    page.screenshot(path=str(artifacts / "dashboard-site.png"), full_page=True)

    last = points.last
    sha = last.get_attribute("data-sha")
    last.click()  # a date in the chart opens that date in the viewer
    page.wait_for_url(f"**/sites/apt/view?image={sha}")
    page.wait_for_selector("body[data-ready=viewer]")
    _tiles_loaded(page, "#viewer", 4)
    dets = page.evaluate(f"SW.api('/api/sites/apt/images/{sha}/detections')")
    own = dets["thresholds"]  # each class at the threshold it is counted at
    at_threshold = sum(d["score"] >= own[d["class"]] for d in dets["detections"])
    drawn = page.locator("#viewer path.detection")
    assert at_threshold > 10 and drawn.count() == at_threshold
    assert page.locator("#threshold-value").text_content().startswith("each class's own")
    assert page.locator("#threshold-own").is_disabled()
    assert page.locator("#pixel-change-box").is_hidden()  # `sitewatch change` not run on apt
    assert page.locator("#pixel-legend").count() == 0
    page.eval_on_selector(
        "#threshold", "e => { e.value = 0.05; e.dispatchEvent(new Event('input')); }"
    )
    expected = sum(d["score"] >= 0.05 for d in dets["detections"])
    assert expected > at_threshold and drawn.count() == expected  # the slider shows the doubtful
    assert page.locator("#threshold-value").text_content() == "0.05"
    page.locator("#threshold-own").click()  # back to each class's own
    assert drawn.count() == at_threshold and page.locator("#threshold-own").is_disabled()
    page.locator("#classes input").uncheck()
    assert drawn.count() == 0  # and the class toggle hides them
    page.locator("#classes input").check()
    assert page.locator("#viewer path").count() > drawn.count()  # site area outline is there

    site = page.evaluate("SW.api('/api/sites/apt')")
    pair = site["changes"][-1]  # the last compared pair ends on the date shown
    assert pair["after_sha256"] == sha
    compare = pair["before_sha256"]
    page.select_option("#compare", compare)
    page.wait_for_selector("#swipe-box:not([hidden])")
    _tiles_loaded(page, "#viewer .leaflet-before-pane", 1)
    clip = page.eval_on_selector(".leaflet-before-pane", "p => p.style.clip")
    assert clip.startswith("rect(")
    page.eval_on_selector("#swipe", "e => { e.value = 0.2; e.dispatchEvent(new Event('input')); }")
    assert page.eval_on_selector(".leaflet-before-pane", "p => p.style.clip") != clip
    page.wait_for_function(f"() => location.search.includes('compare={compare}')")  # redrawn
    page.wait_for_selector("#changes-box:not([hidden])")
    assert page.locator("#viewer path.change.appeared").count() == pair["appeared"]
    assert page.locator("#viewer path.change.departed").count() == pair["departed"]
    page.eval_on_selector("#swipe", "e => { e.value = 0.5; e.dispatchEvent(new Event('input')); }")
    assert page.locator(".swipe-line").is_visible()
    page.screenshot(path=str(artifacts / "dashboard-viewer-swipe.png"))
    assert not errors, errors


def test_upload_in_the_page_lands_in_the_timeline(server, browser, artifacts, tmp_path) -> None:
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(f"{server.url}/?token={server.token}")  # the address `sitewatch serve` prints
    page.wait_for_selector("body[data-ready=overview]")
    assert "token" not in page.url  # kept in a cookie, not in the address bar
    image = write_jpeg(tmp_path / "apt-2024-08-01.jpg", size=(320, 240), seed=5)
    page.set_input_files("#upload input[type=file]", str(image))
    page.select_option("#upload select[name=site]", "apt")
    page.fill("#upload input[name=acquired]", "2024-08-01")
    page.fill("#upload input[name=provider]", "Browser Test Sat")
    page.fill("#upload input[name=licence]", "CC0")
    page.click("#upload button[type=submit]")
    result = page.locator("#upload-result.ok")
    result.wait_for()
    assert "ingested" in result.inner_text() and "apt" in result.inner_text()
    page.screenshot(path=str(artifacts / "dashboard-upload.png"), full_page=True)
    page.goto(server.url + "/sites/apt")
    page.wait_for_selector("body[data-ready=site]")
    row = page.locator("#images tbody tr", has_text="apt-2024-08-01.jpg")
    assert row.count() == 1
    assert "2024-08-01" in row.inner_text() and "Browser Test Sat" in row.inner_text()
    sha = row.get_attribute("data-sha")
    tick = page.locator(f"#chart polygon.uncounted[data-sha='{sha}']")  # on the timeline,
    assert tick.count() == 1 and tick.get_attribute("data-date") == "2024-08-01"  # not counted
    last = page.locator("#chart circle.point").last
    assert float(tick.get_attribute("points").split(",")[0]) > float(last.get_attribute("cx"))
    assert not errors, errors


def test_a_claim_added_in_the_page_is_checked_at_once(server, browser) -> None:
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(f"{server.url}/sites/apt?token={server.token}")
    page.wait_for_selector("body[data-ready=site]")
    before = page.locator("#claims article.claim").count()
    page.locator("#claim-form-box summary").click()
    page.fill("#claim-form input[name=text]", "Aircraft were still there in June.")
    page.select_option("#claim-form select[name=expects]", "presence")
    page.fill("#claim-form input[name=from]", "2024-06-01")
    page.fill("#claim-form input[name=to]", "2024-06-30")
    page.fill("#claim-form input[name=outlet]", "Example Wire")
    page.fill("#claim-form input[name=origin]", "Airbus DS imagery")
    page.click("#claim-form button[type=submit]")
    page.locator("#claim-result.ok").wait_for()
    page.wait_for_function(
        f"() => document.querySelectorAll('#claims article.claim').length > {before}"
    )
    page.wait_for_selector("body[data-ready=site]")
    added = page.locator("#claims article.claim").last
    assert added.get_attribute("data-status") == "supported"
    assert "Aircraft were still there in June." in added.inner_text()
    assert "origin: Airbus DS imagery" in added.inner_text()
    assert not errors, errors


def test_without_the_token_the_page_cannot_write(server, browser) -> None:
    errors: list[str] = []
    page = _page(browser, errors)
    before = server.catalog.count_images()
    page.goto(server.url + "/sites/apt")
    page.wait_for_selector("body[data-ready=site]")
    page.click("#run-job")
    refused = page.locator("#job-status.error")
    refused.wait_for()
    assert "token" in refused.inner_text()
    claims = len(list_claims(server.catalog))
    page.locator("#claim-form-box summary").click()
    page.fill("#claim-form input[name=text]", "Unauthenticated claim.")
    page.click("#claim-form button[type=submit]")
    page.locator("#claim-result.error").wait_for()
    assert "token" in page.locator("#claim-result").inner_text()
    assert len(list_claims(server.catalog)) == claims
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready=overview]")
    page.set_input_files("#upload input[type=file]", str(Path(__file__)))
    page.click("#upload button[type=submit]")
    page.locator("#upload-result.error").wait_for()
    assert "token" in page.locator("#upload-result").inner_text()
    assert server.catalog.count_images() == before
    assert all("401" in e for e in errors), errors  # only the refusals themselves
