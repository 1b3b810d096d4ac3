"""The dashboard against hostile requests: other origins, the login redirect, error bodies,
security headers (FastAPI's client; the browser side is in test_browser_security.py)."""

from __future__ import annotations

import http.client
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from sitewatch import Catalog
from sitewatch.claims import list_claims
from sitewatch.web.security import COOKIE
from tests.conftest import write_jpeg
from tests.web.conftest import TOKEN, make_client

HERE = "http://127.0.0.1:8000"  # make_client's address
OTHER = "http://127.0.0.1:9999"  # another program on this machine: same site, other origin
COOKIE_ONLY = {"Cookie": f"{COOKIE}={TOKEN}"}  # what a browser that opened ?token= sends
CLAIM = {"text": "Hostile claim.", "site": "apt"}
HOSTILE = [
    {"Origin": OTHER},
    {"Origin": "null"},  # sandboxed frames, file:// pages
    {"Origin": "http://localhost:8000"},
    {"Origin": "https://127.0.0.1:8000"},
    {"Origin": "http://127.0.0.1:8000.evil.example"},
    {"Sec-Fetch-Site": "same-site"},  # a browser request without Origin (GET, no-cors)
    {"Sec-Fetch-Site": "cross-site"},
]


def _refused(res: Any) -> bool:
    detail = res.json()["detail"]
    return (
        res.status_code == 403
        and detail.startswith("cross-origin request refused")
        and "\n" not in detail
    )


def test_writes_from_another_origin_are_refused_even_with_the_cookie(workspace) -> None:
    images, claims = workspace.count_images(), len(list_claims(workspace))
    jpeg = write_jpeg(workspace.workspace / "hostile.jpg", seed=3).read_bytes()
    with make_client(workspace) as client:
        for headers in HOSTILE:
            sent = {**COOKIE_ONLY, **headers}
            assert _refused(client.post("/api/claims", json=CLAIM, headers=sent)), headers
            job = client.post("/api/sites/apt/jobs", json={"stages": ["monitor"]}, headers=sent)
            assert _refused(job), headers
            files = {"file": ("hostile.jpg", jpeg, "image/jpeg")}
            upload = client.post("/api/images", files=files, data={"site": "apt"}, headers=sent)
            assert _refused(upload), headers
        assert (
            "http://127.0.0.1:8000"
            in client.post(
                "/api/claims", json=CLAIM, headers={**COOKIE_ONLY, "Origin": OTHER}
            ).json()["detail"]
        )  # names the origin it expected
        assert client.get("/api/jobs").json() == []
        assert workspace.count_images() == images and len(list_claims(workspace)) == claims
        # the dashboard's own pages send its origin; curl and scripts send no browser headers
        own = {**COOKIE_ONLY, "Origin": HERE, "Sec-Fetch-Site": "same-origin"}
        assert client.post("/api/claims", json=CLAIM, headers=own).status_code == 201
        assert client.post("/api/claims", json=CLAIM, headers=COOKIE_ONLY).status_code == 201
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post("/api/claims", json=CLAIM, headers=bearer).status_code == 201
        assert client.post("/api/claims", json=CLAIM, headers={"Origin": HERE}).status_code == 401
    assert len(list_claims(workspace)) == claims + 3


def test_reports_and_exports_refuse_other_origins_but_open_from_links_and_scripts(
    workspace, monkeypatch
) -> None:
    import sitewatch.report.render as render

    made: list[str] = []
    real = render.write_report
    monkeypatch.setattr(render, "write_report", lambda *a, **k: made.append("x") or real(*a, **k))
    reads = [
        "/api/sites/apt/report.html", "/api/sites/apt/report.pdf", "/api/sites/apt/report.json",
        "/api/sites/apt/detections.geojson", "/api/sites/apt/counts.csv", "/api/claims.jsonld",
        "/api/claims.csv", "/api/sites",
    ]  # fmt: skip
    with make_client(workspace) as client:
        for path in reads:
            for headers in HOSTILE:
                assert _refused(client.get(path, headers=headers)), (path, headers)
        assert made == []  # refused before any work
        for headers in ({}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}):
            res = client.get("/api/sites/apt/report.json", headers=headers)  # script, link, typed
            assert res.status_code == 200 and res.json()["site"] == "apt"
        assert len(made) == 3
        # a page opens from a link on any site (it costs nothing and changes nothing)
        assert client.get("/sites/apt", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_a_report_period_that_ends_before_it_starts_is_refused(workspace) -> None:
    with make_client(workspace) as client:
        res = client.get(
            "/api/sites/apt/report.json", params={"from": "2024-06-01", "to": "2024-05-01"}
        )
        assert res.status_code == 400
        assert res.json()["detail"] == "from: 2024-06-01 is after to 2024-05-01"
        same_day = {"from": "2024-05-13", "to": "2024-05-13"}
        assert client.get("/api/sites/apt/report.json", params=same_day).status_code == 200


LOGINS = [  # (request target as sent, where the login may send the browser)
    ("/sites/apt?token=T&x=1", "/sites/apt?x=1"),
    ("//evil.example/?token=T", "/evil.example/"),
    ("///evil.example/x?token=T", "/evil.example/x"),
    ("/\\evil.example/?token=T", "/evil.example/"),
    ("/%5Cevil.example/?token=T", "/evil.example/"),
    ("/%5C/evil.example/?token=T", "/evil.example/"),
    ("/%09/evil.example?token=T", "/evil.example"),
    ("/%2F%2Fevil.example?token=T", "/evil.example"),
    ("/sites/a%0d%0aSet-Cookie:x=1?token=T", "/sites/a%0D%0ASet-Cookie:x=1"),
]


def test_the_token_login_redirects_only_to_a_path_of_this_server(server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    for target, location in LOGINS:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", target.replace("token=T", f"token={server.token}"))
        res = conn.getresponse()
        assert res.status == 303, target
        assert res.getheader("location") == location, target
        assert f"{COOKIE}={server.token}" in (res.getheader("set-cookie") or "")
        conn.close()


def test_the_login_cookie_is_set_only_after_the_host_check(workspace) -> None:
    from fastapi.testclient import TestClient

    from sitewatch.web import create_app
    from sitewatch.web.security import Access

    app = create_app(workspace, Access(TOKEN, True), allowed_hosts=["127.0.0.1"])
    with TestClient(app, base_url=HERE, follow_redirects=False) as client:
        rebound = client.get(f"/?token={TOKEN}", headers={"Host": "evil.example:8000"})
        assert rebound.status_code == 400 and "set-cookie" not in rebound.headers
        assert rebound.headers["x-frame-options"] == "DENY"  # headers on the refusal too
        assert "set-cookie" in client.get(f"/?token={TOKEN}").headers


def test_store_and_internal_errors_name_no_path_and_no_sql(tmp_path, caplog, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from sitewatch.web import create_app, data
    from sitewatch.web.security import Access

    def bug(_catalog: Catalog) -> None:
        raise KeyError(f"{tmp_path}/ws/catalog.sqlite: SELECT * FROM sites")

    monkeypatch.setattr(data, "overview", bug)
    catalog = Catalog(tmp_path / "ws")
    with catalog.engine.begin() as conn:
        cascade = " CASCADE" if conn.dialect.name == "postgresql" else ""
        conn.exec_driver_sql(f"DROP TABLE images{cascade}")  # a damaged catalog
    jpeg = write_jpeg(tmp_path / "a.jpg", seed=1).read_bytes()
    app = create_app(catalog, Access(TOKEN, True))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with (
            caplog.at_level(logging.ERROR, logger="sitewatch.web"),
            TestClient(app, base_url=HERE, raise_server_exceptions=False) as client,
        ):
            files = {"file": ("a.jpg", jpeg, "image/jpeg")}
            stored = client.post("/api/images", files=files, headers=auth)  # from ingest
            read = client.get("/api/health")  # from a read
            crashed = client.get("/api/sites")  # a bug: any other exception
    finally:
        catalog.close()
    assert (stored.status_code, read.status_code, crashed.status_code) == (503, 503, 500)
    for res in (stored, read, crashed):
        detail = res.json()["detail"]
        assert "log" in detail and "\n" not in detail
        assert str(tmp_path) not in res.text and "/" not in detail
        assert not re.search(r"SELECT|INSERT|sqlite|no such table|does not exist", res.text, re.I)
        assert res.headers["x-content-type-options"] == "nosniff"
    missing = ("no such table", 'relation "images" does not exist')  # SQLite, PostgreSQL
    assert any(m in caplog.text for m in missing) and "SELECT * FROM sites" in caplog.text


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def test_every_response_carries_the_security_headers_and_pages_no_inline_script(
    workspace,
) -> None:
    sha0 = "0" * 64
    requests = [
        ("GET", "/", 200), ("GET", "/sites/apt", 200), ("GET", "/sites/apt/view", 200),
        ("GET", "/docs", 200), ("GET", "/openapi.json", 200), ("GET", "/api/sites", 200),
        ("GET", "/static/app.js", 200), ("GET", "/static/vendor/swagger-ui/swagger-ui.css", 200),
        ("GET", "/api/sites/nowhere", 404), ("GET", f"/api/images/{sha0}/file", 404),
        ("POST", "/api/claims", 401), ("GET", "/redoc", 404),
    ]  # fmt: skip
    with make_client(workspace) as client:
        for method, path, status in requests:
            res = client.request(method, path)
            assert res.status_code == status, (path, res.text)
            for name, value in SECURITY_HEADERS.items():
                assert res.headers[name] == value, (path, name)
            csp = dict(
                d.strip().split(" ", 1) for d in res.headers["content-security-policy"].split(";")
            )
            assert csp["script-src"] == "'self'" and csp["object-src"] == "'none'", path
            assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'", path
        refused = client.post("/api/claims", json=CLAIM, headers={"Origin": OTHER})
        assert refused.status_code == 403 and "content-security-policy" in refused.headers
        for path in ("/", "/sites/apt", "/sites/apt/view", "/docs"):
            html = client.get(path).text
            assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), path  # inline script
            assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, re.I), path  # inline handlers
            for url in re.findall(r'<(?:script|link)[^>]*\s(?:src|href)="([^"]+)"', html):
                parts = urlsplit(url)  # all from the package: none from a CDN
                assert parts.scheme == "data" or (
                    parts.netloc in ("", "127.0.0.1:8000") and parts.path.startswith("/static/")
                ), (path, url)
