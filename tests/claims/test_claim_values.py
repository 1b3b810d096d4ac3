"""Claim values as the API, the dashboard and claim files give them: text is text within its
limit, URLs are http(s), ids fit the catalog, YAML dates stay text (issue 14, items 6, 9, 10)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sitewatch import Catalog, add_frame_site
from sitewatch.claims import ClaimSpec, SourceSpec, add_claim, get_claim, import_claims
from sitewatch.claims.exchange import from_record, read_claims
from sitewatch.errors import BadInputError, NotFoundError
from tests.conftest import DEMO_REF, EXAMPLES


@pytest.fixture
def ledger(catalog: Catalog) -> Catalog:
    add_frame_site(catalog, "apt", str(DEMO_REF))
    return catalog


@pytest.mark.parametrize(
    ("record", "phrase"),
    [
        ({"text": {"a": 1}, "site": "apt"}, "claim: text must be text, not a mapping"),
        ({"text": "t", "site": ["apt"]}, "claim: site must be text, not a list"),
        ({"text": "t", "site": "apt", "notes": 5}, "claim: notes must be text, not a number"),
        ({"text": "t", "site": "apt", "class": {"x": 1}}, "claim: class must be text"),
        ({"text": "t", "site": "apt", "expects": ["increase"]}, "expects must be text"),
        ({"text": "t", "site": "apt", "sources": "Wire"}, "sources must be a list, not text"),
        ({"text": "t", "site": "apt", "sources": ["Wire"]}, "claim source 1: must be a mapping"),
        (
            {"text": "t", "site": "apt", "sources": [{"kind": "media", "outlet": ["A"]}]},
            "claim source 1: outlet must be text, not a list",
        ),
        (
            {"text": "t", "site": "apt", "sources": [{"kind": "media", "url": "data:,x"}]},
            "claim source 1: url 'data:,x' is not an http(s) URL",
        ),
        ({"text": "t", "site": "apt", "review_url": "javascript:x"}, "review_url 'javascript:x'"),
        ({"text": "t" * 10_001, "site": "apt"}, "text is 10,001 characters long"),
    ],
)
def test_api_records_are_checked_field_by_field(ledger: Catalog, record: dict, phrase: str) -> None:
    with pytest.raises(BadInputError) as caught:
        add_claim(ledger, from_record(record, "claim"))
    assert phrase in str(caught.value)


def test_ids_beyond_the_catalog_are_not_found(ledger: Catalog) -> None:
    for claim_id in (0, -1, 2**63, 10**21):
        with pytest.raises(NotFoundError, match=f"no claim {claim_id}"):
            get_claim(ledger, claim_id)


def test_unquoted_yaml_dates_are_read_and_impossible_ones_named(
    ledger: Catalog, tmp_path: Path
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "claims:\n- text: t\n  site: apt\n  from: 2024-05-01\n  to: 2024-05-31T12:00:00Z\n"
        "  sources:\n  - {kind: media, outlet: Wire, date: 2024-05-20}\n"
    )
    (spec,) = read_claims(good)
    assert (spec.start, spec.end, spec.sources[0].published) == (
        date(2024, 5, 1), date(2024, 5, 31), date(2024, 5, 20)
    )  # fmt: skip
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims:\n- text: t\n  site: apt\n  to: 2024-02-30\n")
    with pytest.raises(BadInputError, match=r"bad.yaml claim 1: '2024-02-30' is not a date"):
        import_claims(ledger, bad)
    example = read_claims(EXAMPLES / "claims" / "demo-airport-claims.yaml")  # dates unquoted
    assert example and all(s.start and s.end for s in example if s.expects)


def test_stored_fields_are_trimmed(ledger: Catalog) -> None:
    spec = ClaimSpec("  t ", "apt", sources=(SourceSpec(" media ", outlet=" Wire "),))
    stored = get_claim(ledger, add_claim(ledger, spec))
    assert stored.text == "t" and stored.sources[0]["outlet"] == "Wire"
    assert stored.sources[0]["kind"] == "media" and stored.sources[0]["origin"] == "Wire"
