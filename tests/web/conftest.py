"""A dashboard over a copy of the monitored demo catalog plus the Joplin map site."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from sitewatch import Catalog, add_geo_site
from sitewatch.claims import import_claims
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.ingest.provenance import given
from tests.conftest import EXAMPLES, JOPLIN, copy_catalog

pytest.importorskip("fastapi", reason="the dashboard needs the web extra")

TOKEN = "test-token-0123456789"
DEMO_CLAIMS = EXAMPLES / "claims" / "demo-airport-claims.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
# every Content-Security-Policy violation of a page, in window.cspViolations
CSP_WATCH = """window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"""


def with_joplin(catalog: Catalog) -> Catalog:
    """Add the Joplin map site (two GeoTIFFs in two CRSs) to ``catalog``."""
    add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson")
    for name, day in (("joplin-pre.tif", "2011-05-01"), ("joplin-post.tif", "2011-05-23")):
        prov = given(day, True, "Maxar Open Data", "Maxar Open Data (via xView2)", "CC BY-NC 4.0")
        report = ingest(catalog, [JOPLIN / name], IngestOptions(provenance=prov))
        assert report.ok, report.outcomes
    return catalog


def with_joplin_change(catalog: Catalog) -> Catalog:
    """Register the Joplin site (``with_joplin``) and store its pixel change, as
    `sitewatch register joplin` and `sitewatch change joplin` do (≈ 5 s)."""
    from sitewatch.change import change_site
    from sitewatch.register import register_site

    register_site(catalog, "joplin")
    change_site(catalog, "joplin")
    return catalog


@pytest.fixture
def workspace(monitored, tmp_path: Path) -> Iterator[Catalog]:
    """A fresh writable copy of the monitored demo catalog, with the Joplin site."""
    catalog = with_joplin(copy_catalog(monitored[0], tmp_path / "ws"))
    yield catalog
    catalog.close()


def finished_job(client, job: dict, seconds: float = 60) -> dict:  # type: ignore[no-untyped-def]
    """Poll a dashboard job until it is no longer queued or running (or time runs out)."""
    import time

    deadline = time.monotonic() + seconds
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def make_client(  # type: ignore[no-untyped-def]
    catalog: Catalog, open_reads: bool = True, scheduler: str | None = None, **access
):
    from fastapi.testclient import TestClient

    from sitewatch.web import create_app
    from sitewatch.web.security import Access

    app = create_app(catalog, Access(TOKEN, open_reads, **access), scheduler=scheduler)
    return TestClient(app, base_url="http://127.0.0.1:8000")


@dataclass
class Server:
    url: str
    catalog: Catalog
    token: str = TOKEN


@contextmanager
def serving(catalog: Catalog) -> Iterator[Server]:
    """uvicorn serving the dashboard over ``catalog`` on a free loopback port, in a thread."""
    import uvicorn

    from sitewatch.web import create_app
    from sitewatch.web.security import Access

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(catalog, Access(TOKEN, True), allowed_hosts=["127.0.0.1", "localhost"])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", catalog)
    finally:
        uv.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="module")
def server(monitored, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard over a copy of the monitored demo catalog with the Joplin site and the
    demo claims, served on loopback."""
    catalog = with_joplin(copy_catalog(monitored[0], tmp_path_factory.mktemp("web") / "ws"))
    claims = tmp_path_factory.mktemp("claims") / "claims.yaml"
    claims.write_text(DEMO_CLAIMS.read_text().replace("site: demo-airport", "site: apt"))
    import_claims(catalog, claims)
    with serving(catalog) as served:
        yield served
    catalog.close()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's headless Chromium (Playwright drives it; no browser download)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra")
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def open_page(browser, errors: list[str]):  # type: ignore[no-untyped-def]
    """A page in a fresh context that records script errors, console errors (CSP refusals
    among them) in ``errors`` and CSP violations in ``window.cspViolations``."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_default_timeout(20_000)
    return page
