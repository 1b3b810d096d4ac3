"""A site's pixel change read back from the catalog (what ``sitewatch change`` stored), for
the claims checks, the report and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased, selectinload

from sitewatch.change.quiet import QuietPairs
from sitewatch.change.site import ChangeKind
from sitewatch.dates import day_or_none
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import ChangePair, Image, Run


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
    # the method's changed share on quiet pairs and the false-alarm rate per pair its run
    # alerted at (the change model's, where measured; None for the classic methods)
    quiet: QuietPairs | None = None
    false_alarm: float | None = None
    level: float | None = None  # the quiet level the run stated (runs before it: None)

    @property
    def quiet_level(self) -> float | None:
        """The changed share a quiet pair passes at the run's false-alarm rate: as the run
        stated it, so that a later release's arithmetic does not rewrite an old alert."""
        if self.quiet is None or self.false_alarm is None:
            return None
        return self.level if self.level is not None else self.quiet.level(self.false_alarm)

    @property
    def changed_share(self) -> float | None:
        return self.area() / self.compared if self.compared > 0 else None

    @property
    def alert(self) -> bool | None:
        """More changed than quiet pairs at the stated rate (None: nothing to say it by)."""
        level, share = self.quiet_level, self.changed_share
        return None if level is None or share is None else share > level

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
            "quiet_level_share": None if self.quiet_level is None else round(self.quiet_level, 5),
            "false_alarm_per_pair": self.false_alarm if self.quiet_level is not None else None,
            "alert": self.alert,
        }  # fmt: skip


def load_change(catalog: Catalog, name: str) -> list[StoredChange]:
    """Every stored change pair of site ``name``, in the order of their later date."""
    before, after = aliased(Image), aliased(Image)
    with catalog.session() as s:
        site = catalog.get_site(s, name)
        rows = s.execute(
            select(ChangePair, before, after, Run.parameters)
            .join(before, ChangePair.before_image_id == before.id)
            .join(after, ChangePair.after_image_id == after.id)
            .join(Run, ChangePair.run_id == Run.id)
            .where(ChangePair.site_id == site.id)
            .options(selectinload(ChangePair.regions))
            .order_by(ChangePair.id)
        ).all()
        out = [_stored(p, b, a, params) for p, b, a, params in rows]
    out.sort(key=lambda c: (c.after_date is None, c.after_date or datetime.min, c.after))
    return out


def _stored(p: ChangePair, b: Image, a: Image, params: Any) -> StoredChange:
    regions = tuple(
        StoredRegion(r.kind, r.area_m2, r.area_px, r.frame_wkt, r.geometry_wgs84_wkt)
        for r in p.regions
    )
    return StoredChange(
        b.sha256, a.sha256, b.original_name, a.original_name, b.acquired_at, a.acquired_at,
        bool(b.date_is_illustrative or a.date_is_illustrative), p.method, p.compared_m2,
        p.compared_px, p.map_path, regions, *_quiet(params),
    )  # fmt: skip


def _quiet(params: Any) -> tuple[QuietPairs | None, float | None, float | None]:
    """The quiet-pair figures a change run stored beside its parameters, the rate and the
    level it stated (none from a run of a classic method, or of a release before them;
    malformed ones are not trusted)."""
    if not isinstance(params, dict):
        return None, None, None
    try:
        quiet = QuietPairs.from_metrics(params)
        rate = float(params.get("false_alarm_per_pair") or 0)
        level = params.get("quiet_level_share")
        level = float(level) if level is not None else None
    except (ValueError, TypeError, AttributeError):
        return None, None, None
    if quiet is None or not 0 < rate < 1:
        return None, None, None
    return quiet, rate, level if level is not None and 0 < level <= 1 else None
