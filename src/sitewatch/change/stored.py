"""A site's pixel change read back from the catalog (what ``sitewatch change`` stored), for
the claims checks, the report and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased, selectinload

from sitewatch.change.site import ChangeKind
from sitewatch.dates import day_or_none
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import ChangePair, Image


@dataclass(frozen=True)
class StoredRegion:
    kind: str  # ChangeKind's value
    area_m2: float | None
    area_px: float  # site-frame pixels
    frame_wkt: str  # outline in site-frame pixels
    wgs84_wkt: str | None  # outline in lon/lat, on a map frame


@dataclass(frozen=True)
class StoredChange:
    """The change stored for two dates of a site."""

    before: str  # sha256
    after: str
    before_name: str
    after_name: str
    before_date: datetime | None
    after_date: datetime | None
    illustrative: bool  # either date is illustrative
    method: str
    compared_m2: float | None
    compared_px: float
    map_path: str | None
    regions: tuple[StoredRegion, ...]

    @property
    def metric(self) -> bool:
        """Areas are in m² (the frame's pixel size is known), else in frame pixels."""
        return self.compared_m2 is not None

    @property
    def unit(self) -> str:
        """The unit of its areas, as the JSON outputs name it."""
        return "m2" if self.metric else "frame_px"

    def region_area(self, region: StoredRegion) -> float | None:
        """A region's area in the pair's unit (m² when ``metric``, else frame pixels)."""
        return region.area_m2 if self.metric else region.area_px

    def area(self, kind: str | None = None) -> float:
        """Changed area of ``kind`` (every kind when None), in the pair's unit."""
        return sum(
            self.region_area(r) or 0.0 for r in self.regions if kind is None or r.kind == kind
        )

    @property
    def compared(self) -> float:
        return self.compared_m2 if self.compared_m2 is not None else self.compared_px

    def summary(self, digits: int = 1) -> dict[str, Any]:
        """The pair as every JSON output names it (claims, report, dashboard): its two
        images and dates, its method, and its areas by kind in ``unit``, rounded to
        ``digits``."""
        return {
            "before": self.before_name, "after": self.after_name,
            "before_sha256": self.before, "after_sha256": self.after,
            "before_date": day_or_none(self.before_date),
            "after_date": day_or_none(self.after_date),
            "illustrative": self.illustrative, "method": self.method, "unit": self.unit,
            "compared": round(self.compared, digits), "changed": round(self.area(), digits),
            **{k.value: round(self.area(k), digits) for k in ChangeKind},
            "regions": len(self.regions),
        }  # fmt: skip


def load_change(catalog: Catalog, name: str) -> list[StoredChange]:
    """Every stored change pair of site ``name``, in the order of their later date."""
    before, after = aliased(Image), aliased(Image)
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        rows = s.execute(
            select(ChangePair, before, after)
            .join(before, ChangePair.before_image_id == before.id)
            .join(after, ChangePair.after_image_id == after.id)
            .where(ChangePair.site_id == site.id)
            .options(selectinload(ChangePair.regions))
            .order_by(ChangePair.id)
        ).all()
        out = [_stored(p, b, a) for p, b, a in rows]
    out.sort(key=lambda c: (c.after_date is None, c.after_date or datetime.min, c.after))
    return out


def _stored(p: ChangePair, b: Image, a: Image) -> StoredChange:
    regions = tuple(
        StoredRegion(r.kind, r.area_m2, r.area_px, r.frame_wkt, r.geometry_wgs84_wkt)
        for r in p.regions
    )
    return StoredChange(
        b.sha256, a.sha256, b.original_name, a.original_name, b.acquired_at, a.acquired_at,
        bool(b.date_is_illustrative or a.date_is_illustrative), p.method, p.compared_m2,
        p.compared_px, p.map_path, regions,
    )  # fmt: skip
