"""`sitewatch verify …`: checks of the imagery itself (a shell over sitewatch.verify)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from sitewatch.cli_common import catalog, fails_cleanly, out
from sitewatch.errors import BadInputError

if TYPE_CHECKING:
    from sitewatch.verify import Place
    from sitewatch.verify.reuse import Match

verify_app = typer.Typer(
    help="Verify the imagery itself: reused images, the sun against the claimed time, and "
    "what each file says about itself.",
    no_args_is_help=True,
)


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
    from sitewatch.dates import parse_day
    from sitewatch.files import write_json_atomic
    from sitewatch.verify import marks
    from sitewatch.verify.sunchecks import SunRequest, check_sun, claimed_or_days

    if json_out is not None and json_out.is_dir():
        raise BadInputError(json_out, "is a folder", "give the JSON file's name")
    claimed, days = claimed_or_days(when, parse_day(first, "--from"), parse_day(last, "--to"))
    request = SunRequest(
        at=marks.parse_point(at, "--at") if at is not None else None,
        claimed=claimed, days=days,
        stated_azimuth=stated_azimuth, stated_elevation=stated_elevation,
        base=marks.parse_point(base, "--base") if base is not None else None,
        tip=marks.parse_point(tip, "--tip") if tip is not None else None,
        crs=crs, mark_m=mark, height_m=height, height_sigma_m=height_sigma,
    )  # fmt: skip
    report = check_sun(catalog(), image, request)
    if not report.checks:
        _print_position(report.place, report.claimed)
        return
    for what, check in report.checks:
        out.print(f"{what}: [bold]{check.verdict.value}[/bold] — {escape(check.reason)}")
        for w in check.fits[:20]:
            line = (f"  fits {w.start:%Y-%m-%d %H:%M}–{w.end:%H:%M} UTC "
                    f"(sun {w.azimuth_deg:.1f}°, {w.elevation_deg:.1f}°)")  # fmt: skip
            out.print(line, highlight=False)
        if len(check.fits) > 20:
            out.print(f"  … and {len(check.fits) - 20} more spans (all in --json)")
    if report.stored and report.image is not None:
        out.print(f"stored with {escape(report.image.name)}: `sitewatch site show` and the "
                  "report list it", highlight=False)  # fmt: skip
    elif report.note:
        out.print(report.note, highlight=False)
    if json_out is not None:
        write_json_atomic(json_out, report.to_dict())
        out.print(f"written: {escape(str(json_out))}", highlight=False)


def _print_position(place: Place, claimed: datetime | None) -> None:
    from sitewatch.dates import iso
    from sitewatch.verify import sun_position

    if claimed is None:
        raise BadInputError("--time", "no time to compute the sun for", "give --time")
    s = sun_position(place, claimed)
    line = (f"sun at {place.lat:.5f}, {place.lon:.5f} on {iso(claimed)}: azimuth "
            f"{s.azimuth_deg:.3f}°, elevation {s.elevation_deg:.3f}°")  # fmt: skip
    out.print(line, highlight=False)


# the images a catalog-wide check looks at, and where its JSON goes
Images = Annotated[
    list[str] | None,
    typer.Argument(help="Catalog images (SHA-256 prefix or file); default: every image."),
]
SiteOption = Annotated[str | None, typer.Option(help="The images of this site.")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Write the findings as JSON.")]


def _check_targets(images: list[str] | None, site: str | None, json_out: Path | None) -> None:
    if images and site:
        raise BadInputError("--site", "given with images", "give one or the other")
    if json_out is not None and json_out.is_dir():
        raise BadInputError(json_out, "is a folder", "give the JSON file's name")


@verify_app.command("recycled")
@fails_cleanly
def recycled(
    images: Images = None,
    site: SiteOption = None,
    json_out: JsonOut = None,
) -> None:
    """Is each image a new acquisition, or an earlier image edited (cropped, resized,
    re-saved, colour-graded, rotated, mirrored, framed)? Searches the whole catalog; other
    dates of the same place are told apart by their pixels."""
    from rich.table import Table

    from sitewatch.files import write_json_atomic
    from sitewatch.verify import find_recycled

    _check_targets(images, site, json_out)
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


@verify_app.command("metadata")
@fails_cleanly
def metadata(
    images: Images = None,
    site: SiteOption = None,
    json_out: JsonOut = None,
) -> None:
    """Does what each file says about itself (EXIF and XMP dates, editing software, GPS,
    embedded thumbnail, GeoTIFF tags) agree with the provenance given at ingest? One line
    per mismatch, with both values."""
    from sitewatch.files import write_json_atomic
    from sitewatch.verify.metadata import METHOD, MetaVerdict, verify_metadata

    _check_targets(images, site, json_out)
    checked = verify_metadata(catalog(), list(images) if images else None, site)
    style = {MetaVerdict.CONTRADICTS: "bold red", MetaVerdict.EDITED: "yellow"}
    for im in checked:
        for line in im.lines:
            mark = style.get(line.verdict, "")
            verdict = f"[{mark}]{line.verdict.value}[/]" if mark else line.verdict.value
            out.print(f"{escape(im.name)}: {verdict} — {escape(line.text)}", highlight=False)
    out.print(f"{len(checked)} image(s) checked; findings stored with each")
    if json_out is not None:
        write_json_atomic(json_out, {"method": METHOD,
                                     "images": [im.to_dict() for im in checked]})  # fmt: skip
        out.print(f"written: {escape(str(json_out))}", highlight=False)
