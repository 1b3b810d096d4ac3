"""Accessibility of every dashboard page in Debian's Chromium: axe-core's WCAG 2.x A/AA rules
and best practices, the structure screen readers navigate by, and a visible keyboard focus."""

from __future__ import annotations

import pytest

from tests.accessibility import axe_violations
from tests.web.conftest import open_page

EVERY_IMPACT = ("minor", "moderate", "serious", "critical")
# each page with what shows it is filled in (axe must see the rendered page, not a skeleton)
PAGES = [
    ("/", "body[data-ready=overview]"),
    ("/sites/apt", "body[data-ready=site]"),  # the demo airport: an image-frame site
    ("/sites/joplin", "body[data-ready=site]"),  # georeferenced, not monitored
    ("/sites/apt/view", "body[data-ready=viewer]"),
    ("/sites/joplin/view", "#viewer-note:not(:empty)"),  # no frame yet: the viewer says so
    ("/docs", ".opblock"),
]
DASHBOARD = [p for p in PAGES if p[0] != "/docs"]


def _open(server, browser, path: str, ready: str):  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = open_page(browser, errors)
    page.goto(server.url + path)
    page.wait_for_selector(ready)
    return page, errors


@pytest.mark.parametrize(("path", "ready"), PAGES)
def test_no_serious_or_critical_violations(server, browser, path: str, ready: str) -> None:
    # /docs too, Swagger UI's own markup included: its colours are overridden in app.css
    # and deep links are off (they put links inside the operation buttons)
    page, errors = _open(server, browser, path, ready)
    assert axe_violations(page) == [], path
    assert not errors, errors


@pytest.mark.parametrize(("path", "ready"), DASHBOARD)
def test_dashboard_pages_have_no_violations_at_all(server, browser, path: str, ready: str) -> None:
    # our own pages are held to every impact level (an empty table header is "minor", a
    # missing <h1> "moderate"). Not /docs: Swagger UI renders its title block outside its
    # own <main> and skips a heading level, both "moderate" and both in vendored code
    page, _errors = _open(server, browser, path, ready)
    assert axe_violations(page, EVERY_IMPACT) == [], path


@pytest.mark.parametrize(("path", "ready"), PAGES)
def test_pages_have_a_language_one_main_one_h1_and_landmarks(
    server, browser, path: str, ready: str
) -> None:
    page, _errors = _open(server, browser, path, ready)
    assert page.get_attribute("html", "lang") == "en"
    assert page.get_by_role("main").count() == 1, path
    assert page.locator("h1").count() == 1, path
    assert page.get_by_role("banner").count() == 1, path
    assert page.get_by_role("navigation").count() >= 1 or path == "/", path
    if path != "/docs":
        assert page.get_by_role("contentinfo").count() == 1, path


# what the focused element looks like: its outline, and its stroke if it is SVG
FOCUS_RING = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), svg: e instanceof SVGElement,
          text: e.textContent.trim().slice(0, 30), style: s.outlineStyle,
          width: parseFloat(s.outlineWidth), stroke: parseFloat(s.strokeWidth)};
}"""


@pytest.mark.parametrize(("path", "ready"), [PAGES[0], PAGES[1], PAGES[5]])
def test_keyboard_focus_is_visible(server, browser, path: str, ready: str) -> None:
    page, _errors = _open(server, browser, path, ready)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("e => e === document.activeElement")
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # moved into view while focused
    hidden = []
    for _ in range(40):  # links, buttons, fields, the map, chart marks, Swagger's controls
        ring = page.evaluate(FOCUS_RING)
        if ring["tag"] == "body":
            break
        # a 2 px ring (the browser's own is 1 px and often invisible on the dark header);
        # the chart's marks (SVG) may show it with a thicker stroke instead
        ringed = ring["style"] != "none" and ring["width"] >= 2
        if not (ringed or (ring["svg"] and ring["stroke"] >= 3)):
            hidden.append(ring)
        page.keyboard.press("Tab")
    assert hidden == [], hidden
