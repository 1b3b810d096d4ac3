"""The stored pixel change (`sitewatch change`) in the dashboard, on the real Joplin pair
(2011-05-01, 2011-05-23: the tornado's path): the API answers each pair's regions in the site
frame with the areas the catalog holds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from shapely.geometry import shape

from sitewatch import Catalog
from sitewatch.change import load_change
from tests.web.conftest import make_client, with_joplin, with_joplin_change

KINDS = ("appeared", "removed", "altered")


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """The Joplin site registered and its change stored (read only by these tests)."""
    catalog = with_joplin_change(with_joplin(Catalog(tmp_path_factory.mktemp("pc") / "ws")))
    yield catalog
    catalog.close()


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
