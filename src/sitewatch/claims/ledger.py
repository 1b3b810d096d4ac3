"""The claims ledger: public claims about a site, each with the sources that made it.

A claim says what should be visible at a site (``expects``) in a window of dates. Its sources
say who said it; sources repeating one origin (three outlets citing the same Maxar images, or
the same briefing) share an ``origin`` and count once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from sitewatch.errors import BadInputError, NotFoundError
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Claim, ClaimSource

EXPECTS = ("increase", "decrease", "presence", "absence", "construction")
KINDS = (
    "imagery_provider",  # a satellite operator's own release or caption ("Maxar images show")
    "government",  # a government or intelligence assessment
    "media",  # an outlet's own reporting
    "named_official",
    "anonymous_official",
    "own_imagery",  # the analyst's own look at the imagery
)


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
    """The claim with its fields validated and tidied; a BadInputError names the field."""
    text = " ".join((spec.text or "").split())
    if not text:
        raise BadInputError(where, "the claim text is empty", "quote or summarise the claim")
    if spec.start and spec.end and spec.end < spec.start:
        raise BadInputError(
            where, f"the window ends ({spec.end}) before it starts ({spec.start})",
            "swap --from and --to",
        )  # fmt: skip
    if spec.expects is not None and spec.expects not in EXPECTS:
        raise BadInputError(
            where, f"unknown expectation {spec.expects!r}", f"use one of {', '.join(EXPECTS)}"
        )
    if spec.review_url is not None:
        _url(spec.review_url, where)
    sources = tuple(_source(s, f"{where} source {i}") for i, s in enumerate(spec.sources, 1))
    class_name = spec.class_name.strip().lower() if spec.class_name else None
    return replace(spec, text=text, class_name=class_name or None, sources=sources)


def _source(s: SourceSpec, where: str) -> SourceSpec:
    if s.kind not in KINDS:
        raise BadInputError(
            where, f"unknown source kind {s.kind!r}", f"use one of {', '.join(KINDS)}"
        )
    if s.url:
        _url(s.url, where)
    origin = s.origin or s.outlet or s.author or (urlparse(s.url).hostname if s.url else None)
    if s.kind == "own_imagery" and not s.origin:
        origin = "own imagery"
    if not origin or not origin.strip():
        raise BadInputError(where, "a source needs an outlet, author, URL or origin")
    return replace(s, origin=" ".join(origin.split()))


def _url(url: str, where: str) -> None:
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInputError(where, f"{url!r} is not an http(s) URL")


def parse_day(value: str | date | None, where: str) -> date | None:
    """A day from ISO text (YYYY-MM-DD, or a date-time whose date is taken)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}(T|$)", text):  # a day, or a day with its time
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise BadInputError(where, f"{value!r} is not a date (use YYYY-MM-DD)")


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
    claim = session.get(Claim, claim_id)
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
             "published": s.published.date().isoformat() if s.published else None,
             "url": s.url, "origin": s.origin, "quote": s.quote}
            for s in c.sources
        ],
    )  # fmt: skip
