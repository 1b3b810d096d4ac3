"""Claims and sources in the catalog: validation, origins, the CLI, all-or-none imports."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitewatch import add_frame_site
from sitewatch.claims import (
    ClaimSpec,
    SourceSpec,
    add_claim,
    add_source,
    get_claim,
    import_claims,
    list_claims,
    remove_claim,
)
from sitewatch.cli import app
from sitewatch.errors import BadInputError, NotFoundError
from tests.conftest import DEMO_REF


@pytest.fixture
def ledger(catalog):  # type: ignore[no-untyped-def]
    add_frame_site(catalog, "apt", str(DEMO_REF))
    return catalog


def test_claim_round_trips_with_sources_and_derived_origins(ledger) -> None:
    spec = ClaimSpec(
        text="  More aircraft   at the apron. ", site="apt", start=date(2024, 5, 1),
        end=date(2024, 5, 31), expects="increase", class_name="Aircraft",
        sources=(
            SourceSpec("media", outlet="Example Wire", url="https://example.org/a"),
            SourceSpec("media", url="https://news.example.com/b"),
            SourceSpec("own_imagery"),
        ),
    )  # fmt: skip
    claim = get_claim(ledger, add_claim(ledger, spec))
    assert claim.text == "More aircraft at the apron." and claim.class_name == "aircraft"
    assert (claim.start, claim.end, claim.expects) == (
        date(2024, 5, 1),
        date(2024, 5, 31),
        "increase",
    )
    assert [s["origin"] for s in claim.sources] == [
        "Example Wire", "news.example.com", "own imagery",
    ]  # fmt: skip
    add_source(ledger, claim.id, SourceSpec("government", outlet="MoD", origin=" example  WIRE"))
    again = get_claim(ledger, claim.id)
    assert len(again.sources) == 4 and len(again.origins) == 3  # same origin: counted once
    remove_claim(ledger, claim.id)
    assert list_claims(ledger) == []


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (ClaimSpec("   ", "apt"), "claim: the claim text is empty"),
        (
            ClaimSpec("x", "apt", date(2024, 5, 2), date(2024, 5, 1)),
            "ends (2024-05-01) before it starts",
        ),
        (ClaimSpec("x", "apt", expects="massing"), "unknown expectation 'massing'"),
        (ClaimSpec("x", "apt", sources=(SourceSpec("rumour", outlet="X"),)), "unknown source kind"),
        (
            ClaimSpec("x", "apt", sources=(SourceSpec("media", url="ftp://x"),)),
            "not an http(s) URL",
        ),
        (ClaimSpec("x", "apt", sources=(SourceSpec("media"),)), "needs an outlet, author"),
    ],
)
def test_bad_claims_are_refused_and_nothing_is_stored(ledger, spec, says) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInputError, match=None) as info:
        add_claim(ledger, spec)
    assert says in str(info.value)
    assert list_claims(ledger) == []


def test_unknown_site_names_the_known_ones(ledger) -> None:
    with pytest.raises(NotFoundError, match="known sites: apt"):
        add_claim(ledger, ClaimSpec("x", "nowhere"))
    assert list_claims(ledger) == []


def test_import_is_all_or_none(ledger, tmp_path: Path) -> None:
    good = tmp_path / "claims.yaml"
    good.write_text(
        "claims:\n"
        "  - {text: one, site: apt, expects: presence}\n"
        "  - text: two\n    site: apt\n    from: 2024-01-01\n    sources:\n"
        "      - {kind: media, outlet: Example Wire, date: 2024-01-02}\n"
    )
    assert len(import_claims(ledger, good)) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('[{"text": "three", "site": "apt"}, {"text": "four", "site": "nowhere"}]')
    with pytest.raises(NotFoundError, match="nowhere"):
        import_claims(ledger, bad)
    typo = tmp_path / "typo.json"
    typo.write_text('[{"text": "five", "site": "apt", "expect": "increase"}]')
    with pytest.raises(BadInputError, match=r"typo.json claim 1: unknown field\(s\) \['expect'\]"):
        import_claims(ledger, typo)
    junk = tmp_path / "junk.json"
    junk.write_text('[{"text": "six", "site": "apt", "from": "2024-05-01junk"}]')
    with pytest.raises(BadInputError, match="'2024-05-01junk' is not a date"):
        import_claims(ledger, junk)
    broken = tmp_path / "broken.yaml"
    broken.write_text("claims: [unclosed\n")
    with pytest.raises(BadInputError, match=r"broken\.yaml: not valid YAML"):
        import_claims(ledger, broken)
    assert [c.text for c in list_claims(ledger)] == ["one", "two"]


def test_cli_add_show_list_and_refusals(ledger) -> None:
    ws = str(ledger.workspace)
    runner = CliRunner()
    result = runner.invoke(app, [
        "-w", ws, "claim", "add", "--site", "apt", "--text", "Jets arrived in May.",
        "--from", "2024-05-01", "--to", "2024-05-31", "--expects", "increase",
        "--source", "kind=media;outlet=Example Wire;date=2024-05-20;url=https://example.org/x",
        "--source", "kind=media;outlet=Example Daily;origin=Example Wire",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "claim 1 at apt" in result.stdout and "not observable" in result.stdout
    assert "1 independent origin(s) among 2 source(s)" in result.stdout
    listed = runner.invoke(app, ["-w", ws, "claim", "list"])
    assert listed.exit_code == 0 and "1 of 2" in listed.stdout
    for args, says in [
        (["--site", "apt", "--text", "x", "--from", "2024-06-01", "--to", "2024-05-01"],
         "before it starts"),
        (["--site", "nowhere", "--text", "x"], "no site named 'nowhere'"),
        (["--site", "apt", "--text", ""], "the claim text is empty"),
        (["--site", "apt", "--text", "x", "--from", "May"], "--from: 'May' is not a date"),
        (["--site", "apt", "--text", "x", "--source", "kind=media;who=me"],
         "'who=me' is not a known"),
    ]:  # fmt: skip
        bad = runner.invoke(app, ["-w", ws, "claim", "add", *args])
        assert bad.exit_code == 1 and says in bad.stderr, (args, bad.output)
        assert len(bad.stderr.strip().splitlines()) == 1  # one clear line
    assert len(list_claims(ledger)) == 1
    missing = runner.invoke(app, ["-w", ws, "claim", "show", "9"])
    assert missing.exit_code == 1 and "no claim 9" in missing.stderr
