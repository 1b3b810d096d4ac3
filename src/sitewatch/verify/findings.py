"""Findings kept with the image they are about: a check run again replaces what it found."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Finding, Image, VerifyCheck
from sitewatch.store.serial import Lock, serialise


@dataclass(frozen=True)
class NewFinding:
    """One finding to store: its verdict, the line a reader can quote, and the numbers."""

    verdict: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    related_image_id: int | None = None  # the other image it is about (the one reused)


def replace_findings(
    s: Session,
    image_id: int,
    check: VerifyCheck,
    method: str,
    run_id: int,
    new: Sequence[NewFinding],
    replaces: Callable[[Finding], bool] = lambda _old: True,
) -> None:
    """Store ``new`` as the image's findings of ``check``; its earlier ones of that check
    that ``replaces`` accepts (default: all of them) go. Two runs checking one image at once
    queue here, so the second replaces the first's findings rather than adding to them."""
    serialise(s, Lock.FINDINGS, image_id)
    for old in s.scalars(
        select(Finding).where(Finding.image_id == image_id, Finding.check == check)
    ):
        if replaces(old):
            s.delete(old)
    s.add_all(
        Finding(
            image_id=image_id, check=check, method=method, verdict=f.verdict,
            summary=f.summary, details=f.details, related_image_id=f.related_image_id,
            run_id=run_id,
        )
        for f in new
    )  # fmt: skip


def checked_images(
    catalog: Catalog, s: Session, refs: Sequence[str] | None, site: str | None
) -> list[Image]:
    """The images a check looks at: those named, else the site's, else every one (each
    once, in that order)."""
    if refs:
        images = [catalog.find_image(s, r) for r in refs]
    elif site is not None:
        images = [ln.image for ln in catalog.get_site(s, site).image_links]
    else:
        images = list(s.scalars(select(Image).order_by(Image.id)))
    return list(dict.fromkeys(images))
