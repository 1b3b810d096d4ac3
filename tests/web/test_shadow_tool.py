"""The viewer's shadow tool on the real Joplin pair: a shadow marked in the site frame is
carried back to the image's pixels, checked against the sun (NREL SPA) and stored with the
image, where the site page, its Verification section and the report show it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from pyproj import Geod

from sitewatch import Catalog, geo
from sitewatch.frame import project
from sitewatch.register import register_site
from sitewatch.register.site import frame_matrix, registrations
from sitewatch.verify import Place, sun_position
from tests.accessibility import axe_violations
from tests.conftest import JOPLIN
from tests.web.conftest import TOKEN, Server, make_client, open_page, serving, with_joplin

pytest.importorskip("pvlib", reason="the sun checks need the sun extra")

AUTH = {"Authorization": f"Bearer {TOKEN}"}
WHEN = datetime(2011, 5, 23, 17, 0, tzinfo=UTC)  # mid-morning in Missouri


@pytest.fixture(scope="module")
def joplin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """The Joplin site registered (its frame is the pre image's pixels), the post image
    claiming a time of its own (``WHEN``; the pre image's date stays illustrative)."""
    from sqlalchemy import update

    from sitewatch.store.models import Image

    catalog = with_joplin(Catalog(tmp_path_factory.mktemp("shadow") / "ws"))
    register_site(catalog, "joplin")
    with catalog.session() as s:
        s.execute(update(Image).where(Image.original_name == "joplin-post.tif")
                  .values(acquired_at=WHEN, date_is_illustrative=False))  # fmt: skip
    yield catalog
    catalog.close()


def _frame_shadow(catalog: Catalog, image: str, when: datetime, length_m: float = 15.0):
    """A shadow pointing away from the sun at ``when``, from the middle of ``image``, as
    frame pixels of the Joplin site (what a click in the viewer sends)."""
    with catalog.session() as s:
        site = catalog.get_site(s, "joplin")
        im = catalog.find_image(s, str(JOPLIN / image))
        matrix = frame_matrix(registrations(s, site)[im.id])
        transform, crs, size = tuple(im.transform), im.crs_wkt, (im.width, im.height)
        sha = im.sha256
    to_lonlat = geo.to_wgs84(geo.checked_crs(crs))
    x, y = geo.pixel_to_native(transform, np.array([size[0] / 2]), np.array([size[1] / 2]))
    lon, lat = (float(v[0]) for v in to_lonlat.transform(x, y))
    sun = sun_position(Place(lat, lon), when)
    tip_lon, tip_lat, _ = Geod(ellps="WGS84").fwd(lon, lat, sun.azimuth_deg + 180, length_m)
    back = to_lonlat.transform(np.array([lon, tip_lon]), np.array([lat, tip_lat]),
                               direction="INVERSE")  # fmt: skip
    cols, rows = geo.native_to_pixel(transform, *back)
    frame = project(matrix, np.column_stack([cols, rows]))
    return sha, [float(v) for v in frame[0]], [float(v) for v in frame[1]], sun


def test_a_marked_shadow_is_checked_stored_and_shown(joplin: Catalog) -> None:
    sha, base, tip, sun = _frame_shadow(joplin, "joplin-post.tif", WHEN)
    url = f"/api/sites/joplin/images/{sha}/shadow"
    with make_client(joplin) as client:
        # against the image's own claimed time (none given): a finding, stored
        res = client.post(url, json={"base": base, "tip": tip}, headers=AUTH)
        assert res.status_code == 200, res.text
        answer = res.json()
        check = answer["checks"][0]
        assert answer["image"] == sha and check["check"] == "shadow" and answer["stored"]
        assert check["verdict"] == "consistent", check
        assert check["claimed"] == "2011-05-23T17:00:00Z"
        # the frame → image → ground round trip keeps the direction to well under a degree
        assert check["measured"]["azimuth_deg"] == pytest.approx(sun.azimuth_deg, abs=0.5)
        assert check["computed"]["azimuth_deg"] == pytest.approx(sun.azimuth_deg, abs=1e-3)
        # what if it were five hours later? The sun stands far to the west of where the
        # shadow says: answered, not stored, and nothing against the image's own date
        late = client.post(url, headers=AUTH, json={
            "base": base, "tip": tip, "time": "2011-05-23T22:00Z"}).json()  # fmt: skip
        assert late["checks"][0]["verdict"] == "inconsistent" and not late["stored"]
        assert late["note"].startswith("not stored: checked against a time or place given")
        # with a day only, the times that fit are searched: they hold the real one
        day = client.post(url, headers=AUTH, json={"base": base, "tip": tip, "time": "2011-05-23"})
        fits = day.json()["checks"][0]["fits"]
        assert any(f["start"] <= "2011-05-23T17:00:00Z" <= f["end"] for f in fits), fits
        # stored with the image: the check of its own time only
        detail = client.get("/api/sites/joplin").json()
        image = next(im for im in detail["images"] if im["sha256"] == sha)
        sun_findings = [f for f in image["findings"] if f["check"] == "sun"]
        assert [f["verdict"] for f in sun_findings] == ["consistent"]
        # marked again (the same marks): the finding is replaced, not doubled
        assert client.post(url, json={"base": base, "tip": tip}, headers=AUTH).json()["stored"]
        detail = client.get("/api/sites/joplin").json()
        image = next(im for im in detail["images"] if im["sha256"] == sha)
        assert len([f for f in image["findings"] if f["check"] == "sun"]) == 1
        section = next(c for c in detail["verification"]["checks"] if c["check"] == "sun")
        assert section["images_checked"] == 1 and "joplin-pre.tif" in section["unchecked"]
        assert section["findings"][0]["image"] == "joplin-post.tif"
        report = client.get("/api/sites/joplin/report.html").text
        block = report[report.index('id="verify-sun"') : report.index('id="provenance"')]
        assert "joplin-post.tif" in block and "shadow:" in block and "Cannot show" in block


def test_bad_shadows_are_refused_in_one_line(joplin: Catalog) -> None:
    sha, base, tip, _sun = _frame_shadow(joplin, "joplin-post.tif", WHEN)
    url = f"/api/sites/joplin/images/{sha}/shadow"
    with make_client(joplin) as client:
        ok = {"base": base, "tip": tip, "time": "2011-05-23T17:00Z"}
        assert client.post(url, json=ok).status_code in (401, 403)  # writing needs the token
        cases = [
            ({**ok, "tip": base}, 400, "same point"),
            ({**ok, "height_m": 1e9}, 422, "height_m"),
            ({**ok, "time": "yesterday"}, 400, "unparseable time"),
            ({**ok, "time": "2011-05-23", "from": "2011-05-01"}, 400, "given with from/to"),
            ({**ok, "time": None, "from": "2011-02-30"}, 400, "not a date"),
            ({**ok, "time": None, "from": "2011-05-23", "to": "2011-05-01"}, 400, "before"),
            ({**ok, "base": [1e300, 1.0]}, 400, "is off the"),
        ]
        for body, status, words in cases:
            res = client.post(url, json=body, headers=AUTH)
            assert res.status_code == status, (body, res.text)
            assert words in res.text, res.text
        # NaN is no JSON, but Python's parser takes it: refused all the same
        raw = f'{{"base": [NaN, 1], "tip": {tip}, "time": "2011-05-23T17:00Z"}}'
        res = client.post(url, content=raw, headers={**AUTH, "Content-Type": "application/json"})
        assert res.status_code == 422 and "finite number" in res.text, res.text
        # the pre image's date is illustrative: it claims no time to check against
        pre, pbase, ptip, _s = _frame_shadow(joplin, "joplin-pre.tif", WHEN)
        res = client.post(f"/api/sites/joplin/images/{pre}/shadow", headers=AUTH,
                          json={"base": pbase, "tip": ptip})  # fmt: skip
        assert res.status_code == 400 and "no claimed time" in res.text, res.text
        other = "0" * 64
        assert client.post(f"/api/sites/joplin/images/{other}/shadow", json=ok,
                           headers=AUTH).status_code == 404  # fmt: skip


@pytest.fixture(scope="module")
def shadow_server(joplin: Catalog) -> Iterator[Server]:
    with serving(joplin) as served:
        yield served


def test_the_viewer_marks_a_shadow_and_shows_the_verdict(shadow_server: Server, browser) -> None:
    sha, base, tip, _sun = _frame_shadow(shadow_server.catalog, "joplin-post.tif", WHEN, 40.0)
    errors: list[str] = []
    page = open_page(browser, errors)
    page.goto(f"{shadow_server.url}/sites/joplin/view?image={sha}&token={TOKEN}")
    page.wait_for_selector("body[data-ready=viewer]")
    page.click("#shadow-tool")
    assert page.get_attribute("#shadow-tool", "aria-pressed") == "true"
    assert page.is_visible("#shadow-panel") and page.is_disabled("#shadow-check")
    # click where the frame points are: Leaflet's own projection, as the viewer uses it
    for point in (base, tip):
        xy = page.evaluate(
            """([x, y]) => { const m = SW.maps.viewer; const p = m.latLngToContainerPoint(
                 m.unproject(L.point(x, y), m.getMaxZoom() - 3));
                 const r = m.getContainer().getBoundingClientRect();
                 return [r.left + p.x, r.top + p.y]; }""",
            point,
        )
        page.mouse.click(*xy)
    assert page.get_attribute("#viewer", "data-shadow") == "2"
    assert page.locator(".shadow-line").count() == 1
    page.click("#shadow-check")  # against the image's own claimed time
    page.wait_for_selector("#shadow-result[data-verdict]")
    assert page.get_attribute("#shadow-result", "data-verdict") == "consistent"
    assert "Stored with the image" in page.inner_text("#shadow-result")
    assert axe_violations(page) == []
    page.click("#shadow-tool")  # off: the marks go
    assert page.locator(".shadow-mark").count() == 0 and not page.is_visible("#shadow-panel")
    assert errors == []
