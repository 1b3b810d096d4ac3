"""Claims against the real monitored demo; ClaimReview export checked and imported back."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest

from sitewatch import add_frame_site
from sitewatch.claims import (
    ClaimSpec,
    SourceSpec,
    add_claim,
    claimreview,
    claims_csv,
    import_claims,
    list_claims,
    review,
)
from sitewatch.monitor.stored import load_monitoring
from sitewatch.report.build import report_dict
from sitewatch.report.render import write_report
from tests.conftest import DEMO_REF, EXAMPLES, copy_catalog
from tests.report.test_report_data import _Spans

DEMO_CLAIMS = EXAMPLES / "claims" / "demo-airport-claims.yaml"


@pytest.fixture
def claimed(monitored, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The monitored demo airport with the demo's claims and a construction claim."""
    catalog = copy_catalog(monitored[0], tmp_path / "ws")
    mine = tmp_path / "claims.yaml"
    mine.write_text(DEMO_CLAIMS.read_text().replace("site: demo-airport", "site: apt"))
    import_claims(catalog, mine)
    add_claim(catalog, ClaimSpec(
        "A new hangar is being built.", "apt", date(2024, 4, 1), date(2024, 6, 30),
        "construction", sources=(SourceSpec("government", outlet="Example MoD"),),
    ))  # fmt: skip
    yield catalog
    catalog.close()


def test_demo_claims_against_the_real_pipeline(claimed) -> None:
    verdicts = {c.text[:20]: v for c, v in review(claimed, "apt")}
    rise = verdicts["Satellite images sho"]
    assert rise.status == "supported" and "2024-04-22" in rise.reasons[0]
    assert (rise.origins, rise.sources) == (2, 3)  # two outlets repeat one set of images
    pair = next(
        c for c in report_dict(load_monitoring(claimed, "apt"))["changes"]
        if (c["before_date"], c["after_date"]) == ("2024-04-22", "2024-05-13")
    )  # fmt: skip
    assert rise.reasons[1].endswith(
        f"1 consecutive pair(s) between those dates: {pair['appeared']} appeared, "
        f"{pair['departed']} departed"
    )
    assert "illustrative" in rise.caveats[0]
    assert verdicts["Aircraft were moved "].status == "consistent"
    assert verdicts["A new hangar is bein"].status == "not_observable"
    # a claim about vehicles is judged on vehicle counts: none were detected here, so it
    # cannot be checked, whatever the aircraft did in May
    convoy = verdicts["Convoys of vehicles "]
    assert convoy.status == "not_observable" and "vehicle" in " ".join(convoy.reasons)


def test_report_has_a_claims_section_whose_numbers_are_the_json(claimed, tmp_path) -> None:
    files = write_report(claimed, "apt", tmp_path / "r.html")
    html = files.html.read_text()
    data = json.loads(files.json.read_text())
    assert [c["status"] for c in data["claims"]] == [
        "supported",
        "consistent",
        "not_observable",
        "not_observable",
        "not_observable",  # the image of 27 May the last one rests on is not in this catalog
    ]
    section = html[html.index('id="claims"') : html.index('id="verification"')]
    for label in ("supported by imagery", "consistent but not conclusive",
                  "not observable with the available imagery"):  # fmt: skip
        assert label in section
    assert "Example Wire" in section and "origin: Airbus DS imagery" in section

    parser = _Spans()
    parser.feed(section)
    assert len(parser.found) == 10  # origins and sources of each of the five claims
    for key, text in parser.found:
        _, i, field = key.split(".")
        assert str(data["claims"][int(i)][field]) == text


REQUIRED = ("@type", "url", "claimReviewed", "author", "reviewRating", "itemReviewed",
            "datePublished")  # fmt: skip
NS = "https://github.com/sitewatch/sitewatch/blob/main/docs/DESIGN.md#"


def test_claimreview_has_the_schema_org_structure(claimed) -> None:
    doc = claimreview(review(claimed), base_url="https://desk.example.org/")
    assert doc["@context"][0] == "https://schema.org"
    reviews = doc["@graph"]
    assert len(reviews) == 5
    for item in reviews:
        assert all(item.get(k) for k in REQUIRED), item
        assert item["@type"] == "ClaimReview"
        assert re.fullmatch(r"https://desk\.example\.org/sites/apt#claim-\d+", item["url"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", item["datePublished"])
        assert item["author"]["@type"] in ("Organization", "Person") and item["author"]["name"]
        rating = item["reviewRating"]
        assert rating["@type"] == "Rating" and rating["name"] == rating["alternateName"]
        if "ratingValue" in rating:
            assert rating["worstRating"] <= rating["ratingValue"] <= rating["bestRating"]
        claim = item["itemReviewed"]
        assert claim["@type"] == "Claim" and claim["about"] == {"@type": "Place", "name": "apt"}
        for work in claim["appearance"]:
            assert work["@type"] == "CreativeWork"
            assert "url" not in work or work["url"].startswith("https://")
    rated = {r["sitewatch:status"]: r["reviewRating"].get("ratingValue") for r in reviews}
    assert rated == {"supported": 3, "consistent": 2, "not_observable": None}


def test_claimreview_round_trips_through_import(claimed, tmp_path) -> None:
    path = tmp_path / "claims.jsonld"
    path.write_text(json.dumps(claimreview(review(claimed))))
    fresh_site = tmp_path / "fresh"
    from sitewatch import Catalog

    fresh = Catalog(fresh_site)
    add_frame_site(fresh, "apt", str(DEMO_REF))
    import_claims(fresh, path)

    def plain(c):  # type: ignore[no-untyped-def]
        return (c.site, c.text, c.start, c.end, c.expects, c.class_name, c.notes, c.sources)

    assert [plain(c) for c in list_claims(fresh)] == [plain(c) for c in list_claims(claimed)]
    fresh.close()


def test_csv_lists_each_claim_with_status_and_origins(claimed) -> None:
    rows = list(csv.DictReader(io.StringIO(claims_csv(review(claimed)))))
    statuses = ["supported", "consistent", "not_observable", "not_observable", "not_observable"]
    assert [r["status"] for r in rows] == statuses
    assert all(r["reused_images"] == "" for r in rows)  # nothing verified as reused here
    assert rows[0]["origins"] == "2" and rows[0]["sources"] == "3"
    assert rows[0]["source_urls"].split() == [
        "https://example.org/wire/airport-buildup", "https://example.org/daily/airport",
    ]  # fmt: skip


def test_claimreview_terms_expand_and_no_url_is_guessed(claimed) -> None:
    """The sitewatch: prefix is a JSON-LD prefix (its IRI ends in '#'), a review has a url
    only when a public address is configured, and authors are not repeated."""
    doc = claimreview(review(claimed))
    assert doc["@context"][1] == {"sitewatch": NS} and NS.endswith(("#", "/"))
    for item in doc["@graph"]:
        assert "url" not in item
        authors = item["itemReviewed"].get("author", [])
        assert len(authors) == len({(a["@type"], a["name"]) for a in authors})
