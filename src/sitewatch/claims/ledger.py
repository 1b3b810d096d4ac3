"""The claims ledger: public claims about a site, each with the sources that made it.

A claim says what should be visible at a site (``expects``) in a window of dates. Its sources
say who said it; sources repeating one origin (three outlets citing the same Maxar images, or
the same briefing) share an ``origin`` and count once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from sitewatch.dates import day_or_none
from sitewatch.errors import BadInputError, NotFoundError
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Claim, ClaimSource
from sitewatch.values import MAX_NAME, MAX_TEXT, http_url, text

EXPECTS = ("increase", "decrease", "presence", "absence", "construction", "destruction")
KINDS = (
    "imagery_provider",  # a satellite operator's own release or caption ("Maxar images show")
    "government",  # a government or intelligence assessment
    "media",  # an outlet's own reporting
    "named_official",
    "anonymous_official",
    "own_imagery",  # the analyst's own look at the imagery
)
MAX_CLASS = 64  # the catalog's class_name column
MAX_ID = 2**63 - 1  # the largest id the catalog can hold (SQLite INTEGER)


@dataclass(frozen=True)
class SourceSpec:
    """One source of a claim. ``origin`` defaults to the outlet (or author, or URL host)."""

    kind: str
    outlet: str | None = None
    author: str | None = None
    published: date | None = None
    url: str | None = None
    origin: str | None = None
    quote: str | None = None


@dataclass(frozen=True)
class ClaimSpec:
    """A claim as entered: the site it is about, what it expects, when, and its sources."""

    text: str
    site: str
    start: date | None = None
    end: date | None = None
    expects: str | None = None
    class_name: str | None = None
    notes: str | None = None
    review_url: str | None = None
    sources: tuple[SourceSpec, ...] = ()


@dataclass(frozen=True)
class StoredClaim:
    id: int
    site: str
    text: str
    start: date | None
    end: date | None
    expects: str | None
    class_name: str | None
    notes: str | None
    review_url: str | None
    created_at: datetime
    sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def origins(self) -> list[str]:
        """The distinct origins behind the claim, as first written."""
        seen: dict[str, str] = {}
        for s in self.sources:
            seen.setdefault(origin_key(s["origin"]), s["origin"])
        return list(seen.values())


def origin_key(origin: str) -> str:
    """Origins compare case- and space-insensitively ("Maxar " = "maxar")."""
    return " ".join(origin.split()).casefold()


def checked(spec: ClaimSpec, where: str = "claim") -> ClaimSpec:
    """The claim with its fields validated and tidied; a BadInputError names the field.

    Every field must be text within its limit (a mapping is never stored as its repr)."""
    claim_text = " ".join((text(spec.text, where, "text", MAX_TEXT) or "").split())
    if not claim_text:
        raise BadInputError(where, "the claim text is empty", "quote or summarise the claim")
    site = text(spec.site, where, "site", MAX_NAME) or ""
    if spec.start and spec.end and spec.end < spec.start:
        raise BadInputError(
            where, f"the window ends ({spec.end}) before it starts ({spec.start})",
            "swap --from and --to",
        )  # fmt: skip
    expects = text(spec.expects, where, "expects", MAX_NAME)
    if expects is not None and expects not in EXPECTS:
        raise BadInputError(
            where, f"unknown expectation {expects!r}", f"use one of {', '.join(EXPECTS)}"
        )
    sources = tuple(_source(s, f"{where} source {i}") for i, s in enumerate(spec.sources, 1))
    class_name = text(spec.class_name, where, "class", MAX_CLASS)
    return replace(
        spec, text=claim_text, site=site, expects=expects,
        class_name=class_name.lower() if class_name else None,
        notes=text(spec.notes, where, "notes", MAX_TEXT),
        review_url=http_url(spec.review_url, where, "review_url"), sources=sources,
    )  # fmt: skip


def _source(s: SourceSpec, where: str) -> SourceSpec:
    kind = text(s.kind, where, "kind", MAX_NAME)
    if kind not in KINDS:
        raise BadInputError(
            where, f"unknown source kind {kind or ''!r}", f"use one of {', '.join(KINDS)}"
        )
    outlet = text(s.outlet, where, "outlet", MAX_NAME)
    author = text(s.author, where, "author", MAX_NAME)
    url = http_url(s.url, where, "url")
    origin = text(s.origin, where, "origin", MAX_NAME)
    given_origin = origin
    origin = origin or outlet or author or (urlparse(url).hostname if url else None)
    if kind == "own_imagery" and not given_origin:
        origin = "own imagery"
    if not origin:
        raise BadInputError(where, "a source needs an outlet, author, URL or origin")
    return replace(
        s, kind=kind, outlet=outlet, author=author, url=url, origin=" ".join(origin.split()),
        quote=text(s.quote, where, "quote", MAX_TEXT),
    )  # fmt: skip


def _at(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def add_claim(catalog: Catalog, spec: ClaimSpec) -> int:
    """Store a claim and its sources; returns the claim's id."""
    return store_claims(catalog, [checked(spec)])[0]


def store_claims(catalog: Catalog, specs: list[ClaimSpec]) -> list[int]:
    """Store checked claims in one transaction (all or none); returns their ids."""
    with catalog.session() as s:
        sites = {name: catalog.get_site(s, name) for name in {sp.site for sp in specs}}
        rows = []
        for sp in specs:
            claim = Claim(
                site=sites[sp.site], text=sp.text, window_start=_at(sp.start),
                window_end=_at(sp.end), expects=sp.expects, class_name=sp.class_name,
                notes=sp.notes, review_url=sp.review_url,
            )  # fmt: skip
            claim.sources = [_row(src) for src in sp.sources]
            s.add(claim)
            rows.append(claim)
        s.flush()
        return [c.id for c in rows]


def add_source(catalog: Catalog, claim_id: int, source: SourceSpec) -> None:
    """Add one source to a stored claim."""
    source = _source(source, f"claim {claim_id} source")
    with catalog.session() as s:
        claim = _get(s, claim_id)
        claim.sources.append(_row(source))


def _row(src: SourceSpec) -> ClaimSource:
    return ClaimSource(
        kind=src.kind, outlet=src.outlet, author=src.author, published=_at(src.published),
        url=src.url, origin=src.origin, quote=src.quote,
    )  # fmt: skip


def _get(session: Any, claim_id: int) -> Claim:
    # an id beyond the catalog's integers cannot exist (and would overflow SQLite's)
    claim = session.get(Claim, claim_id) if 1 <= claim_id <= MAX_ID else None
    if claim is None:
        raise NotFoundError(f"no claim {claim_id}; `sitewatch claim list` shows them")
    return claim


def remove_claim(catalog: Catalog, claim_id: int) -> None:
    with catalog.session() as s:
        s.delete(_get(s, claim_id))


def get_claim(catalog: Catalog, claim_id: int) -> StoredClaim:
    with catalog.session() as s:
        return _stored(_get(s, claim_id))


def list_claims(catalog: Catalog, site: str | None = None) -> list[StoredClaim]:
    """Claims (of one site, or all), oldest first."""
    with catalog.session() as s:
        query = select(Claim).order_by(Claim.id)
        if site is not None:
            query = query.where(Claim.site_id == catalog.get_site(s, site).id)
        return [_stored(c) for c in s.scalars(query)]


def _stored(c: Claim) -> StoredClaim:
    return StoredClaim(
        id=c.id, site=c.site.name, text=c.text,
        start=c.window_start.date() if c.window_start else None,
        end=c.window_end.date() if c.window_end else None,
        expects=c.expects, class_name=c.class_name, notes=c.notes, review_url=c.review_url,
        created_at=c.created_at,
        sources=[
            {"kind": s.kind, "outlet": s.outlet, "author": s.author,
             "published": day_or_none(s.published),
             "url": s.url, "origin": s.origin, "quote": s.quote}
            for s in c.sources
        ],
    )  # fmt: skip
