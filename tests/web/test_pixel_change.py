"""The stored pixel change (`sitewatch change`) in the dashboard, on the real Joplin pair
(2011-05-01, 2011-05-23: the tornado's path): the API answers each pair's regions in the site
frame with the areas the catalog holds, and the viewer draws them for the dates it swipes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import shape

from sitewatch import Catalog
from sitewatch.change import load_change
from tests.accessibility import axe_violations
from tests.web.conftest import (
    Server,
    make_client,
    open_page,
    serving,
    with_joplin,
    with_joplin_change,
)

KINDS = ("appeared", "removed", "altered")


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """The Joplin site registered and its change stored (read only by these tests)."""
    catalog = with_joplin_change(with_joplin(Catalog(tmp_path_factory.mktemp("pc") / "ws")))
    yield catalog
    catalog.close()


@pytest.fixture(scope="module")
def changed_server(changed: Catalog) -> Iterator[Server]:
    with serving(changed) as served:
        yield served


def test_each_stored_pair_is_answered_in_the_site_frame(changed: Catalog) -> None:
    stored = load_change(changed, "joplin")
    with make_client(changed) as client:
        res = client.get("/api/sites/joplin/pixel-change")
        site = client.get("/api/sites/joplin").json()
    assert res.status_code == 200
    body = res.json()
    assert body["site"] == "joplin" and body["limit"] == 500
    assert len(body["pairs"]) == len(stored) == 1
    pair, want = body["pairs"][0], stored[0]
    assert (pair["before_sha256"], pair["after_sha256"]) == (want.before, want.after)
    assert (pair["before_date"], pair["after_date"]) == ("2011-05-01", "2011-05-23")
    assert (pair["before"], pair["after"]) == ("joplin-pre.tif", "joplin-post.tif")
    assert pair["illustrative"] and pair["method"] == "irmad" and pair["unit"] == "m2"
    # the areas are the catalog's (to the tenth of a m² the answer keeps)
    assert pair["compared"] == pytest.approx(want.compared, abs=0.05)
    assert pair["changed"] == pytest.approx(want.area(), abs=0.05)
    for kind in KINDS:
        assert pair[kind] == pytest.approx(want.area(kind), abs=0.05), kind
    assert pair["removed"] > 0.9 * pair["changed"]  # the tornado's path is destruction
    # and the report's (the site page's pixel_change), which rounds to whole m²
    report = site["pixel_change"][0]
    assert all(pair[k] == pytest.approx(report[k], abs=0.5) for k in ("changed", *KINDS))
    # every region, largest first, each inside the site area in frame pixels
    assert pair["regions"] == pair["outlined"] == len(want.regions) == len(pair["outlines"])
    outlines = pair["outlines"]
    assert Counter(o["kind"] for o in outlines) == Counter(r.kind for r in want.regions)
    assert set(Counter(o["kind"] for o in outlines)) == set(KINDS)
    areas = [o["area"] for o in outlines]
    assert areas == sorted(areas, reverse=True)
    for kind in KINDS:
        total = sum(o["area"] for o in outlines if o["kind"] == kind)
        assert total == pytest.approx(want.area(kind), abs=0.05 * len(outlines)), kind
    frame = site["site_info"]["frame"]
    area = shape(frame["area"]).buffer(0.5)
    for o in outlines:
        outline = shape(o["outline"])
        x0, y0, x1, y1 = outline.bounds
        assert 0 <= x0 < x1 <= frame["width"] and 0 <= y0 < y1 <= frame["height"], o["kind"]
        assert area.contains(outline), o["kind"]
        assert outline.area == pytest.approx(o["area_px"], rel=0.01)  # the stored outline
    assert outlines[0]["kind"] == "removed" and outlines[0]["outline"]["type"] == "MultiPolygon"


def test_one_pair_either_way_round_and_a_cap_on_outlines(changed: Catalog) -> None:
    pc = "/api/sites/joplin/pixel-change"
    with make_client(changed) as client:
        full = client.get(pc).json()["pairs"][0]
        before, after = full["before_sha256"], full["after_sha256"]
        one = client.get(f"{pc}?before={before}&after={after}").json()
        flipped = client.get(f"{pc}?before={after}&after={before}").json()
        assert one["pairs"] == flipped["pairs"] == [full]
        capped = client.get(f"{pc}?before={before}&after={after}&limit=2").json()
        first = capped["pairs"][0]
        assert capped["limit"] == 2 and first["outlined"] == 2 and first["regions"] == 7
        assert first["outlines"] == full["outlines"][:2]  # the two largest
        assert first["removed"] == full["removed"]  # areas are still the whole pair's
        same = client.get(f"{pc}?before={after}&after={after}").json()
        assert same["pairs"] == []  # a pair never compared: none
        half = client.get(f"{pc}?before={before}")
        assert half.status_code == 400 and "both" in half.json()["detail"]
        other = client.get(f"{pc}?before={before}&after={'0' * 64}")
        assert other.status_code == 404 and "has no image" in other.json()["detail"]
        assert client.get(f"{pc}?limit=0").status_code == 422
        unknown = client.get("/api/sites/nowhere/pixel-change")
        assert unknown.status_code == 404 and "no site named 'nowhere'" in unknown.json()["detail"]


def test_the_viewer_draws_the_swiped_pairs_regions(
    changed_server: Server, browser, artifacts: Path
) -> None:
    errors: list[str] = []
    page = open_page(browser, errors)
    url = changed_server.url + "/sites/joplin/view"
    page.goto(url)
    page.wait_for_selector("body[data-ready=viewer]")
    assert page.locator("#pixel-change-box").is_visible()
    legend = page.locator("#pixel-legend")
    assert "Swipe a stored pair of dates" in legend.inner_text()
    paths = page.locator("#viewer path.pixel-change")
    assert paths.count() == 0

    api = page.evaluate("SW.api('/api/sites/joplin/pixel-change')")
    pair = api["pairs"][0]
    kinds = Counter(o["kind"] for o in pair["outlines"])
    page.select_option("#pixel-pair", label="2011-05-01 → 2011-05-23")  # the pair selector
    page.wait_for_selector(f"#viewer[data-pixel-change='{len(pair['outlines'])}']")
    assert page.input_value("#compare") == pair["before_sha256"]  # it sets the swipe's dates
    assert page.input_value("#image") == pair["after_sha256"]
    assert page.locator("#swipe-box").is_visible()
    assert paths.count() == len(pair["outlines"]) == 7
    for kind in KINDS:
        assert page.locator(f"#viewer path.pixel-change.{kind}").count() == kinds[kind], kind
    colours = {"removed": "#e63c32", "appeared": "#28c83c", "altered": "#ff9600"}  # the report's
    for kind, colour in colours.items():
        strokes = page.eval_on_selector_all(
            f"#viewer path.pixel-change.{kind}", "ps => ps.map(p => p.getAttribute('stroke'))"
        )
        assert set(strokes) == {colour}, kind
    # the text alternative: each kind's area, and how many regions are outlined
    text = legend.inner_text()
    assert "2011-05-01 → 2011-05-23 (irmad)" in text and "7 regions outlined" in text
    assert f"removed {pair['removed'] / 1e4:.2f} ha" in text
    assert f"appeared {round(pair['appeared'])} m²" in text
    assert page.locator("#pixel-legend li[data-kind]").count() == 3
    # drawn where the site is: inside the site area's outline, on the same frame coordinates
    site_box = page.locator("#viewer path[stroke='#ecc94b']").bounding_box()
    assert site_box is not None
    for i in range(paths.count()):
        box = paths.nth(i).bounding_box()
        assert box is not None and box["width"] > 0
        assert site_box["x"] - 2 <= box["x"] and box["x"] + box["width"] <= (
            site_box["x"] + site_box["width"] + 2
        )
        assert site_box["y"] - 2 <= box["y"] and box["y"] + box["height"] <= (
            site_box["y"] + site_box["height"] + 2
        )
    largest = paths.first.bounding_box()  # the tornado's path, most of the site's width
    assert largest is not None and largest["width"] > 0.9 * site_box["width"]
    page.wait_for_function(
        "() => document.querySelectorAll('#viewer img.leaflet-tile-loaded').length >= 2"
    )
    page.screenshot(path=str(artifacts / "dashboard-viewer-pixel-change.png"))
    assert axe_violations(page, ("minor", "moderate", "serious", "critical")) == []

    page.uncheck("#show-pixel-change")  # the layer toggle
    assert paths.count() == 0
    page.check("#show-pixel-change")
    assert paths.count() == 7
    page.select_option("#compare", "")  # no second date: no pair to show
    page.wait_for_function("() => !location.search.includes('compare=')")
    page.wait_for_selector("#viewer[data-pixel-change='0']")
    assert paths.count() == 0 and "Swipe a stored pair" in legend.inner_text()
    assert page.input_value("#pixel-pair") == ""

    # the swipe's two dates, either way round, from the address (as the site page links)
    page.goto(f"{url}?image={pair['before_sha256']}&compare={pair['after_sha256']}")
    page.wait_for_selector("body[data-ready=viewer]")
    assert page.get_attribute("#viewer", "data-pixel-change") == "7"
    assert paths.count() == 7 and page.input_value("#pixel-pair") == "0"
    assert page.evaluate("window.cspViolations") == [] and not errors, errors
