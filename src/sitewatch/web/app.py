"""The dashboard: a FastAPI app over one catalog (pages, JSON API, tiles, uploads, jobs)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.middleware.trustedhost import TrustedHostMiddleware

from sitewatch import __version__
from sitewatch.errors import (
    BadInputError,
    ConflictError,
    MissingDependencyError,
    NotFoundError,
    OutputError,
    SitewatchError,
    StoreError,
)
from sitewatch.files import leftovers, remove, temp_name
from sitewatch.ingest.sniff import RASTER_SUFFIXES
from sitewatch.store.catalog import Catalog
from sitewatch.web import data
from sitewatch.web.jobs import JobRunner
from sitewatch.web.models import (
    Claim,
    ClaimRecord,
    FrameChanges,
    FrameDetections,
    FramePixelChange,
    Health,
    Job,
    JobRequest,
    ShadowRequest,
    SiteDetail,
    SiteOverview,
    SunAnswer,
    Upload,
)
from sitewatch.web.security import (
    COOKIE,
    HEADERS,
    READ_METHODS,
    Access,
    SecurityHeaders,
    cross_origin,
    local_target,
    presented_token,
)
from sitewatch.web.tiles import FORMATS, SourceCache, encode, frame_tile, max_zoom, mercator_tile

HERE = Path(__file__).parent
SHA = Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$", description="full SHA-256")]
ZOOM = Annotated[int, PathParam(ge=0, le=24)]
TILE_XY = Annotated[int, PathParam(ge=0, le=2**24)]
PNG = {"content": {"image/png": {}}, "description": "a PNG image"}
TILE_IMAGE = {"content": {m: {} for m in ("image/webp", "image/png")},
              "description": "a 256×256 tile, transparent where the image has no data"}  # fmt: skip
CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}
GEOJSON = {"content": {"application/geo+json": {"schema": {"type": "object"}}},
           "description": "an RFC 7946 FeatureCollection"}  # fmt: skip
REPORT = {"content": {"text/html": {"schema": {"type": "string"}},
                      "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                      "application/json": {"schema": {"type": "object"}}},
          "description": "the report as HTML, tagged PDF, archival PDF/A-3b (pdfa, with "
                         "report.json attached) or its JSON twin"}  # fmt: skip
BINARY = {"schema": {"type": "string", "format": "binary"}}
LAYER_MEDIA = {
    "gpkg": "application/geopackage+sqlite3",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
    "csv": "text/csv",
}
LAYERS_FILE = {"content": {m: BINARY for m in LAYER_MEDIA.values()},
               "description": "GeoPackage, KML or KMZ with the layers site, footprints, "
                              "detections and changes; or every detection as CSV"}  # fmt: skip
CLAIMS_FILE = {"content": {"application/ld+json": {"schema": {"type": "object"}},
                           "text/csv": {"schema": {"type": "string"}}},
               "description": "ClaimReview JSON-LD or CSV (by the path's suffix)"}  # fmt: skip
ORIGINAL = {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                 "format": "binary"}}},
            "description": "the file exactly as ingested"}  # fmt: skip
TILE_FORMAT = Annotated[str, PathParam(pattern="^(webp|png)$", description="webp (small) or png")]
TILE_CACHE = "private, max-age=300"
# JSON answers pass through their model (web.models) with the keys the data has: none added
TYPED: dict[str, Any] = {"response_model_exclude_unset": True}
log = logging.getLogger("sitewatch.web")


def create_app(
    catalog: Catalog,
    access: Access,
    allowed_hosts: list[str] | None = None,
    scheduler: str | None = None,
) -> FastAPI:
    """The app for ``catalog``. ``allowed_hosts`` guards against DNS rebinding on loopback;
    jobs compute on the Dask cluster at ``scheduler`` when given."""
    jobs = JobRunner(catalog, scheduler)
    sources = SourceCache()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for leftover in leftovers(catalog.workspace):  # staging and temp files of dead servers
            remove(leftover)
        yield
        jobs.shutdown()
        sources.clear()

    app = FastAPI(
        title="sitewatch",
        version=__version__,
        description="Sites, counts, alerts and imagery of a sitewatch catalog. Reads are open "
        "on a loopback address; writes (uploads, jobs) need the token as "
        "`Authorization: Bearer …`. Browsers may call the API from this server's own pages "
        "only (other origins get 403).",
        lifespan=lifespan,
        docs_url=None,  # /docs below: Swagger UI from the package, not a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        token = request.query_params.get("token")
        if token is not None and request.method == "GET" and access.check(token):
            # log in once: keep the token in a cookie, drop it from the address bar
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            response = RedirectResponse(local_target(request.scope["path"], query), status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response
        api = request.url.path.startswith("/api/")  # reports and exports cost seconds of CPU
        if api or request.method not in READ_METHODS:
            refused = cross_origin(request.headers, request.url)
            if refused:
                return JSONResponse({"detail": refused}, status_code=403)
        if not access.allows(request.method) and not access.check(
            presented_token(request.headers, request.cookies)
        ):
            what = "this server needs" if not access.open_reads else "writes need"
            return JSONResponse(
                {"detail": f"{what} the sitewatch token: open the address `sitewatch serve` "
                 "printed (it ends in ?token=…) or send `Authorization: Bearer TOKEN`"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        if request.method == "POST" and request.url.path == "/api/images":
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return JSONResponse({"detail": "uploads need a Content-Length"}, status_code=411)
            if int(length) > access.max_upload_bytes + 1024**2:  # + room for the form fields
                too_large = TooLarge.over("upload", access.max_upload_bytes)
                return JSONResponse({"detail": str(too_large)}, status_code=413)
        return await call_next(request)

    # outermost last: security headers on everything, the Host check before the token
    app.middleware("http")(guard)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(SecurityHeaders)
    _errors(app)

    # -- pages -----------------------------------------------------------------------------
    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"version": __version__, **context})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview_page(request: Request) -> HTMLResponse:
        return page(request, "overview.html.j2")

    @app.get("/sites/{name}", response_class=HTMLResponse, include_in_schema=False)
    def site_page(request: Request, name: str) -> HTMLResponse:
        with catalog.session() as s:
            catalog.get_site(s, name)
        return page(request, "site.html.j2", site=name, on_map=data.site_on_map(catalog, name))

    @app.get("/sites/{name}/view", response_class=HTMLResponse, include_in_schema=False)
    def viewer_page(request: Request, name: str) -> HTMLResponse:
        with catalog.session() as s:
            catalog.get_site(s, name)
        return page(request, "viewer.html.j2", site=name)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs_page(request: Request) -> HTMLResponse:
        """Swagger UI over /openapi.json, from the package (works offline, under the CSP)."""
        return page(request, "docs.html.j2", openapi_url=app.openapi_url)

    # -- reading -----------------------------------------------------------------------------
    @app.get("/api/health", tags=["meta"], response_model=Health, **TYPED)
    def health() -> dict[str, Any]:
        return {"sitewatch": __version__, "images": catalog.count_images()}

    @app.get("/api/sites", tags=["sites"], response_model=list[SiteOverview], **TYPED)
    def sites() -> list[dict[str, Any]]:
        """Every site with its latest count, a sparkline of estimates and its alert state."""
        return data.overview(catalog)

    @app.get("/api/sites/{name}", tags=["sites"], response_model=SiteDetail, **TYPED)
    def site(name: str) -> dict[str, Any]:
        """A site's report data (series, episodes, changes, images with provenance) plus its
        frame and map geometry."""
        return data.site_detail(catalog, name)

    @app.get(
        "/api/sites/{name}/images/{sha256}/detections",
        tags=["imagery"], response_model=FrameDetections, **TYPED,
    )  # fmt: skip
    def detections(name: str, sha256: SHA) -> dict[str, Any]:
        """The latest detections on one image of the site, in site-frame pixels."""
        return data.frame_detections(catalog, name, sha256)

    @app.get("/api/sites/{name}/changes", tags=["imagery"], response_model=FrameChanges, **TYPED)
    def changes(
        name: str,
        before: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
        after: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
    ) -> dict[str, Any]:
        """Objects that stayed, appeared or departed between two compared dates (in the
        site frame); ``compared`` is false when monitoring did not compare that pair."""
        return data.frame_changes(catalog, name, before, after)

    @app.get(
        "/api/sites/{name}/pixel-change",
        tags=["imagery"], response_model=FramePixelChange, **TYPED,
    )  # fmt: skip
    def pixel_change(
        name: str,
        before: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
        after: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
        limit: Annotated[int, Query(ge=1, le=5000, description="outlines per pair")] = (
            data.MAX_OUTLINES
        ),
    ) -> dict[str, Any]:
        """The pixel change ``sitewatch change`` stored: each pair of dates with its areas by
        kind and the outlines of its largest regions in site-frame pixels; with ``before``
        and ``after`` (both, in either order) only that pair, none if it was not compared."""
        return data.frame_pixel_change(catalog, name, before, after, limit)

    @app.get(
        "/api/sites/{name}/changes/{change_id}/chip.png",
        tags=["imagery"], response_class=Response, responses={200: PNG},
    )  # fmt: skip
    def chip(name: str, change_id: Annotated[int, PathParam(ge=1, le=2**62)]) -> Response:
        """The before|after chip of one changed object."""
        body = data.change_chip(catalog, name, change_id)
        return Response(body, media_type="image/png", headers={"Cache-Control": TILE_CACHE})

    @app.get(
        "/api/sites/{name}/frame/{sha256}/{z}/{x}/{y}.{fmt}",
        tags=["imagery"], response_class=Response, responses={200: TILE_IMAGE},
    )  # fmt: skip
    def frame_tile_image(
        name: str, sha256: SHA, z: ZOOM, x: TILE_XY, y: TILE_XY, fmt: TILE_FORMAT
    ) -> Response:
        """Tile (z, x, y) of one image resampled into the site frame (Leaflet CRS.Simple; at
        the site's ``zmax`` a tile pixel is a frame pixel). Transparent where it has no data."""
        with catalog.session() as s:
            site_row = catalog.get_site(s, name)
            image = data.image_of_site(catalog, s, site_row, sha256)
            matrix = data.image_to_frame(s, site_row, image)
            ref = site_row.reference_image
            if matrix is None or ref is None:
                raise ConflictError(
                    f"{image.original_name} is not registered to site {name!r}; run "
                    f"`sitewatch register {name}`"
                )
            path = catalog.image_path(image)
            zmax = max_zoom(ref.width, ref.height)
        if z > zmax + 3:
            raise BadInputError(f"zoom {z}", f"the site frame goes to zoom {zmax + 3} at most")
        rgba = frame_tile(sources.get(path), matrix, zmax, z, x, y)
        return Response(
            encode(rgba, fmt), media_type=FORMATS[fmt], headers={"Cache-Control": TILE_CACHE}
        )

    @app.get(
        "/api/images/{sha256}/map/{z}/{x}/{y}.{fmt}",
        tags=["imagery"], response_class=Response, responses={200: TILE_IMAGE},
    )  # fmt: skip
    def map_tile_image(sha256: SHA, z: ZOOM, x: TILE_XY, y: TILE_XY, fmt: TILE_FORMAT) -> Response:
        """Web-Mercator tile (z, x, y) of a georeferenced image (rio-tiler)."""
        with catalog.session() as s:
            image = catalog.find_image(s, sha256)
            if not image.georeferenced:
                raise ConflictError(f"{image.original_name} is not georeferenced: no map tiles")
            path = catalog.image_path(image)
        if x >= 2**z or y >= 2**z:
            raise BadInputError(f"tile {z}/{x}/{y}", "x and y must be below 2**z")
        rgba = mercator_tile(sources.get(path), z, x, y)
        return Response(
            encode(rgba, fmt), media_type=FORMATS[fmt], headers={"Cache-Control": TILE_CACHE}
        )

    @app.get(
        "/api/images/{sha256}/file",
        tags=["imagery"], response_class=FileResponse, responses={200: ORIGINAL},
    )  # fmt: skip
    def original(sha256: SHA) -> FileResponse:
        """The image file exactly as ingested (content-addressed, never modified)."""
        with catalog.session() as s:
            image = catalog.find_image(s, sha256)
            path, name = catalog.image_path(image), image.original_name
        if not path.is_file():
            raise NotFoundError(f"{name}: the stored file is missing from the workspace")
        return FileResponse(path, filename=name)

    @app.get(
        "/api/sites/{name}/detections.geojson",
        tags=["exports"], response_class=Response, responses={200: GEOJSON},
    )  # fmt: skip
    def detections_geojson(name: str) -> Response:
        """Every image's detections at the model's threshold (lon/lat where georeferenced)."""
        body = data.site_detections_geojson(catalog, name)
        geojson = JSONResponse(body, media_type="application/geo+json")
        return _download(geojson, f"{name}-detections.geojson")

    @app.get(
        "/api/sites/{name}/counts.csv",
        tags=["exports"], response_class=Response, responses={200: CSV},
    )  # fmt: skip
    def counts(name: str) -> Response:
        """The count series with intervals, baselines and alert states, as CSV."""
        text = data.counts_csv(data.site_detail(catalog, name))
        return _download(Response(text, media_type="text/csv"), f"{name}-counts.csv")

    @app.get(
        "/api/sites/{name}/report.{fmt}",
        tags=["exports"], response_class=Response, responses={200: REPORT},
    )  # fmt: skip
    def report(
        name: str,
        fmt: Annotated[str, PathParam(pattern="^(html|pdf|pdfa|json)$")],
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        """The analyst report (``sitewatch report``) as HTML, tagged PDF, archival PDF/A-3b
        (``pdfa``: the JSON twin attached) or its JSON twin."""
        from sitewatch.report.render import write_report

        if start and end and start > end:
            raise BadInputError("from", f"{start} is after to {end}")
        with tempfile.TemporaryDirectory(prefix="sitewatch-report-") as tmp:
            out = Path(tmp) / "report.html"
            pdf = out.with_suffix(".pdf") if fmt in ("pdf", "pdfa") else None
            files = write_report(catalog, name, out, start, end, pdf=pdf, archival=fmt == "pdfa")
            path = {"html": files.html, "json": files.json}.get(fmt, files.pdf)
            body = path.read_bytes() if path else b""
        media = {"html": "text/html", "json": "application/json"}.get(fmt, "application/pdf")
        filename = f"{name}-report-archival.pdf" if fmt == "pdfa" else f"{name}-report.{fmt}"
        return _download(Response(body, media_type=media), filename)

    @app.get(
        "/api/sites/{name}/layers.{fmt}",
        tags=["exports"], response_class=Response, responses={200: LAYERS_FILE},
    )  # fmt: skip
    def layers(
        name: str, fmt: Annotated[str, PathParam(pattern="^(gpkg|kml|kmz|csv)$")]
    ) -> Response:
        """The site for GIS and Google Earth (``sitewatch export``): its area, footprints,
        detections (each image's latest run, at its operating threshold) and object changes
        in lon/lat; CSV: those detections with pixels, and lon/lat where placed. 409 when
        nothing of the site has map coordinates (use the CSV)."""
        from sitewatch.export import export_site

        with tempfile.TemporaryDirectory(prefix="sitewatch-export-") as tmp:
            out = Path(tmp) / f"layers.{fmt}"
            export_site(catalog, name, out)
            body = out.read_bytes()
        filename = f"{name}-detections.csv" if fmt == "csv" else f"{name}.{fmt}"
        return _download(Response(body, media_type=LAYER_MEDIA[fmt]), filename)

    @app.get("/api/claims", tags=["claims"], response_model=list[Claim], **TYPED)
    def claims(site: str | None = None) -> list[dict[str, Any]]:
        """Every claim (or one site's) with its status against the imagery and its origins."""
        from sitewatch.claims import claim_dict, review

        return [claim_dict(c, v) for c, v in review(catalog, site)]

    @app.get(
        "/api/claims.{fmt}", tags=["claims"], response_class=Response, responses={200: CLAIMS_FILE}
    )
    def claims_export(
        fmt: Annotated[str, PathParam(pattern="^(jsonld|csv)$")],
        site: str | None = None,
    ) -> Response:
        """The claims as schema.org ClaimReview JSON-LD (what fact-checkers publish) or CSV."""
        from sitewatch.claims import claimreview, claims_csv, review

        rows = review(catalog, site)
        name = f"{site or 'all'}-claims.{fmt}"
        if fmt == "csv":
            return _download(Response(claims_csv(rows), media_type="text/csv"), name)
        # the address this request came to is often loopback: only a configured public one
        body = claimreview(rows, base_url=os.environ.get("SITEWATCH_PUBLIC_URL"))
        return _download(JSONResponse(body, media_type="application/ld+json"), name)

    @app.post("/api/claims", tags=["claims"], status_code=201, response_model=Claim, **TYPED)
    def add_claim(record: ClaimRecord) -> dict[str, Any]:
        """Add a claim with its sources (token needed); the same fields as a claims file."""
        from sitewatch.claims import add_claim, check_claim, claim_dict, get_claim
        from sitewatch.claims.exchange import from_record
        from sitewatch.monitor.stored import load_monitoring

        claim_id = add_claim(catalog, from_record(record.model_dump(by_alias=True), "claim"))
        stored = get_claim(catalog, claim_id)
        return claim_dict(stored, check_claim(stored, load_monitoring(catalog, stored.site)))

    @app.get("/api/jobs", tags=["jobs"], response_model=list[Job], **TYPED)
    def list_jobs() -> list[dict[str, Any]]:
        return [j.to_dict() for j in jobs.list()]

    @app.get("/api/jobs/{job_id}", tags=["jobs"], response_model=Job, **TYPED)
    def job(job_id: Annotated[str, PathParam(pattern="^[0-9a-f]{12}$")]) -> dict[str, Any]:
        found = jobs.get(job_id)
        if found is None:
            raise NotFoundError(f"no job {job_id}: jobs are kept until the server stops")
        return found.to_dict()

    # -- writing (token) ---------------------------------------------------------------------
    @app.post("/api/sites/{name}/jobs", tags=["jobs"], status_code=202, response_model=Job, **TYPED)
    def start_job(name: str, request: JobRequest) -> dict[str, Any]:
        """Run detect, register and/or monitor on the site in the background (token needed)."""
        return jobs.submit(name, request.stages).to_dict()

    @app.post(
        "/api/sites/{name}/images/{sha256}/shadow", tags=["verify"], response_model=SunAnswer,
        **TYPED,
    )  # fmt: skip
    def shadow(name: str, sha256: SHA, request: ShadowRequest) -> dict[str, Any]:
        """Check a shadow marked on an image in the site frame against the claimed time (or
        search days for the times that fit); stored with the image (token needed). The image
        must be georeferenced: its pixels need a north."""
        from sitewatch.dates import parse_day

        days = (parse_day(request.start, "from"), parse_day(request.end, "to"))
        return data.shadow_check(
            catalog, name, sha256, request.base, request.tip, request.time, days,
            request.height_m, request.height_sigma_m, request.mark_m,
        )  # fmt: skip

    @app.post(
        "/api/images", tags=["imagery"], status_code=201, response_model=Upload,
        responses={200: {"model": Upload, "description": "already in the catalog"}},
    )  # fmt: skip
    def upload(
        file: Annotated[UploadFile, File(description="GeoTIFF/COG, JPEG 2000, JPEG or PNG")],
        site: Annotated[str | None, Form()] = None,
        acquired: Annotated[str | None, Form(description="ISO-8601 date or time")] = None,
        illustrative: Annotated[bool, Form()] = False,
        provider: Annotated[str | None, Form()] = None,
        credit: Annotated[str | None, Form()] = None,
        licence: Annotated[str | None, Form()] = None,
        source_url: Annotated[str | None, Form()] = None,
        gsd: Annotated[float | None, Form(description="metres")] = None,
        notes: Annotated[str | None, Form()] = None,
    ) -> JSONResponse:
        """Ingest one image with its provenance, exactly as `sitewatch ingest` would (token
        needed). 201 when stored, 200 when it was already in the catalog."""
        from sitewatch.ingest import IngestOptions, ingest
        from sitewatch.ingest.provenance import given

        prov = given(acquired, illustrative, provider, credit, licence, source_url, gsd, notes)
        name = safe_name(file.filename or "")
        # tagged with this process, so a later start can tell a killed server's leftovers
        staging = temp_name(catalog.workspace / "uploads" / "staging", "upload")
        try:
            staging.mkdir(parents=True)
            dest = staging / name
            _save(file, dest, access.max_upload_bytes)
            options = IngestOptions(site=site or None, provenance=prov, origin=f"upload:{name}")
            report = ingest(catalog, [dest], options)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        outcome = report.outcomes[0]
        error = outcome.error
        if isinstance(error, BadInputError) and error.path == str(dest):
            raise type(error)(f"upload {name}", error.cause, error.fix)  # not the staging path
        if isinstance(error, ConflictError):
            raise ConflictError(str(error).replace(str(dest), f"upload {name}"))
        if error is not None:
            raise error
        message = outcome.message.replace(str(dest), f"upload {name}")
        body = {"status": outcome.status, "sha256": outcome.sha256, "name": name,
                "sites": list(outcome.sites), "message": message}  # fmt: skip
        return JSONResponse(body, status_code=201 if outcome.status == "ingested" else 200)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus how to authenticate: the token as a bearer token, the
    ``X-Sitewatch-Token`` header or the login cookie; writes always need one, reads only
    when the server listens beyond loopback (so for reads, no token is an option too)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.update({
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "the token `sitewatch serve` prints (or --token)"},
        "tokenHeader": {"type": "apiKey", "in": "header", "name": "X-Sitewatch-Token"},
        "tokenCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
    })  # fmt: skip
    token: list[dict[str, list[str]]] = [{"bearer": []}, {"tokenHeader": []}, {"tokenCookie": []}]
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            open_read = method.upper() in READ_METHODS
            operation["security"] = [{}, *token] if open_read else token
    app.openapi_schema = schema
    return schema


def safe_name(filename: str) -> str:
    """An upload's file name without any directory part, in a safe alphabet, with a raster
    suffix (else 415: the same types `sitewatch ingest` takes)."""
    base = re.split(r"[\\/]", filename)[-1]
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")[-120:] or "upload"
    if Path(clean).suffix.lower() not in RASTER_SUFFIXES:
        raise UnsupportedUpload(
            filename or "upload",
            "not an image type sitewatch ingests",
            f"upload one of {', '.join(sorted(RASTER_SUFFIXES))}",
        )
    return clean


class UnsupportedUpload(BadInputError):
    """An upload whose name says it is not imagery."""


class TooLarge(BadInputError):
    """An upload over the size limit."""

    @classmethod
    def over(cls, name: str, limit: int) -> TooLarge:
        return cls(
            name, f"upload over the {limit // 1024**2} MB limit",
            "raise it with `sitewatch serve --max-upload-mb` or ingest from the CLI",
        )  # fmt: skip


def _save(file: UploadFile, dest: Path, limit: int) -> None:
    size = 0
    with open(dest, "wb") as fh:
        while chunk := file.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise TooLarge.over(dest.name, limit)
            fh.write(chunk)


def _download(response: Response, filename: str) -> Response:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


def _errors(app: FastAPI) -> None:
    """Map sitewatch's errors to HTTP statuses with the error's own message. A store failure
    (503) or a bug (500) gets one generic line: its text names files and SQL, so it goes to
    the server log only."""
    statuses: list[tuple[type[Exception], int]] = [
        (NotFoundError, 404),
        (UnsupportedUpload, 415),
        (TooLarge, 413),
        (ConflictError, 409),
        (BadInputError, 400),
        (MissingDependencyError, 501),
        (SitewatchError, 400),
    ]
    for cls, status in statuses:

        def handler(_request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        app.add_exception_handler(cls, handler)

    def store_failed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        detail = "the catalog could not be read or written; the server's log has the cause"
        return JSONResponse({"detail": detail}, status_code=503)

    def failed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        detail = "internal error; the server's log has the details"
        return JSONResponse({"detail": detail}, status_code=500, headers=HEADERS)

    def invalid(_request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own answer echoes each bad input, and an input such as NaN (which
        # Python's JSON parser reads) cannot be written back as JSON: the answer would fail
        assert isinstance(exc, RequestValidationError)
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]  # fmt: skip
        return JSONResponse({"detail": detail}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StoreError, store_failed)
    app.add_exception_handler(OutputError, store_failed)  # a full disk, a read-only store
    app.add_exception_handler(Exception, failed)  # what no other handler takes


__all__ = ["create_app"]
