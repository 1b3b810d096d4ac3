"""`sitewatch export …`: a site's layers for GIS and Google Earth, or a registered image as a
GeoTIFF on the site frame's map grid (a shell over sitewatch.export)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sitewatch.cli_common import catalog, fails_cleanly, out


@fails_cleanly
def export(
    name: Annotated[str, typer.Argument(help="Site name.")],
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="File to write.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="gpkg, kml, kmz, geojson or csv (default: by suffix)."),
    ] = None,
    layer: Annotated[
        list[str] | None,
        typer.Option(
            help="Layer(s): site, footprints, detections, changes (default: all; one for "
            "GeoJSON and CSV: detections)."
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            help="Instead: write this registered image (SHA-256 prefix or file) resampled "
            "onto the site frame's map grid, as a GeoTIFF (OUT.tif)."
        ),
    ] = None,
) -> None:
    """Export a site for GIS: GeoPackage, KML/KMZ, GeoJSON (RFC 7946) or a flat CSV."""
    if image is not None:
        from sitewatch.errors import BadInputError
        from sitewatch.export.warp import export_registered

        if layer or fmt not in (None, "tif", "tiff"):
            raise BadInputError("--image", "writes a GeoTIFF of one image: drop --layer/--format")
        warped = export_registered(catalog(), name, image, out_path)
        residual = "" if warped.residual_px is None else f", residual {warped.residual_px:.2f} px"
        out.print(
            f"wrote {escape(str(warped.path))}: {warped.width}×{warped.height} px in "
            f"{escape(warped.crs)}{residual}",
            highlight=False,
        )
        return
    from sitewatch.export import export_site

    summary = export_site(catalog(), name, out_path, fmt, layer)
    out.print(f"wrote {escape(str(summary.path))} ({summary.format})", highlight=False)
    for line in summary.lines():
        out.print(f"  {escape(line)}", highlight=False)
