"""`sitewatch verify …`: checks of the imagery itself (a shell over sitewatch.verify)."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from sitewatch.cli_common import catalog, fails_cleanly, out
from sitewatch.errors import BadInputError

if TYPE_CHECKING:
    from sitewatch.verify import Place, SunCheck
    from sitewatch.verify.reuse import Match

verify_app = typer.Typer(
    help="Verify the imagery itself: does the light fit the claimed time?", no_args_is_help=True
)
_DAY_ONLY = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|\d{8})\s*$")


@verify_app.command("sun")
@fails_cleanly
def sun(
    image: Annotated[
        str | None,
        typer.Argument(
            help="A catalog image (SHA-256 prefix or file): its place, claimed "
            "time and stated sun angles, and the pixels --base/--tip are in."
        ),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="The place as LAT,LON (without an image).")
    ] = None,
    when: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="Claimed time, ISO-8601 (no zone = UTC); a day alone is "
            "searched for the times that fit.",
        ),
    ] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="First UTC day to search for fitting times.")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last UTC day to search for fitting times.")
    ] = None,
    stated_azimuth: Annotated[
        float | None, typer.Option(help="Sun azimuth stated by metadata (° from north).")
    ] = None,
    stated_elevation: Annotated[
        float | None, typer.Option(help="Sun elevation stated by metadata (°).")
    ] = None,
    base: Annotated[
        str | None, typer.Option(help="An object's base on the ground, X,Y (see --crs).")
    ] = None,
    tip: Annotated[
        str | None, typer.Option(help="The tip of its shadow on the ground, X,Y.")
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(
            help="CRS of --base/--tip (default: the image's pixels with an image, "
            "else EPSG:4326 as LON,LAT)."
        ),
    ] = None,
    mark: Annotated[
        float | None,
        typer.Option(
            help="How well each end is marked, metres (1 σ; default one pixel "
            "of the image, else 1 m)."
        ),
    ] = None,
    height: Annotated[
        float | None, typer.Option(help="The object's height above its base, metres.")
    ] = None,
    height_sigma: Annotated[
        float, typer.Option(help="Uncertainty of --height, metres (1 σ).")
    ] = 0.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the checks as JSON.")
    ] = None,
) -> None:
    """Does the sun fit the claimed time? Stated sun angles against the sun computed for the
    time and place (NREL SPA), and a marked shadow's direction (and length, with a height)
    against it; with a day or a range instead of a time, the times that fit."""
    from sitewatch.dates import parse_datetime, parse_day
    from sitewatch.files import write_json_atomic
    from sitewatch.verify import Shadow, check_shadow, marks, solve_shadow

    if json_out is not None and json_out.is_dir():
        raise BadInputError(json_out, "is a folder", "give the JSON file's name")
    if (base is None) != (tip is None):
        raise BadInputError("--base/--tip", "only one end of the shadow is given", "give both")
    info = _image_info(image) if image else None
    claimed: datetime | None = None
    days: tuple[date, date] | None = None
    if when is not None:
        if first or last:
            raise BadInputError("--time", "given with --from/--to", "give one or the other")
        try:
            claimed = parse_datetime(when, what="--time")
        except ValueError as exc:
            raise BadInputError("--time", str(exc)) from None
        if _DAY_ONLY.match(when):
            days, claimed = (claimed.date(), claimed.date()), None
    elif first or last:
        a, b = parse_day(first, "--from"), parse_day(last, "--to")
        days = (a or b, b or a)  # type: ignore[assignment]
    elif info is not None:
        claimed, days = info.claimed, info.days
    shadow = None
    if base is not None and tip is not None:
        points = [marks.parse_point(base, "--base"), marks.parse_point(tip, "--tip")]
        if crs is None and info is not None:
            if info.transform is None or info.crs_wkt is None:
                raise BadInputError(
                    image or "image",
                    "is not georeferenced: its pixels have no north",
                    "give --base/--tip in map coordinates with --crs",
                )
            lonlat = marks.pixels_to_lonlat(points, info.transform, info.crs_wkt, info.size)
        else:
            lonlat = marks.map_to_lonlat(points, crs or "EPSG:4326")
        default_mark = info.gsd_m if info is not None and info.gsd_m else 1.0
        shadow = Shadow(lonlat[0], lonlat[1], mark if mark is not None else default_mark,
                        height, height_sigma)  # fmt: skip
    place = _place(at, info, shadow)
    checks: list[tuple[str, SunCheck]] = []
    azimuth = stated_azimuth if stated_azimuth is not None else (info.azimuth if info else None)
    elevation = (
        stated_elevation if stated_elevation is not None else (info.elevation if info else None)
    )
    if azimuth is not None or elevation is not None:
        checks.append(("stated sun angles", _stated(place, claimed, days, azimuth, elevation)))
    if shadow is not None:
        if claimed is not None:
            checks.append(("shadow", check_shadow(shadow, claimed)))
        elif days is not None:
            checks.append(("shadow", solve_shadow(shadow, *days)))
        else:
            raise BadInputError("--time", "no claimed time or day to check the shadow against",
                                "give --time, or --from/--to to search")  # fmt: skip
    if not checks:
        _print_position(place, claimed)
        return
    for what, check in checks:
        out.print(f"{what}: [bold]{check.verdict.value}[/bold] — {escape(check.reason)}")
        for w in check.fits[:20]:
            line = (f"  fits {w.start:%Y-%m-%d %H:%M}–{w.end:%H:%M} UTC "
                    f"(sun {w.azimuth_deg:.1f}°, {w.elevation_deg:.1f}°)")  # fmt: skip
            out.print(line, highlight=False)
        if len(check.fits) > 20:
            out.print(f"  … and {len(check.fits) - 20} more spans (all in --json)")
    if json_out is not None:
        write_json_atomic(json_out, {
            "place": {"lat": place.lat, "lon": place.lon},
            "checks": [{"check": what, **c.to_dict()} for what, c in checks],
        })  # fmt: skip
        out.print(f"written: {escape(str(json_out))}", highlight=False)


def _stated(
    place: Place,
    claimed: datetime | None,
    days: tuple[date, date] | None,
    azimuth: float | None,
    elevation: float | None,
) -> SunCheck:
    from sitewatch.verify import SunCheck, Verdict, check_stated, fitting_times
    from sitewatch.verify.sun import STATED_TOLERANCE_DEG

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


def _place(at: str | None, info: _ImageInfo | None, shadow: object) -> Place:
    from sitewatch.verify import Place, Shadow
    from sitewatch.verify.marks import parse_point

    if at is not None:
        lat, lon = parse_point(at, "--at")
        return Place(lat, lon)
    if isinstance(shadow, Shadow):
        return shadow.place
    if info is not None and info.centre is not None:
        return Place(info.centre[1], info.centre[0])
    raise BadInputError("--at", "no place to compute the sun for",
                        "give --at LAT,LON, a shadow, or a georeferenced image")  # fmt: skip


def _print_position(place: Place, claimed: datetime | None) -> None:
    from sitewatch.dates import iso
    from sitewatch.verify import sun_position

    if claimed is None:
        raise BadInputError("--time", "no time to compute the sun for", "give --time")
    s = sun_position(place, claimed)
    line = (f"sun at {place.lat:.5f}, {place.lon:.5f} on {iso(claimed)}: azimuth "
            f"{s.azimuth_deg:.3f}°, elevation {s.elevation_deg:.3f}°")  # fmt: skip
    out.print(line, highlight=False)


class _ImageInfo:
    """What a catalog image says about itself for the sun checks."""

    def __init__(self, image: object) -> None:
        from sitewatch import geo
        from sitewatch.store.models import Image

        assert isinstance(image, Image)
        self.name = image.original_name
        self.size = (image.width, image.height)
        self.transform = image.transform
        self.crs_wkt = image.crs_wkt
        self.gsd_m = image.gsd_m
        self.centre: tuple[float, float] | None = None
        if image.footprint_wgs84_wkt:
            c = geo.centre(geo.load_wkt(image.footprint_wgs84_wkt))
            self.centre = (c.x, c.y)
        extra = image.extra or {}
        self.azimuth = _number(extra.get("view:sun_azimuth"))
        self.elevation = _number(extra.get("view:sun_elevation"))
        self.claimed: datetime | None = None
        self.days: tuple[date, date] | None = None
        at = image.acquired_at
        if at is not None and not image.date_is_illustrative:
            if (at.hour, at.minute, at.second, at.microsecond) == (0, 0, 0, 0):
                self.days = (at.date(), at.date())  # a day with no time of day
            else:
                self.claimed = at


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _image_info(ref: str) -> _ImageInfo:
    cat = catalog()
    with cat.session() as s:
        image = cat.find_image(s, ref)
        return _ImageInfo(image)


@verify_app.command("recycled")
@fails_cleanly
def recycled(
    images: Annotated[
        list[str] | None,
        typer.Argument(help="Catalog images (SHA-256 prefix or file); default: every image."),
    ] = None,
    site: Annotated[str | None, typer.Option(help="The images of this site.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the findings as JSON.")
    ] = None,
) -> None:
    """Is each image a new acquisition, or an earlier image edited (cropped, resized,
    re-saved, colour-graded, rotated, mirrored, framed)? Searches the whole catalog; other
    dates of the same place are told apart by their pixels."""
    from rich.table import Table

    from sitewatch.files import write_json_atomic
    from sitewatch.verify import find_recycled

    if images and site:
        raise BadInputError("--site", "given with images", "give one or the other")
    if json_out is not None and json_out.is_dir():
        raise BadInputError(json_out, "is a folder", "give the JSON file's name")
    cat = catalog()
    report = find_recycled(cat, list(images) if images else None, site)
    table = Table("image", "verdict", "reuses (earlier)", "reused by (later)", "same place")
    for r in report.images:
        verdict = "[bold red]reuses an earlier image[/]" if r.recycled else "no reuse found"
        table.add_row(escape(r.image.name), verdict, escape(_names(r.reuses)),
                      escape(_names(r.reused_by)), str(len(r.same_place)))  # fmt: skip
    out.print(table)
    line = (f"{len(report.images)} image(s) searched against {report.searched} in the "
            f"catalog ({report.method}); in brackets: pixel agreement, overlap")  # fmt: skip
    out.print(line, highlight=False)
    if report.missing:
        out.print("files missing (run `sitewatch check --repair`): "
                  + escape(", ".join(report.missing)), highlight=False)  # fmt: skip
    if json_out is not None:
        write_json_atomic(json_out, report.to_dict())
        out.print(f"written: {escape(str(json_out))}", highlight=False)


def _names(matches: list[Match]) -> str:
    return "\n".join(
        f"{m.image.name} ({m.evidence.agreement:.2f}, {m.evidence.overlap:.0%})"
        if m.evidence.agreement is not None else m.image.name
        for m in matches
    )  # fmt: skip
