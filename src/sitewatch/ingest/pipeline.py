"""Ingest: validate, hash, store (content-addressed, never modified) and catalogue imagery.

One transaction per image: a bad file in a batch is reported and skipped, the good ones land,
and nothing is half-written (files are copied to a temporary name and renamed into place).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sitewatch import __version__
from sitewatch.errors import (
    BadInputError,
    MissingDateError,
    RowConflictError,
    SitewatchError,
    StoreError,
    describe_os_error,
)
from sitewatch.files import copy_durable, locked
from sitewatch.hashing import sha256_file
from sitewatch.ingest.facts import ImageFacts
from sitewatch.ingest.geotiff import read_raster
from sitewatch.ingest.plain import read_plain
from sitewatch.ingest.provenance import (
    Provenance,
    date_from_name,
    date_pattern,
    load_sidecar,
    sidecar_for,
)
from sitewatch.ingest.sniff import RASTER_SUFFIXES, sniff
from sitewatch.ingest.stac import read_item
from sitewatch.store.catalog import Catalog
from sitewatch.store.links import auto_link_image, link
from sitewatch.store.models import Image, LinkMethod, RunStatus


class IngestStatus(StrEnum):
    """What became of one file."""

    INGESTED = "ingested"
    DUPLICATE = "duplicate"  # its content is in the catalog already
    FAILED = "failed"


@dataclass(frozen=True)
class IngestOptions:
    """How to ingest. ``provenance`` holds flag values; they win over every other source."""

    site: str | None = None
    provenance: Provenance = field(default_factory=Provenance)
    sidecar: Path | None = None
    store: Literal["copy", "reference"] = "copy"
    allow_undated: bool = False
    date_regex: str | None = None
    asset: str | None = None
    origin: str | None = None  # recorded as the original path when files are staged copies

    def __post_init__(self) -> None:
        if self.date_regex is not None:  # a bad pattern fails before any file is touched
            date_pattern(self.date_regex)


@dataclass(frozen=True)
class FileOutcome:
    path: Path
    status: IngestStatus
    message: str
    sha256: str | None = None
    sites: tuple[str, ...] = ()
    error: SitewatchError | None = None


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    run_id: int | None = None

    def of(self, status: IngestStatus) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        return not self.of(IngestStatus.FAILED)


def discover(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named directly, plus imagery and STAC items found recursively in folders.

    In folders, JSON files are taken only when they are STAC Items (sidecars are skipped).
    """
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            suffix = child.suffix.lower()
            if suffix in RASTER_SUFFIXES or (suffix == ".json" and _is_stac(child)):
                yield child


def _empty_folder(folder: Path) -> FileOutcome:
    error = BadInputError(
        folder,
        "no images or STAC Items in this folder or below it",
        f"sitewatch ingests {', '.join(sorted(RASTER_SUFFIXES))} and STAC Item .json files",
    )
    return FileOutcome(folder, IngestStatus.FAILED, str(error), error=error)


def _is_stac(path: Path) -> bool:
    try:
        return sniff(path) == "stac"
    except BadInputError:
        return False


def ingest(
    catalog: Catalog,
    paths: Iterable[str | Path],
    options: IngestOptions | None = None,
    progress: Callable[[FileOutcome], None] | None = None,
) -> IngestReport:
    """Ingest files and folders into the catalog; never raises for a bad file, reports it."""
    options = options or IngestOptions()
    files: list[Path] = []
    report = IngestReport()
    for path in map(Path, paths):
        found = list(discover([path]))
        files += found
        if not found:  # only a folder finds nothing: say so rather than succeed silently
            report.outcomes.append(_empty_folder(path))
    if options.site is not None:
        with catalog.session() as s:
            catalog.get_site(s, options.site)  # unknown site: fail before touching anything
    for outcome in report.outcomes:
        if progress:
            progress(outcome)
    if not files:
        return report  # nothing to ingest: no run is recorded
    report.run_id = catalog.start_run(
        "ingest", "sitewatch.ingest", __version__, _run_parameters(options, files)
    )
    try:
        for path in files:
            outcome = _ingest_guarded(catalog, path, options, report.run_id)
            report.outcomes.append(outcome)
            if progress:
                progress(outcome)
    except BaseException as exc:  # Ctrl-C, or a bug: the run must not stay "running"
        catalog.finish_run(report.run_id, RunStatus.FAILED, str(exc) or type(exc).__name__)
        raise
    counts = {s.value: len(report.of(s)) for s in IngestStatus}
    catalog.finish_run(
        report.run_id,
        RunStatus.OK if report.ok else RunStatus.PARTIAL,
        ", ".join(f"{v} {k}" for k, v in counts.items()),
    )
    return report


def _ingest_guarded(
    catalog: Catalog, path: Path, options: IngestOptions, run_id: int
) -> FileOutcome:
    """One file's outcome; a failure is reported with its cause, never raised."""
    try:
        return _ingest_one(catalog, path, options, run_id)
    except SitewatchError as exc:
        return FileOutcome(path, IngestStatus.FAILED, str(exc), error=exc)
    except OSError as exc:
        cause, fix = describe_os_error(exc.filename, exc)
        error: SitewatchError = BadInputError(path, f"cannot read or store the file: {cause}", fix)
        return FileOutcome(path, IngestStatus.FAILED, str(error), error=error)
    except SQLAlchemyError as exc:
        error = StoreError(f"{path}: catalog write failed, nothing stored ({exc})")
        return FileOutcome(path, IngestStatus.FAILED, str(error), error=error)


def _run_parameters(options: IngestOptions, files: list[Path]) -> dict:
    prov = options.provenance
    return {
        "files": len(files),
        "site": options.site,
        "store": options.store,
        "allow_undated": options.allow_undated,
        "acquired": prov.acquired.value.isoformat() if prov.acquired else None,
        "provider": prov.provider,
        "licence": prov.licence,
    }


def _ingest_one(catalog: Catalog, path: Path, options: IngestOptions, run_id: int) -> FileOutcome:
    kind = sniff(path)
    layers: list[Provenance] = [options.provenance]
    sidecar = options.sidecar or (sidecar_for(path) if kind != "stac" else None)
    if sidecar is not None:
        try:
            layers.append(load_sidecar(sidecar))
        except BadInputError as exc:
            raise BadInputError(path, f"sidecar {exc.path}: {exc.cause}", exc.fix) from None
    source = path
    if kind == "stac":
        asset = read_item(path, options.asset)
        layers.append(asset.provenance)
        source = asset.path
        kind = sniff(source)
    sha = sha256_file(source)
    with catalog.session() as s:
        existing = s.scalar(select(Image).where(Image.sha256 == sha))
        if existing is not None:
            return _duplicate(catalog, s, existing, source, options)
    facts = read_raster(source) if kind in ("tiff", "jp2") else read_plain(source)
    prov = _merge(layers)
    acquired = prov.acquired or facts.embedded_time
    if acquired is None and options.date_regex:
        acquired = date_from_name(source, options.date_regex)
    if acquired is None and not options.allow_undated:
        raise MissingDateError(
            source,
            "no acquisition time (no --acquired flag, sidecar, STAC datetime, EXIF or date tag)",
            "pass --acquired 2024-04-17, a sidecar JSON with 'acquired', or --undated",
        )
    # One writer at a time per store folder from placing a file to committing its row, so a
    # file this ingest placed can be removed on failure: no other row can refer to it yet.
    with locked(catalog.store_lock(sha)):
        stored, created = _store_file(catalog, source, sha, options.store)
        try:
            with catalog.session() as s:
                image = _image_row(catalog, source, sha, stored, facts, prov, run_id)
                if options.origin:
                    image.original_path = options.origin
                image.acquired_at = acquired.value if acquired else None
                image.acquired_source = acquired.source if acquired else None
                s.add(image)
                s.flush()
                sites = auto_link_image(s, image)
                if options.site and options.site not in sites:
                    link(s, image, catalog.get_site(s, options.site), LinkMethod.EXPLICIT)
                    sites.append(options.site)
        except RowConflictError:
            # Another writer committed the same content first: "already present" (below).
            # Keep the file placed here only if that row's file is this very one.
            with catalog.session() as s:
                theirs = s.scalar(select(Image.stored_path).where(Image.sha256 == sha))
            if created and (theirs is None or catalog.resolve_path(theirs) != stored):
                stored.unlink(missing_ok=True)
            if theirs is None:
                raise
        except BaseException:
            if created:
                stored.unlink(missing_ok=True)
            raise
        else:
            where = f" → site {', '.join(sites)}" if sites else ""
            message = f"{path}: ingested as {sha[:12]}{where}"
            return FileOutcome(path, IngestStatus.INGESTED, message, sha, tuple(sites))
    with catalog.session() as s:  # outside the lock: restoring a lost file takes it
        existing = s.scalar(select(Image).where(Image.sha256 == sha))
        assert existing is not None  # the RowConflictError above: another writer committed it
        return _duplicate(catalog, s, existing, source, options)


def _duplicate(
    catalog: Catalog, session: Session, image: Image, source: Path, options: IngestOptions
) -> FileOutcome:
    note = ""
    sites: tuple[str, ...] = ()
    stored = catalog.image_path(image)
    if catalog.in_store(stored) and not _intact(stored, image.file_size):
        # its file was lost (deleted by hand, a crash before a fsync): put it back where the
        # row says it is (the suffix of this copy of the file may differ)
        with locked(catalog.store_lock(image.sha256)):
            if not _intact(stored, image.file_size):
                copy_durable(source, stored, image.sha256)
        note = "; its missing stored file was restored"
    if options.site:
        site = catalog.get_site(session, options.site)
        if link(session, image, site, LinkMethod.EXPLICIT) is not None:
            note = f"; now linked to site {site.name}"
            sites = (site.name,)
    flag_time = options.provenance.acquired
    if flag_time and image.acquired_at and flag_time.value != image.acquired_at:
        note += f"; kept its recorded acquisition time {image.acquired_at.isoformat()}"
    return FileOutcome(
        source,
        IngestStatus.DUPLICATE,
        f"{source}: already in the catalog as {image.sha256[:12]}, unchanged{note}",
        image.sha256,
        sites,
    )


def _merge(layers: list[Provenance]) -> Provenance:
    merged = Provenance()
    for layer in reversed(layers):
        merged = layer.over(merged)
    return merged


def _store_file(catalog: Catalog, source: Path, sha: str, mode: str) -> tuple[Path, bool]:
    """Copy into the content-addressed store, or reference in place; True if it was copied.

    The copy is written under a temporary name of this process's own, flushed to disk and
    renamed into place before any row refers to it. A file already in place with the same
    size is the same content (the name is its hash): it is kept, never rewritten.
    """
    if mode == "reference":
        return source.resolve(), False
    target = catalog.settings.image_store / sha[:2] / f"{sha}{source.suffix.lower()}"
    if _intact(target, source.stat().st_size):
        return target, False
    copy_durable(source, target, sha)
    return target, True


def _intact(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _image_row(
    catalog: Catalog,
    source: Path,
    sha: str,
    stored: Path,
    facts: ImageFacts,
    prov: Provenance,
    run_id: int,
) -> Image:
    try:
        stored_rel = str(stored.relative_to(catalog.workspace))
    except ValueError:
        stored_rel = str(stored)
    gsd, gsd_source = facts.gsd_m, facts.gsd_source
    stated: dict[str, float] = {}
    if gsd is None and prov.gsd_m is not None:
        gsd, gsd_source = prov.gsd_m, "provenance"
    elif prov.gsd_m is not None:  # the file's own georeference wins; what was said is kept
        stated["stated_gsd_m"] = prov.gsd_m  # (`sitewatch verify metadata` compares them)
    return Image(
        sha256=sha,
        stored_path=stored_rel,
        original_path=str(source.resolve()),
        original_name=source.name,
        file_size=source.stat().st_size,
        format=facts.format,
        width=facts.width,
        height=facts.height,
        bands=facts.bands,
        dtype=facts.dtype,
        crs_wkt=facts.crs_wkt,
        crs_epsg=facts.crs_epsg,
        transform=facts.transform,
        footprint_native_wkt=facts.footprint_native.wkt if facts.footprint_native else None,
        footprint_wgs84_wkt=facts.footprint_wgs84.wkt if facts.footprint_wgs84 else None,
        gsd_m=gsd,
        gsd_source=gsd_source,
        date_is_illustrative=bool(prov.date_is_illustrative),
        provider=prov.provider,
        credit=prov.credit,
        licence=prov.licence,
        source_url=prov.source_url,
        notes=prov.notes,
        extra={**facts.extra, **prov.extra, **stated},
        ingest_run_id=run_id,
    )
