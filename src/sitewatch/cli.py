"""The `sitewatch` command: a thin shell over the Python API."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch import __version__
from sitewatch.cli_change import change as change_command
from sitewatch.cli_claims import claim_app
from sitewatch.cli_common import (
    State,
    catalog,
    err,
    error_line,
    fails_cleanly,
    one_line,
    out,
    progress_bar,
)
from sitewatch.cli_export import export as export_command
from sitewatch.cli_models import models_app
from sitewatch.cli_train import train_app
from sitewatch.cli_verify import verify_app
from sitewatch.errors import BadInputError, SitewatchError

app = typer.Typer(
    help="Monitor named sites in very-high-resolution satellite imagery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
site_app = typer.Typer(help="Define and inspect monitored sites.", no_args_is_help=True)
labels_app = typer.Typer(
    help="Ground-truth labels for training and evaluation.", no_args_is_help=True
)
eval_app = typer.Typer(help="Evaluate models on annotated imagery.", no_args_is_help=True)
app.add_typer(site_app, name="site")
app.add_typer(labels_app, name="labels")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(claim_app, name="claim")
app.add_typer(models_app, name="models")
app.add_typer(verify_app, name="verify")
app.command("export")(export_command)
app.command("change")(change_command)


def _version(value: bool) -> None:
    if value:
        out.print(f"sitewatch {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="SITEWATCH_HOME",
            help="Workspace folder (catalog + image store). Default ./sitewatch-data.",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="SITEWATCH_DB", help="SQLAlchemy URL of the catalog database."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    State.workspace = workspace
    State.db_url = db


@app.command()
@fails_cleanly
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Image files, STAC Item JSONs or folders.")],
    site: Annotated[str | None, typer.Option(help="Link every image to this site.")] = None,
    acquired: Annotated[
        str | None, typer.Option(help="Acquisition time, ISO-8601 (e.g. 2024-04-17T09:30Z).")
    ] = None,
    illustrative: Annotated[
        bool, typer.Option("--illustrative", help="Mark the acquisition date as illustrative.")
    ] = False,
    provider: Annotated[str | None, typer.Option(help="Imagery provider.")] = None,
    credit: Annotated[str | None, typer.Option(help="Credit line to print with the image.")] = None,
    licence: Annotated[str | None, typer.Option("--licence", "--license", help="Licence.")] = None,
    source_url: Annotated[str | None, typer.Option(help="Where the image was published.")] = None,
    gsd: Annotated[float | None, typer.Option(help="Ground sample distance in metres.")] = None,
    sidecar: Annotated[
        Path | None, typer.Option(help="Provenance JSON for all files (else NAME.json beside).")
    ] = None,
    undated: Annotated[
        bool, typer.Option("--undated", help="Accept images with no acquisition time.")
    ] = False,
    date_regex: Annotated[
        str | None, typer.Option(help="Regex with a (?P<date>…) group to read dates from names.")
    ] = None,
    asset: Annotated[str | None, typer.Option(help="STAC asset key to ingest.")] = None,
    reference: Annotated[
        bool, typer.Option("--reference", help="Reference files in place instead of copying.")
    ] = False,
) -> None:
    """Ingest imagery with provenance (GeoTIFF/COG, JPEG 2000, JPEG, PNG, STAC Items)."""
    from sitewatch.ingest import IngestOptions, IngestStatus, discover
    from sitewatch.ingest import ingest as run_ingest
    from sitewatch.ingest.provenance import given

    prov = given(acquired, illustrative, provider, credit, licence, source_url, gsd, prefix="--")
    options = IngestOptions(
        site=site,
        provenance=prov,
        sidecar=sidecar,
        store="reference" if reference else "copy",
        allow_undated=undated,
        date_regex=date_regex,
        asset=asset,
    )
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        error_line(f"{p}: no such file or folder")
    cat = catalog()
    total = len(list(discover([p for p in paths if p.exists()])))
    with progress_bar(disable=total < 2) as bar:
        task = bar.add_task("ingest", total=total)

        def show(outcome: Any) -> None:
            bar.advance(task)
            style = {"ingested": "green", "duplicate": "yellow", "failed": "red"}[outcome.status]
            label = "error" if outcome.status == "failed" else outcome.status
            console = err if outcome.status == "failed" else out
            console.print(
                f"[{style}]{label}:[/{style}] {escape(one_line(outcome.message))}",
                highlight=False,
                soft_wrap=True,
            )

        report = run_ingest(cat, [p for p in paths if p.exists()], options, progress=show)
    n_ok, n_dup, n_bad = (len(report.of(s)) for s in IngestStatus)
    n_bad += len(missing)
    out.print(f"{n_ok} ingested, {n_dup} already present, {n_bad} failed")
    if n_bad:
        raise typer.Exit(1)


@site_app.command("add")
@fails_cleanly
def site_add(
    name: str,
    aoi: Annotated[Path | None, typer.Option(help="GeoJSON polygon (lon/lat) of the site.")] = None,
    reference: Annotated[
        str | None, typer.Option(help="Reference image (path or SHA-256 prefix) for a pixel frame.")
    ] = None,
    polygon: Annotated[
        str | None, typer.Option(help="Site polygon in reference pixels: 'x,y x,y x,y …'.")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Free-text notes.")] = None,
) -> None:
    """Add a site: a map AOI (--aoi) or a reference image frame (--reference)."""
    from sitewatch.sites import add_frame_site, add_geo_site

    if (aoi is None) == (reference is None):
        raise BadInputError(name, "give exactly one of --aoi or --reference")
    if polygon and reference is None:
        raise BadInputError(name, "--polygon goes with --reference (an AOI is its own polygon)")
    cat = catalog()
    if aoi is not None:
        n = add_geo_site(cat, name, aoi, notes)
        out.print(f"site {name!r} added (map AOI); {n} existing image(s) linked by footprint")
    else:
        add_frame_site(cat, name, reference, polygon, notes)  # type: ignore[arg-type]
        out.print(f"site {name!r} added (pixel frame of {escape(str(reference))})")


@site_app.command("list")
@fails_cleanly
def site_list() -> None:
    """List sites with image counts and date range."""
    from sitewatch.dates import iso
    from sitewatch.sites import list_sites

    table = Table("site", "kind", "images", "first", "last")
    for s in list_sites(catalog()):
        table.add_row(s.name, s.kind, str(len(s.images)), iso(s.first)[:10], iso(s.last)[:10])
    out.print(table)


@site_app.command("show")
@fails_cleanly
def site_show(name: str) -> None:
    """Show a site's images by date, with provider, GSD, coverage and labels."""
    from sitewatch.sites import site_summary

    summary = site_summary(catalog(), name)
    print_site(summary)


def print_site(summary: Any) -> None:
    from sitewatch.dates import iso
    from sitewatch.store.models import SiteKind

    if summary.kind == SiteKind.GEO:
        from sitewatch import geo

        aoi = geo.load_wkt(summary.aoi_wkt)
        c = geo.centre(aoi)  # across the antimeridian when the AOI is split there
        where = (
            f"map AOI of {geo.area_m2(aoi) / 1e6:.3g} km² centred at {abs(c.y):.5f}°"
            f"{'N' if c.y >= 0 else 'S'} {abs(c.x):.5f}°{'E' if c.x >= 0 else 'W'}"
        )
    else:
        where = f"pixel frame of image {summary.reference[:12]}" + (
            f", polygon {summary.polygon_wkt}" if summary.polygon_wkt else ", whole image"
        )
    table = Table(title=f"site {summary.name}: {where}", title_justify="left")
    for col in (
        "acquired",
        "image",
        "sha256",
        "provider",
        "GSD m",
        "size px",
        "georef",
        "link",
        "coverage",
        "labels",
        "detected",
    ):
        table.add_column(col)
    for im in summary.images:
        when = "undated"
        if im.acquired_at:
            stamp = iso(im.acquired_at)
            when = stamp[:10] if stamp.endswith("T00:00:00Z") else stamp[:16].replace("T", " ")
            when += " *" if im.date_is_illustrative else ""
        table.add_row(
            when,
            escape(im.name),
            im.sha256[:12],
            escape(im.provider or "—"),
            f"{im.gsd_m:.2f}" if im.gsd_m else "—",
            f"{im.width}×{im.height}",
            "yes" if im.georeferenced else "no",
            im.link_method,
            f"{im.coverage:.0%}" if im.coverage is not None else "—",
            str(im.labels),
            _detected(im),
        )
    out.print(table)
    if any(im.date_is_illustrative for im in summary.images):
        out.print("* date illustrative (not published with the imagery)")
    for im in summary.images:
        for f in im.findings:
            out.print(f"verify {f.check}: {escape(im.name)}: {escape(f.verdict)} — "
                      f"{escape(f.summary)}", highlight=False)  # fmt: skip
    if summary.kind == SiteKind.FRAME and any(im.coverage is None for im in summary.images):
        out.print(
            f"coverage of frame-site images is known after `sitewatch register {summary.name}`"
        )
    credits = sorted({f"{im.credit} ({im.licence})" for im in summary.images if im.credit})
    for line in credits:
        out.print(f"imagery: {escape(line)}", highlight=False)


def _detected(im: Any) -> str:
    """An image's counted detections: the number, or by class when there are several."""
    by = im.detected_by_class
    if by is None:
        return "—"
    if len(by) == 1:
        return str(im.detected)
    return ", ".join(f"{escape(c)} {n}" for c, n in by.items())


@site_app.command("rm")
@fails_cleanly
def site_rm(name: str) -> None:
    """Remove a site and its image links (the images stay in the catalog)."""
    from sitewatch.sites import remove_site

    n = remove_site(catalog(), name)
    out.print(f"site {name!r} removed ({n} image link(s); images kept)")


@labels_app.command("import")
@fails_cleanly
def labels_import(
    path: Path,
    images: Annotated[
        Path | None, typer.Option(help="Folder of the images (default: images/ beside the file).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Label set name (default: file stem).")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="airbus or coco (default: by suffix).")
    ] = None,
    licence: Annotated[str | None, typer.Option("--licence", "--license")] = None,
    credit: Annotated[str | None, typer.Option()] = None,
    provider: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Import annotations (Airbus CSV or COCO JSON); new images are ingested undated."""
    from sitewatch.ingest import IngestOptions
    from sitewatch.ingest.provenance import given
    from sitewatch.labels import import_labels

    if fmt not in (None, "airbus", "coco"):
        raise BadInputError(str(path), f"unknown --format {fmt!r}; use airbus or coco")
    opts = IngestOptions(
        allow_undated=True,
        provenance=given(licence=licence, credit=credit, provider=provider, prefix="--"),
    )
    result = import_labels(catalog(), path, images, name, fmt, opts)  # type: ignore[arg-type]
    for failure in result.failures:
        error_line(str(failure))
    label_set = escape(repr(result.name))  # a --name or a file stem: text, never markup
    if result.already_imported:
        out.print(f"label set {label_set} already imported ({result.labels} boxes); unchanged")
    else:
        out.print(
            f"label set {label_set}: {result.labels} boxes on {result.images} images"
            + (f" ({result.clipped} clipped to the image border)" if result.clipped else "")
        )
        if result.duplicates:
            out.print(
                f"{result.duplicates} boxes repeat another box of their image (IoU ≥ 0.6): "
                "kept but flagged, and not counted as objects"
            )
    if result.failures:
        raise typer.Exit(1)


@labels_app.command("export")
@fails_cleanly
def labels_export(
    out_path: Annotated[Path, typer.Argument(metavar="OUT")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="coco, geojson, gpkg, kml, kmz or csv (default: by suffix; .json: coco).",
        ),
    ] = None,
    label_set: Annotated[str | None, typer.Option("--set", help="Only this label set.")] = None,
    site: Annotated[str | None, typer.Option(help="Only images of this site.")] = None,
) -> None:
    """Export labels: a COCO dataset, a map layer (boxes on georeferenced images) or CSV."""
    from sitewatch.labels import export_labels

    n, summary = export_labels(catalog(), out_path, fmt, label_set, site)
    out.print(f"{n} boxes written to {escape(str(out_path))}", highlight=False)
    for line in summary.lines() if summary is not None else []:
        out.print(f"  {escape(line)}", highlight=False)


def computing_on(where: Any) -> str:
    """The line saying where work runs, with the Dask dashboard when there is one."""
    dashboard = f"; Dask dashboard {where.dashboard}" if where.dashboard else ""
    return f"computing on {escape(where.where)}{escape(dashboard)}"


# where per-image work runs (sitewatch.cluster): detect and register share these options
Workers = Annotated[
    int,
    typer.Option(
        help="Images computed at once on a local Dask cluster of this many worker "
        "processes (1: in this process; needs sitewatch[scale])."
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Compute on the Dask cluster at this address (tcp://HOST:PORT); its "
        "workers must see the image store at the same path (docs/SCALE.md)."
    ),
]


@app.command()
@fails_cleanly
def detect(
    images: Annotated[
        list[str] | None, typer.Argument(help="Catalog images: file paths or SHA-256 prefixes.")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Every image of this site.")] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Model: a name from `sitewatch models list` or an .onnx path; repeat for "
            "several (default: the shipped aircraft model). Each model's runs are kept apart."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-run even if stored.")] = False,
    geojson: Annotated[
        Path | None, typer.Option(help="Write detections on the map as GeoJSON (RFC 7946).")
    ] = None,
    coco: Annotated[
        Path | None, typer.Option(help="Write detections as COCO results (every score).")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option(help="Write detections as CSV (pixels, and lon/lat).")
    ] = None,
    tile: Annotated[int, typer.Option(help="Tile edge in model pixels.")] = 2048,
    overlap: Annotated[int, typer.Option(help="Tile overlap in model pixels.")] = 160,
    workers: Workers = 1,
    scheduler: Scheduler = None,
) -> None:
    """Detect objects on whole scenes; results go to the catalog (and GeoJSON/COCO/CSV)."""
    from sitewatch.cluster import compute_on
    from sitewatch.detect import TileSpec, run_detector, select_images
    from sitewatch.detect.registry import resolve_model
    from sitewatch.export import export_detections

    spec = TileSpec(tile, overlap)  # checks itself before the catalog is touched
    cat = catalog()
    # every model named is checked before any image is read: a typo fails up front
    models: list[tuple[str, str | Path | None]] = [
        (ref, resolve_model(ref, cat.workspace).path) for ref in dict.fromkeys(model or [])
    ] or [("", None)]
    chosen = select_images(cat, images or [], site)
    reports = []
    with progress_bar() as bar:
        task = bar.add_task("detect", total=None)

        def tiles(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        def shown(result: Any) -> None:
            bar.update(task, completed=0, total=None)
            if result.error is not None:
                error_line(str(result.error))
                return
            how = "stored result reused" if result.reused else f"{result.seconds:.2f} s"
            out.print(
                f"{escape(result.name)} ({result.sha256[:12]}): {result.count} detected ({how})",
                highlight=False,
            )

        with compute_on(workers, scheduler) as where:
            if where.executor is not None:
                out.print(computing_on(where), highlight=False)
            for label, ref in models:
                if len(models) > 1:
                    out.print(f"model {escape(label)}:", highlight=False)
                reports.append(
                    run_detector(
                        cat, chosen, ref, force, spec, shown, tiles, where.executor, where.threads
                    )
                )
    for report in reports:
        thresholds = ", ".join(f"{c} {t:.2f}" for c, t in report.thresholds.items())
        out.print(
            f"model {escape(report.model)} {report.version}, operating threshold "
            f"{escape(thresholds) or f'{report.threshold:.2f}'}",
            highlight=False,
        )
    runs = [r.run_id for report in reports for r in report.results if r.run_id is not None]
    failed = not all(report.ok for report in reports)
    for path, fmt in ((geojson, "geojson"), (coco, "coco"), (csv, "csv")):
        if path is None:
            continue
        try:  # each file on its own: one refused (no map coordinates) keeps the others
            summary = export_detections(cat, runs, path, fmt)
        except SitewatchError as exc:
            error_line(str(exc))
            failed = True
            continue
        shown_lines = summary.lines() if summary is not None else ["COCO results list"]
        out.print(f"wrote {escape(str(path))}: {escape(shown_lines[0])}", highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
@fails_cleanly
def register(
    name: Annotated[str, typer.Argument(help="Site name.")],
    force: Annotated[bool, typer.Option("--force", help="Redo stored registrations.")] = False,
    workers: Workers = 1,
    scheduler: Scheduler = None,
) -> None:
    """Map every image of a site into the site frame; store transforms and their quality."""
    from sitewatch.cluster import compute_on
    from sitewatch.register import register_site

    cat = catalog()
    with progress_bar() as bar, compute_on(workers, scheduler) as where:
        if where.executor is not None:
            out.print(computing_on(where), highlight=False)
        task = bar.add_task("register", total=None)
        report = register_site(
            cat, name, force=force, progress=lambda n: bar.update(task, description=n),
            executor=where.executor,
        )  # fmt: skip
    table = Table(title=f"{name}: registration to frame of {report.reference[:12]}")
    for col in ("image", "method", "status", "inliers", "RMSE px", "shift m", "overlap", "note"):
        table.add_column(col)
    for r in report.results:
        table.add_row(
            escape(r.name),
            r.method + (f" via {r.via[:8]}" if r.via else ""),
            "[green]ok[/green]" if r.ok else "[red]failed[/red]",
            str(r.inliers) if r.inliers else "",
            "" if r.rmse_px is None else f"{r.rmse_px:.2f}",
            "" if r.shift_m is None else f"{r.shift_m:.2f}",
            "" if r.overlap is None else f"{r.overlap:.0%}",
            escape(r.reason or "") + (" (stored)" if r.reused else ""),
        )
    out.print(table)
    if report.failed:
        out.print(f"{len(report.failed)} image(s) not registered: left out of counts (see note)")


@app.command()
@fails_cleanly
def monitor(
    name: Annotated[str, typer.Argument(help="Site name.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for CSV/JSON (default: workspace).")
    ] = None,
    far: Annotated[
        float, typer.Option(help="Stated false alarms per site-year at weekly revisit.")
    ] = 1.0,
    chips: Annotated[bool, typer.Option(help="Write before|after chips.")] = True,
) -> None:
    """Count over time inside the site, compare dates object by object, raise alerts."""
    from sitewatch.alerts import AlertConfig
    from sitewatch.monitor import monitor_site

    if not math.isfinite(far) or far <= 0:  # "nan" and "inf" parse as floats
        raise BadInputError("--far", f"{far:g} is not a false-alarm rate: give a positive number")
    cat = catalog()
    result = monitor_site(cat, name, alerts=AlertConfig(far_per_year=far), write_chips=chips)
    print_monitor(result)
    paths = result.write(out_dir or cat.workspace / "monitor")
    out.print("written: " + ", ".join(escape(str(p)) for p in paths), highlight=False)


@app.command()
@fails_cleanly
def report(
    name: Annotated[str, typer.Argument(help="Site name (run `sitewatch monitor` first).")],
    out_html: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
        "report.html"
    ),
    start: Annotated[
        str | None, typer.Option("--from", help="First date shown (YYYY-MM-DD).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date shown (YYYY-MM-DD).")] = None,
    pdf: Annotated[
        Path | None, typer.Option(help="Also write this PDF (WeasyPrint; tagged).")
    ] = None,
    archival: Annotated[
        bool,
        typer.Option(
            "--archival", help="Make the PDF archival: PDF/A-3b with report.json attached."
        ),
    ] = False,
) -> None:
    """A self-contained HTML assessment of the site, its JSON twin beside it, and a PDF."""
    from sitewatch.dates import parse_day
    from sitewatch.report.render import write_report

    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if first and last and first > last:
        raise BadInputError("--from", f"{first} is after --to {last}")
    if archival and pdf is None:
        raise BadInputError("--archival", "there is no PDF to make archival", "add --pdf FILE")
    for flag, target in (("--out", out_html), ("--pdf", pdf)):
        if target is not None and target.is_dir():  # said before any work is done
            raise BadInputError(flag, f"{target} is a folder", "give a file name in it")
    files = write_report(catalog(), name, out_html, first, last, pdf, archival)
    out.print(f"report: {escape(str(files.html))}", highlight=False)
    out.print(f"data:   {escape(str(files.json))}", highlight=False)
    if files.pdf is not None:
        kind = " (PDF/A-3b, report.json attached)" if archival else ""
        out.print(f"pdf:    {escape(str(files.pdf))}{kind}", highlight=False)


@app.command()
@fails_cleanly
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback needs the token.")
    ] = "127.0.0.1",
    port: Annotated[str, typer.Option(metavar="PORT", help="TCP port (1 to 65535).")] = "8000",
    token: Annotated[
        str | None,
        typer.Option(envvar="SITEWATCH_TOKEN", help="Access token (default: a random one)."),
    ] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest upload accepted, in MB.")] = 2048,
    scheduler: Scheduler = None,
) -> None:
    """The web dashboard: sites on a map, timelines, imagery with detections, uploads, jobs."""
    from sitewatch.cluster import compute_on
    from sitewatch.web import create_app, listen_port
    from sitewatch.web.security import Access

    try:
        import uvicorn
    except ImportError:
        from sitewatch.errors import MissingDependencyError

        raise MissingDependencyError(
            "sitewatch serve", "uvicorn is not installed", "pip install 'sitewatch[web]'"
        ) from None
    number = listen_port(host, port)  # one line, not a traceback, for 99999 or a port in use
    access = Access.for_host(host, token, max_upload_mb)
    hosts = ["127.0.0.1", "localhost", "[::1]", "::1"] if access.open_reads else None
    if scheduler is not None:  # a bad or unreachable address fails now, not in the first job
        with compute_on(scheduler=scheduler) as where:
            out.print(f"jobs: {computing_on(where)}", highlight=False)
    app_ = create_app(catalog(), access, allowed_hosts=hosts, scheduler=scheduler)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    address = f"http://{shown}:{number}/?token={access.token}"
    out.print(f"sitewatch dashboard: {address}", highlight=False)
    if access.open_reads:
        out.print("reads are open on this machine; uploads and jobs need the token", style="dim")
    uvicorn.run(app_, host=host, port=number, log_level="warning")


@app.command()
@fails_cleanly
def check(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Restore lost image files from their originals, remove orphans and leftovers.",
        ),
    ] = False,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also re-hash every stored image (slow).")
    ] = False,
) -> None:
    """Find rows without files, files without rows, leftovers of killed processes, and
    runs that never finished; exit 1 while anything is left unmended."""
    from sitewatch.store.check import check as check_catalog

    findings = check_catalog(catalog(), repair=repair, deep=deep)
    for finding in findings:
        console = err if finding.open else out
        console.print(escape(finding.line()), highlight=False, soft_wrap=True)
    left = [f for f in findings if f.open]
    out.print(f"{len(findings)} finding(s), {len(left)} left unmended", highlight=False)
    if left:
        raise typer.Exit(1)


def print_monitor(result: Any) -> None:
    """The count series, changes between dates and alert episodes as tables."""
    star = lambda c: " *" if c.date_is_illustrative else ""  # noqa: E731
    table = Table(title=f"{result.site}: counts inside the site (90 % interval of true count)")
    for col in (
        "date",
        "image",
        "class",
        "detected",
        "estimate",
        "90 % interval",
        "coverage",
        "note",
    ):
        table.add_column(col)
    for c in result.counts:
        if not c.used:
            table.add_row(
                c.date + star(c),
                escape(c.name),
                escape(c.class_name or ""),
                "",
                "",
                "",
                "",
                f"[yellow]left out:[/yellow] {escape(c.reason or '')}",
            )
            continue
        table.add_row(
            c.date + star(c),
            escape(c.name),
            c.class_name,
            str(c.count),
            f"{c.estimate:.1f}",
            f"{c.low:.1f}–{c.high:.1f}",
            f"{c.coverage:.0%}",
            escape(c.reason or ""),
        )
    out.print(table)
    changes = Table(title="object change between consecutive dates (common footprint only)")
    for col in (
        "from",
        "to",
        "common area",
        "count then",
        "count now",
        "stayed",
        "appeared",
        "departed",
    ):
        changes.add_column(col)
    for p in result.pairs:
        changes.add_row(
            p.before_date,
            p.after_date,
            f"{p.common_coverage:.0%}",
            str(p.before_count),
            str(p.after_count),
            str(p.tally("stayed")),
            str(p.tally("appeared")),
            str(p.tally("departed")),
        )
    out.print(changes)
    for cls, episodes in result.episodes.items():
        tested = sum(s.state != "warm-up" for s in result.steps[cls])
        far = result.alert_config.far_per_year
        head = (
            f"alerts ({cls}): threshold for {far:g} false alarm{'' if far == 1 else 's'} per "
            f"site-year; {tested} of {len(result.steps[cls])} full-coverage "
            f"observations tested (the first {result.alert_config.min_baseline} build the "
            "baseline)"
        )
        out.print(head, highlight=False)
        if not episodes:
            out.print("  no buildup episode", highlight=False)
        for e in episodes:
            until = "ongoing" if e.ongoing else f"ended {e.end.date()}"
            out.print(
                f"  [bold]buildup[/bold] from {e.start.date()} (alarm {e.alarm.date()}, {until}):"
                f" {e.magnitude:+.0%} over a baseline of {e.baseline:.1f}, peak {e.peak:.1f},"
                f" confidence {e.confidence:.0%}",
                highlight=False,
            )
    if any(c.date_is_illustrative for c in result.counts):
        out.print("* date illustrative (not published with the imagery)")


@eval_app.command("detector")
@fails_cleanly
def eval_detector(
    images: Annotated[Path, typer.Option(help="Folder of the annotated images.")],
    annotations: Annotated[Path, typer.Option(help="Airbus CSV or COCO JSON.")],
    model: Annotated[Path | None, typer.Option(help="ONNX model (default: shipped).")] = None,
    gsd: Annotated[float, typer.Option(help="GSD of the images in metres.")] = 0.5,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write metrics JSON.")] = None,
    keep_duplicates: Annotated[
        bool, typer.Option(help="Count near-duplicate truth boxes (IoU ≥ 0.6) separately.")
    ] = False,
) -> None:
    """AP50, AP50:95 (COCO evaluator), precision/recall, count error and km²/s."""
    import json

    from sitewatch.detect.benchmark import evaluate_detector
    from sitewatch.files import write_json_atomic

    report = evaluate_detector(images, annotations, model, gsd, keep_duplicates=keep_duplicates)
    table = Table("metric", "value")
    for key in (
        "ap50",
        "ap50_95",
        "precision",
        "recall",
        "count_mare",
        "km2_per_s",
        "seconds_per_scene",
        "threshold",
        "scenes",
        "objects",
        "duplicate_labels_ignored",
    ):
        value = report.metrics[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    out.print(table)
    if json_out is not None:
        write_json_atomic(json_out, {**report.metrics, "per_scene": report.per_scene})
        out.print(f"metrics written to {escape(str(json_out))}", highlight=False)
    else:
        out.print(
            json.dumps(
                {k: report.metrics[k] for k in ("ap50", "ap50_95", "count_mare", "km2_per_s")}
            )
        )


@eval_app.command("change")
@fails_cleanly
def eval_change(
    pairs: Annotated[
        Path, typer.Option(help="Folder with A/, B/ and label/ of same-named images (LEVIR-CD).")
    ],
    method: Annotated[
        str | None, typer.Option(help="Change method: model, cva or irmad (default cva).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="A change model file (.onnx) to score: implies model.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write metrics JSON.")] = None,
) -> None:
    """Precision, recall, F1 and IoU of the change class, pooled over every pixel and per pair."""
    import json

    from sitewatch.change import ChangeMethod, evaluate_pairs
    from sitewatch.cli_change import chosen_method
    from sitewatch.files import write_json_atomic

    chosen = chosen_method(method, model, ChangeMethod.CVA)
    if json_out is not None and json_out.is_dir():
        raise BadInputError(json_out, "is a folder", "give the JSON file's name")
    report = evaluate_pairs(pairs, chosen, model=model)
    table = Table("metric", "value")
    for key in ("precision", "recall", "f1", "iou", "pairs"):
        value = report[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    out.print(table)
    if json_out is not None:
        write_json_atomic(json_out, report)
        out.print(f"metrics written to {escape(str(json_out))}", highlight=False)
    else:
        out.print(json.dumps({k: report[k] for k in ("precision", "recall", "f1", "iou")}))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
