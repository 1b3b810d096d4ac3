"""`sitewatch claim …`: the claims ledger on the command line (a shell over sitewatch.claims)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.cli_common import catalog, err, fails_cleanly, out

if TYPE_CHECKING:
    from sitewatch.claims import SourceSpec
    from sitewatch.store.catalog import Catalog

claim_app = typer.Typer(
    help="Public claims about sites, their sources, and what the imagery says of them.",
    no_args_is_help=True,
)
STYLE = {"supported": "green", "consistent": "yellow", "contradicted": "red",
         "not_observable": "dim"}  # fmt: skip
SOURCE_HELP = (
    "A source as key=value pairs separated by ';': kind (imagery_provider, government, media, "
    "named_official, anonymous_official, own_imagery), outlet, author, date, url, origin, "
    "quote. Repeat for more sources."
)


def _source(text: str) -> SourceSpec:
    from sitewatch.claims import SourceSpec
    from sitewatch.dates import parse_day
    from sitewatch.errors import BadInputError
    from sitewatch.values import shown

    fields: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ("kind", "outlet", "author", "date", "url", "origin", "quote"):
            raise BadInputError("--source", f"{shown(part.strip())} is not a known key=value pair")
        fields[key] = value.strip()
    day = parse_day(fields.pop("date", None), "--source date")
    return SourceSpec(kind=fields.pop("kind", ""), published=day, **fields)


@claim_app.command("add")
@fails_cleanly
def claim_add(
    text: Annotated[str, typer.Option("--text", help="The claim, quoted or summarised.")],
    site: Annotated[str, typer.Option(help="The site it is about.")],
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    expects: Annotated[
        str | None,
        typer.Option(help="increase | decrease | presence | absence | construction | destruction"),
    ] = None,
    class_name: Annotated[
        str | None, typer.Option("--class", help="Object class (default: the site's).")
    ] = None,
    source: Annotated[list[str] | None, typer.Option(help=SOURCE_HELP)] = None,
    notes: Annotated[str | None, typer.Option(help="Analyst's notes.")] = None,
) -> None:
    """Add a claim about a site, with its sources."""
    from sitewatch.claims import ClaimSpec, add_claim
    from sitewatch.dates import parse_day

    spec = ClaimSpec(
        text=text, site=site, start=parse_day(start, "--from"), end=parse_day(end, "--to"),
        expects=expects, class_name=class_name, notes=notes,
        sources=tuple(_source(s) for s in source or []),
    )  # fmt: skip
    cat = catalog()
    _print_one(cat, add_claim(cat, spec))


@claim_app.command("source")
@fails_cleanly
def claim_source(
    claim_id: Annotated[int, typer.Argument(help="The claim's id.")],
    source: Annotated[str, typer.Argument(help=SOURCE_HELP)],
) -> None:
    """Add a source to a claim."""
    from sitewatch.claims import add_source

    cat = catalog()
    add_source(cat, claim_id, _source(source))
    _print_one(cat, claim_id)


@claim_app.command("list")
@fails_cleanly
def claim_list(site: Annotated[str | None, typer.Option(help="Only this site.")] = None) -> None:
    """Every claim with its status against the imagery and its independent origins."""
    from sitewatch.claims import review

    rows = review(catalog(), site)
    table = Table(title="claims", title_justify="left")
    for col in ("id", "site", "claim", "expects", "window", "status", "origins"):
        table.add_column(col)
    for c, v in rows:
        window = f"{c.start or '…'} – {c.end or '…'}" if c.start or c.end else "any"
        table.add_row(
            str(c.id), escape(c.site), escape(c.text), c.expects or "—", window,
            f"[{STYLE[v.status]}]{v.label}[/]" + (
                f"\n[red]{len(v.recycled)} reused image(s) left out[/]" if v.recycled else ""
            ), f"{v.origins} of {v.sources}",
        )  # fmt: skip
    out.print(table if rows else "no claims")


@claim_app.command("show")
@fails_cleanly
def claim_show(claim_id: Annotated[int, typer.Argument(help="The claim's id.")]) -> None:
    """One claim: its status and the reasoning, the views weighed, and its sources."""
    _print_one(catalog(), claim_id)


def _print_one(cat: Catalog, claim_id: int) -> None:
    from sitewatch.claims import check_claim, get_claim
    from sitewatch.monitor.stored import load_monitoring

    c = get_claim(cat, claim_id)
    v = check_claim(c, load_monitoring(cat, c.site))
    out.print(f"claim {c.id} at {escape(c.site)}: “{escape(c.text)}”", highlight=False)
    out.print(f"  [{STYLE[v.status]}]{v.label}[/]", highlight=False)
    for reason in v.reasons:
        out.print(f"  because {escape(reason)}", highlight=False)
    for caveat in v.caveats:
        out.print(f"  caveat: {escape(caveat)}", highlight=False)
    for ch in v.change:
        out.print(f"  change {ch['before_date']} → {ch['after_date']}: {ch['kind_area']:,.0f} "
                  f"{'m²' if ch['unit'] == 'm2' else 'frame px'} {ch['kind']} in {ch['regions']} "
                  f"region(s) of {ch['compared']:,.0f} compared ({escape(ch['method'])})",
                  highlight=False)  # fmt: skip
    for e in v.evidence:
        ref = " (reference)" if e.get("reference") else ""
        part = ", partial view" if e["partial"] else ""
        out.print(f"  view {e['date']}: {e['estimate']} ({e['low']}–{e['high']}){part}{ref}",
                  highlight=False)  # fmt: skip
    out.print(f"  {v.origins} independent origin(s) among {v.sources} source(s)")
    for s in c.sources:
        who = s["outlet"] or s["author"] or s["origin"]
        when = f", {s['published']}" if s["published"] else ""
        url = f" {escape(s['url'])}" if s["url"] else ""
        out.print(f"    {escape(who)} ({escape(s['kind'])}{when}; origin {escape(s['origin'])})"
                  f"{url}", highlight=False)  # fmt: skip


@claim_app.command("rm")
@fails_cleanly
def claim_rm(claim_id: Annotated[int, typer.Argument(help="The claim's id.")]) -> None:
    """Delete a claim and its sources."""
    from sitewatch.claims import remove_claim

    remove_claim(catalog(), claim_id)
    out.print(f"removed claim {claim_id}")


@claim_app.command("import")
@fails_cleanly
def claim_import(
    path: Annotated[Path, typer.Argument(help="JSON/YAML claims, or ClaimReview JSON-LD.")],
) -> None:
    """Add a batch of claims from a file: all of them, or none if any is bad."""
    from sitewatch.claims import import_claims

    ids = import_claims(catalog(), path)
    out.print(f"imported {len(ids)} claim(s): {', '.join(map(str, ids))}")


@claim_app.command("export")
@fails_cleanly
def claim_export(
    out_path: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[
        str, typer.Option("--format", help="claimreview (JSON-LD) or csv.")
    ] = "claimreview",
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            envvar="SITEWATCH_PUBLIC_URL",
            help="Public address of the dashboard, for each review's url (else none is given).",
        ),
    ] = None,
    author: Annotated[str, typer.Option(help="Who reviewed the claims.")] = "sitewatch",
) -> None:
    """Write claims with their status as schema.org ClaimReview JSON-LD or CSV."""
    from sitewatch.claims import claimreview, claims_csv, review
    from sitewatch.errors import BadInputError
    from sitewatch.files import write_text_atomic

    if fmt not in ("claimreview", "csv"):
        raise BadInputError("--format", f"unknown format {fmt!r}", "use claimreview or csv")
    rows = review(catalog(), site)
    text = (
        json.dumps(claimreview(rows, base_url, author), indent=1, ensure_ascii=False)
        if fmt == "claimreview"
        else claims_csv(rows)
    )
    write_text_atomic(out_path, text)
    out.print(f"wrote {len(rows)} claim(s) to {escape(str(out_path))}", highlight=False)
    if not rows:
        err.print("warning: no claims to export", highlight=False)
