"""Claims in and out: batch import (JSON/YAML, or schema.org ClaimReview JSON-LD, so an
export imports back), ClaimReview export (what fact-checkers publish) and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitewatch import __version__
from sitewatch.claims.check import Verdict, check_claim
from sitewatch.claims.ledger import (
    ClaimSpec,
    SourceSpec,
    StoredClaim,
    checked,
    list_claims,
    store_claims,
)
from sitewatch.dates import day_or_none, parse_day
from sitewatch.errors import BadInputError
from sitewatch.monitor.stored import load_monitoring
from sitewatch.store.catalog import Catalog
from sitewatch.values import kind_of, load_json, load_yaml, read_document

# a prefix IRI must end in "#" or "/" for JSON-LD processors to expand sitewatch:terms
NS = "https://github.com/sitewatch/sitewatch/blob/main/docs/DESIGN.md#"
CONTEXT = ["https://schema.org", {"sitewatch": NS}]
RATING = {"contradicted": 1, "consistent": 2, "supported": 3}  # not observable: no number


def review(catalog: Catalog, site: str | None = None) -> list[tuple[StoredClaim, Verdict]]:
    """Every claim (of one site, or all) with its status against the site's monitoring."""
    claims = list_claims(catalog, site)
    monitoring = {name: load_monitoring(catalog, name) for name in {c.site for c in claims}}
    return [(c, check_claim(c, monitoring[c.site])) for c in claims]


# -- import --------------------------------------------------------------------------------
def read_claims(path: str | Path) -> list[ClaimSpec]:
    """Claims from a JSON or YAML file: a list (or ``{"claims": [...]}``) of plain records,
    or ClaimReview JSON-LD as ``export_claimreview`` writes it. Validated, not yet stored."""
    path = Path(path)
    text = read_document(path, "claims")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = load_yaml(text, path)
    else:
        data = load_json(text, path)
    items = _items(data, path)
    specs = []
    for i, item in enumerate(items, 1):
        where = f"{path} claim {i}"
        if not isinstance(item, dict):
            raise BadInputError(where, "each claim must be a mapping")
        try:
            spec = _from_review(item, where) if _is_review(item) else from_record(item, where)
            specs.append(checked(spec, where))
        except BadInputError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadInputError(where, f"malformed claim ({exc})") from None
    return specs


def import_claims(catalog: Catalog, path: str | Path) -> list[int]:
    """Store every claim in the file in one transaction (all or none); returns their ids."""
    return store_claims(catalog, read_claims(path))


def _items(data: Any, path: Path) -> list[Any]:
    if isinstance(data, dict) and "@graph" in data:
        data = data["@graph"]
    elif isinstance(data, dict) and "claims" in data:
        data = data["claims"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise BadInputError(path, "no claims found (expected a list of claims)")
    return data


_RECORD = {"text", "site", "from", "to", "expects", "class", "notes", "review_url", "sources"}
_SOURCE = {"kind", "outlet", "author", "date", "url", "origin", "quote"}


def from_record(item: dict[str, Any], where: str) -> ClaimSpec:
    """A claim from a plain record (a claims file's entry, the API's body), unchecked."""
    unknown = set(item) - _RECORD
    if unknown:
        raise BadInputError(where, f"unknown field(s) {sorted(unknown)}", f"use {sorted(_RECORD)}")
    listed = item.get("sources") or []
    if not isinstance(listed, list):
        raise BadInputError(where, f"sources must be a list, not {kind_of(listed)}")
    sources = []
    for j, src in enumerate(listed, 1):
        if not isinstance(src, dict):
            raise BadInputError(f"{where} source {j}", f"must be a mapping, not {kind_of(src)}")
        extra = set(src) - _SOURCE
        if extra:
            raise BadInputError(f"{where} source {j}", f"unknown field(s) {sorted(extra)}")
        sources.append(SourceSpec(
            kind=src.get("kind", ""), outlet=src.get("outlet"), author=src.get("author"),
            published=parse_day(src.get("date"), f"{where} source {j}"), url=src.get("url"),
            origin=src.get("origin"), quote=src.get("quote"),
        ))  # fmt: skip
    # values are kept as given: checked() refuses anything that is not text
    return ClaimSpec(
        text=item.get("text") or "", site=item.get("site") or "",
        start=parse_day(item.get("from"), where), end=parse_day(item.get("to"), where),
        expects=item.get("expects"), class_name=item.get("class"), notes=item.get("notes"),
        review_url=item.get("review_url"), sources=tuple(sources),
    )  # fmt: skip


def _is_review(item: dict[str, Any]) -> bool:
    return item.get("@type") == "ClaimReview"


def _from_review(item: dict[str, Any], where: str) -> ClaimSpec:
    claim = item.get("itemReviewed") or {}
    about = claim.get("about") or {}
    start, _, end = (claim.get("temporalCoverage") or "..").partition("/")
    sources = []
    for j, work in enumerate(claim.get("appearance") or [], 1):
        publisher = work.get("publisher") or {}
        author = work.get("author") or {}
        sources.append(SourceSpec(
            kind=work.get("sitewatch:kind", ""), outlet=publisher.get("name"),
            author=author.get("name"),
            published=parse_day(work.get("datePublished"), f"{where} source {j}"),
            url=work.get("url"), origin=work.get("sitewatch:origin"), quote=work.get("text"),
        ))  # fmt: skip
    return ClaimSpec(
        text=item.get("claimReviewed", ""), site=about.get("name", ""),
        start=parse_day(start if start != ".." else None, where),
        end=parse_day(end if end not in ("..", "") else None, where),
        expects=claim.get("sitewatch:expects"), class_name=claim.get("sitewatch:class"),
        notes=claim.get("sitewatch:notes"), review_url=item.get("sitewatch:reviewUrl"),
        sources=tuple(sources),
    )  # fmt: skip


# -- export --------------------------------------------------------------------------------
def claimreview(
    reviewed: list[tuple[StoredClaim, Verdict]],
    base_url: str | None = None,
    author: str = "sitewatch",
) -> dict[str, Any]:
    """schema.org ClaimReview JSON-LD for each claim: the claim, who made it (its
    appearances), the rating (1 contradicted … 3 supported; none when not observable) and
    the reasoning. A review's ``url`` is its own review URL, else its page under the public
    ``base_url`` where one is given; never a guess such as a loopback address."""
    today = datetime.now(UTC).date().isoformat()
    graph = []
    for c, v in reviewed:
        claim: dict[str, Any] = {
            "@type": "Claim",
            "about": {"@type": "Place", "name": c.site},
            "appearance": [_appearance(s) for s in c.sources],
            "sitewatch:expects": c.expects,
            "sitewatch:class": c.class_name,
        }
        if c.start or c.end:
            claim["temporalCoverage"] = f"{c.start or '..'}/{c.end or '..'}"
        if c.notes:
            claim["sitewatch:notes"] = c.notes
        dates = sorted(s["published"] for s in c.sources if s["published"])
        if dates:
            claim["datePublished"] = dates[0]
        makers = [_party(s) for s in c.sources if s["outlet"] or s["author"]]
        if makers:  # one outlet quoted by several sources is one author
            claim["author"] = [dict(t) for t in dict.fromkeys(tuple(m.items()) for m in makers)]
        rating: dict[str, Any] = {
            "@type": "Rating",
            "name": v.label,
            "alternateName": v.label,
            "ratingExplanation": " ".join(v.reasons + v.caveats),
        }
        if v.status in RATING:
            rating |= {"ratingValue": RATING[v.status], "worstRating": 1, "bestRating": 3}
        item: dict[str, Any] = {
            "@type": "ClaimReview",
            "datePublished": today,
            "author": {"@type": "Organization", "name": author},
            "claimReviewed": c.text,
            "itemReviewed": claim,
            "reviewRating": rating,
            "sitewatch:independentOrigins": v.origins,
            "sitewatch:status": v.status,
            "sitewatch:version": __version__,
        }
        if v.recycled:  # images in the window that reuse an earlier acquisition
            item["sitewatch:reusedImages"] = [
                {"sha256": r["sha256"], "name": r["image"], "reuses": r["reuses_sha256"]}
                for r in v.recycled
            ]
        if c.review_url:
            item["url"] = item["sitewatch:reviewUrl"] = c.review_url
        elif base_url:
            item["url"] = f"{base_url.rstrip('/')}/sites/{c.site}#claim-{c.id}"
        graph.append(item)
    return {"@context": CONTEXT, "@graph": graph}


def _appearance(s: dict[str, Any]) -> dict[str, Any]:
    work: dict[str, Any] = {"@type": "CreativeWork", "sitewatch:kind": s["kind"],
                            "sitewatch:origin": s["origin"]}  # fmt: skip
    if s["url"]:
        work["url"] = s["url"]
    if s["published"]:
        work["datePublished"] = s["published"]
    if s["outlet"]:
        work["publisher"] = {"@type": "Organization", "name": s["outlet"]}
    if s["author"]:
        work["author"] = {"@type": "Person", "name": s["author"]}
    if s["quote"]:
        work["text"] = s["quote"]
    return work


def _party(s: dict[str, Any]) -> dict[str, Any]:
    if s["outlet"]:
        return {"@type": "Organization", "name": s["outlet"]}
    return {"@type": "Person", "name": s["author"]}


CSV_COLUMNS = (
    "id", "site", "text", "from", "to", "expects", "class", "status", "label", "origins",
    "sources", "reasons", "caveats", "source_urls", "reused_images",
)  # fmt: skip


def claims_csv(reviewed: list[tuple[StoredClaim, Verdict]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c, v in reviewed:
        writer.writerow({
            "id": c.id, "site": c.site, "text": c.text, "from": c.start or "", "to": c.end or "",
            "expects": c.expects or "", "class": c.class_name or "", "status": v.status,
            "label": v.label, "origins": v.origins, "sources": v.sources,
            "reasons": " ".join(v.reasons), "caveats": " ".join(v.caveats),
            "source_urls": " ".join(s["url"] for s in c.sources if s["url"]),
            # sha256 of each image in the window found to reuse an earlier acquisition
            "reused_images": " ".join(r["sha256"] for r in v.recycled),
        })  # fmt: skip
    return buf.getvalue()


def claim_dict(c: StoredClaim, v: Verdict) -> dict[str, Any]:
    """A claim and its verdict as plain data (report.json, the API)."""
    return {
        "id": c.id, "site": c.site, "text": c.text,
        "from": day_or_none(c.start),
        "to": day_or_none(c.end),
        "expects": c.expects, "class": c.class_name, "notes": c.notes,
        "sources": c.sources, **v.to_dict(),
    }  # fmt: skip
