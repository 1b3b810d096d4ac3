"""The sun checks of a catalog image or a place, as the CLI and the dashboard ask for them,
and the findings they store with the image.

An image gives its place (its footprint's centre), its claimed time (a day alone when the
time of day is unknown; none when the date is illustrative), the sun angles its metadata
states (STAC ``view:*``, kept at ingest) and, when georeferenced, the north its pixels lie
on. A check run on a catalog image is stored with it (``Finding``, check ``sun``): a stated-
angles check replaces the image's earlier one, a shadow replaces an earlier one with the
same marks (other shadows of the image stay).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sitewatch import __version__, geo
from sitewatch.dates import day_only, iso, parse_datetime
from sitewatch.errors import BadInputError
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Finding, Image, VerifyCheck
from sitewatch.verify import marks
from sitewatch.verify.findings import NewFinding, replace_findings
from sitewatch.verify.sun import (
    METHOD,
    STATED_TOLERANCE_DEG,
    Place,
    Shadow,
    SunCheck,
    Verdict,
    check_shadow,
    check_stated,
    fitting_times,
    solve_shadow,
)

_DAY_ONLY = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|\d{8})\s*$")
STATED = "stated sun angles"
SHADOW = "shadow"
MAX_STORED_FITS = 50  # fitting spans kept with a finding (the CLI's --json has them all)


@dataclass(frozen=True)
class ImageSun:
    """What a catalog image says about itself for the sun checks."""

    image_id: int
    sha256: str
    name: str
    size: tuple[int, int]
    transform: tuple[float, ...] | None
    crs_wkt: str | None
    gsd_m: float | None
    centre: tuple[float, float] | None  # lon, lat of the footprint's centre
    azimuth: float | None  # stated by its metadata
    elevation: float | None
    claimed: datetime | None  # a time of day is known
    days: tuple[date, date] | None  # a day only


def image_sun(image: Image) -> ImageSun:
    """The sun-check facts of a catalog image (illustrative dates claim nothing)."""
    centre = None
    if image.footprint_wgs84_wkt:
        lat, lon, _radius = geo.footprint_place(image.footprint_wgs84_wkt)
        centre = (lon, lat)
    extra = image.extra or {}
    claimed, days = None, None
    at = image.acquired_at
    if at is not None and not image.date_is_illustrative:
        claimed, days = _split(at)
    return ImageSun(
        image.id, image.sha256, image.original_name, (image.width, image.height),
        tuple(image.transform) if image.transform else None, image.crs_wkt, image.gsd_m,
        centre, _number(extra.get("view:sun_azimuth")), _number(extra.get("view:sun_elevation")),
        claimed, days,
    )  # fmt: skip


Claimed = tuple[datetime | None, tuple[date, date] | None]  # a time, or days to search


def _split(at: datetime) -> Claimed:
    """A time, or its day alone when no time of day was given."""
    return (None, (at.date(), at.date())) if day_only(at) else (at, None)


def claimed_time(text: str, where: str = "--time") -> Claimed:
    """A claimed time from ISO text: a time, or a day alone (then searched for fits)."""
    try:
        value = parse_datetime(text, what=where)
    except ValueError as exc:
        raise BadInputError(where, str(exc)) from None
    if _DAY_ONLY.match(text):
        return None, (value.date(), value.date())
    return value, None


def claimed_or_days(
    when: str | None,
    first: date | None,
    last: date | None,
    names: tuple[str, str] = ("--time", "--from/--to"),
) -> Claimed:
    """What to check against: a claimed time (or its day alone), or a range of days to
    search (one end given: that day); both at once is refused, naming ``names``."""
    if when is not None:
        if first or last:
            raise BadInputError(names[0], f"given with {names[1]}", "give one or the other")
        return claimed_time(when, names[0])
    if first or last:
        return None, (first or last, last or first)  # type: ignore[return-value]
    return None, None


@dataclass(frozen=True)
class SunRequest:
    """What to check: a claimed time (or days to search), stated angles, a marked shadow."""

    at: tuple[float, float] | None = None  # LAT, LON, without an image
    claimed: datetime | None = None
    days: tuple[date, date] | None = None
    stated_azimuth: float | None = None
    stated_elevation: float | None = None
    base: tuple[float, float] | None = None  # X, Y in ``crs`` (None: the image's pixels)
    tip: tuple[float, float] | None = None
    crs: str | None = None
    mark_m: float | None = None  # 1 σ per marked end (default: one pixel, else 1 m)
    height_m: float | None = None
    height_sigma_m: float = 0.0


@dataclass
class SunReport:
    """The checks made, at which place, of which image (if any)."""

    place: Place
    claimed: datetime | None
    checks: list[tuple[str, SunCheck]] = field(default_factory=list)
    image: ImageSun | None = None
    shadow: Shadow | None = None
    stored: bool = False  # kept as the image's finding (a check of its own claimed time)
    note: str | None = None  # why not, for an image's check that was not

    def to_dict(self) -> dict[str, Any]:
        return {
            "place": {"lat": self.place.lat, "lon": self.place.lon},
            "image": None if self.image is None else self.image.sha256,
            "stored": self.stored,
            "note": self.note,
            "checks": [{"check": what, **c.to_dict()} for what, c in self.checks],
        }


def check_sun(
    catalog: Catalog, image: str | None, request: SunRequest, store: bool = True
) -> SunReport:
    """Run the sun checks ``request`` asks for, of catalog image ``image`` (SHA-256 prefix
    or file) or of a place; with ``store``, keep each check of an image as its finding."""
    r = request
    if (r.base is None) != (r.tip is None):
        raise BadInputError("--base/--tip", "only one end of the shadow is given", "give both")
    if r.claimed is not None and r.days is not None:
        raise BadInputError("--time", "given with --from/--to", "give one or the other")
    info = None
    if image is not None:
        with catalog.session() as s:
            info = image_sun(catalog.find_image(s, image))
    claimed, days = r.claimed, r.days
    if claimed is None and days is None and info is not None:
        claimed, days = info.claimed, info.days
    shadow = _shadow(r, info, image)
    place = _place(r, info, shadow)
    report = SunReport(place, claimed, image=info, shadow=shadow)
    azimuth, elevation = r.stated_azimuth, r.stated_elevation
    if info is not None:  # what the image's metadata states, unless told otherwise
        azimuth = info.azimuth if azimuth is None else azimuth
        elevation = info.elevation if elevation is None else elevation
    if azimuth is not None or elevation is not None:
        report.checks.append((STATED, _stated(place, claimed, days, azimuth, elevation)))
    if shadow is not None:
        if claimed is not None:
            report.checks.append((SHADOW, check_shadow(shadow, claimed)))
        elif days is not None:
            report.checks.append((SHADOW, solve_shadow(shadow, *days)))
        else:
            raise BadInputError("--time", "no claimed time or day to check the shadow against",
                                "give --time, or --from/--to to search")  # fmt: skip
    # only a check against the image's own claimed time and place is a finding about the
    # image; a time or place given instead asks "what if", and is answered, not stored
    own = info is not None and r.at is None and (claimed, days) == (info.claimed, info.days) \
        and (claimed is not None or days is not None)  # fmt: skip
    if store and own and info is not None and report.checks:
        _store(catalog, report, info)
        report.stored = True
    elif info is not None and report.checks:
        report.note = (
            "not stored: checked against a time or place given, not the image's own claimed "
            "time" if info.claimed or info.days else
            "not stored: the image claims no time (its date is illustrative or unknown)"
        )  # fmt: skip
    return report


def _shadow(r: SunRequest, info: ImageSun | None, image: str | None) -> Shadow | None:
    if r.base is None or r.tip is None:
        return None
    points = [r.base, r.tip]
    if not all(math.isfinite(v) for p in points for v in p):
        raise BadInputError("--base/--tip", f"{points} are not finite numbers")
    if r.crs is None and info is not None:
        if info.transform is None or info.crs_wkt is None:
            raise BadInputError(
                image or "image",
                "is not georeferenced: its pixels have no north",
                "give --base/--tip in map coordinates with --crs",
            )
        lonlat = marks.pixels_to_lonlat(points, info.transform, info.crs_wkt, info.size)
    else:
        lonlat = marks.map_to_lonlat(points, r.crs or "EPSG:4326")
    default_mark = info.gsd_m if info is not None and info.gsd_m else 1.0
    mark = r.mark_m if r.mark_m is not None else default_mark
    return Shadow(lonlat[0], lonlat[1], mark, r.height_m, r.height_sigma_m)


def _place(r: SunRequest, info: ImageSun | None, shadow: Shadow | None) -> Place:
    if r.at is not None:
        return Place(*r.at)
    if shadow is not None:
        return shadow.place
    if info is not None and info.centre is not None:
        return Place(info.centre[1], info.centre[0])
    raise BadInputError("--at", "no place to compute the sun for",
                        "give --at LAT,LON, a shadow, or a georeferenced image")  # fmt: skip


def _stated(
    place: Place,
    claimed: datetime | None,
    days: tuple[date, date] | None,
    azimuth: float | None,
    elevation: float | None,
) -> SunCheck:
    if claimed is not None:
        return check_stated(place, claimed, azimuth, elevation)
    if days is None:
        raise BadInputError("--time", "no claimed time or day to check the stated sun against",
                            "give --time, or --from/--to to search")  # fmt: skip
    tol = STATED_TOLERANCE_DEG
    fits = fitting_times(place, days[0], days[1], azimuth, tol, elevation, tol)
    span = f"{days[0]}…{days[1]}" if days[1] != days[0] else str(days[0])
    if fits:
        reason = f"the sun stood at the stated angles during {len(fits)} span(s) of {span} (UTC)"
    else:
        reason = f"at no time of {span} did the sun stand at the stated angles"
    return SunCheck(
        Verdict.CONSISTENT if fits else Verdict.INCONSISTENT, reason,
        measured_azimuth_deg=azimuth, measured_azimuth_sigma_deg=tol,
        measured_elevation_deg=elevation, measured_elevation_sigma_deg=tol, fits=fits,
    )  # fmt: skip


def _store(catalog: Catalog, report: SunReport, info: ImageSun) -> None:
    """Each check as the image's finding, with what it was asked (re-derivable)."""
    shadow = report.shadow
    marked = None if shadow is None else {
        "base_lonlat": list(shadow.base), "tip_lonlat": list(shadow.tip),
        "mark_m": shadow.mark_m, "height_m": shadow.height_m,
        "height_sigma_m": shadow.height_sigma_m,
    }  # fmt: skip
    params = {"image": info.sha256, "claimed": iso(report.claimed) or None, "shadow": marked}
    with catalog.run("verify", METHOD, __version__, params) as run_id, catalog.session() as s:
        for what, check in report.checks:
            details = check.to_dict()
            details["fits"] = details["fits"][:MAX_STORED_FITS]  # type: ignore[index]
            details |= {"what": what, "place": {"lat": report.place.lat,
                                                "lon": report.place.lon}}  # fmt: skip
            if what == SHADOW:
                details["shadow"] = marked
            same = what, marked if what == SHADOW else None

            def replaces(old: Finding, same: tuple = same) -> bool:
                # a stated-angles check replaces the last; a shadow, the one with its marks
                return (old.details.get("what"), old.details.get("shadow")) == same

            found = NewFinding(check.verdict.value, f"{what}: {check.reason}", details)
            replace_findings(s, info.image_id, VerifyCheck.SUN, check.method, run_id, [found],
                             replaces)  # fmt: skip


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
