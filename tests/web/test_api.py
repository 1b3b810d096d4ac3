"""The dashboard's JSON API, tiles, uploads, jobs and access rules, through FastAPI's client."""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from sitewatch.frame import project
from sitewatch.monitor.stored import load_monitoring
from sitewatch.report.build import report_dict
from sitewatch.store.models import Image
from tests.conftest import AIRCRAFT_THRESHOLD, AIRPORT, DEMO_REF, write_jpeg
from tests.web.conftest import TOKEN, finished_job, make_client

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _png(body: bytes) -> np.ndarray:
    img = PILImage.open(io.BytesIO(body))
    assert img.size == (256, 256) and img.mode == "RGBA"
    return np.asarray(img)


def _sha(catalog, name: str) -> str:
    with catalog.session() as s:
        return s.scalar(select(Image.sha256).where(Image.original_name == name))


def test_overview_lists_sites_with_latest_count_sparkline_and_state(workspace) -> None:
    with make_client(workspace) as client:
        sites = {s["name"]: s for s in client.get("/api/sites").json()}
    report = report_dict(load_monitoring(workspace, "apt"))
    full = [r for r in report["series"]["aircraft"] if not r["partial"]]
    apt = sites["apt"]
    assert apt["class"] == "aircraft" and apt["kind"] == "frame" and apt["aoi"] is None
    assert apt["latest"]["estimate"] == full[-1]["estimate"]
    assert [p["estimate"] for p in apt["sparkline"]] == [r["estimate"] for r in full]
    assert apt["state"] == "warm-up"  # 4 full views: too few for a baseline
    joplin = sites["joplin"]
    assert joplin["state"] == "unmonitored" and joplin["latest"] is None
    assert joplin["aoi"]["type"] == "Polygon" and joplin["map_image"] is not None


def test_site_detail_is_the_report_data_plus_frame(workspace) -> None:
    with make_client(workspace) as client:
        body = client.get("/api/sites/apt").json()
    report = report_dict(load_monitoring(workspace, "apt"))
    assert body["series"] == report["series"] and body["changes"] == report["changes"]
    frame = body["site_info"]["frame"]
    assert (frame["width"], frame["height"], frame["zmax"]) == (2560, 2560, 4)
    assert frame["reference"] == _sha(workspace, DEMO_REF.name)
    ok = [sha for sha, r in frame["registered"].items() if r["status"] == "ok"]
    assert len(ok) == 5 and all(len(frame["registered"][sha]["footprint"]) == 4 for sha in ok)


def test_detections_are_returned_in_the_site_frame(workspace) -> None:
    from sitewatch.register.site import frame_matrix, registrations
    from sitewatch.store.catalog import latest_detect_run
    from sitewatch.store.models import Detection

    other = next(p.name for p in sorted(AIRPORT.glob("*.jpg")) if p != DEMO_REF)
    sha = _sha(workspace, other)
    with make_client(workspace) as client:
        body = client.get(f"/api/sites/apt/images/{sha}/detections").json()
    with workspace.session() as s:
        site = workspace.get_site(s, "apt")
        image = workspace.find_image(s, sha)
        matrix = frame_matrix(registrations(s, site)[image.id])
        run = latest_detect_run(s, image.id)
        best = s.scalars(
            select(Detection).where(Detection.run_id == run.id).order_by(Detection.score.desc())
        ).first()
        stored = s.query(Detection).filter(Detection.run_id == run.id).count()
    assert body["registered"] and body["classes"] == ["aircraft"]
    assert len(body["detections"]) == stored and body["threshold"] == AIRCRAFT_THRESHOLD
    corners = [[best.x0, best.y0], [best.x1, best.y0], [best.x1, best.y1], [best.x0, best.y1]]
    expected = project(matrix, np.array(corners, float))
    assert np.allclose(body["detections"][0]["frame"], expected, atol=0.06)
    assert not np.allclose(expected, corners, atol=5)  # the image really is moved


def test_frame_tiles_line_up_across_dates(workspace) -> None:
    """A registered date's tile shows the same ground as the reference's tile."""
    ref = _sha(workspace, DEMO_REF.name)
    with make_client(workspace) as client:
        body = client.get("/api/sites/apt").json()
        frame = body["site_info"]["frame"]
        others = [im for im in body["images"] if im["sha256"] != ref and im["registration"]]
        other = max(others, key=lambda im: im["registration"]["overlap"])["sha256"]
        zmax = frame["zmax"]
        tiles = {}
        for sha in (ref, other):
            res = client.get(f"/api/sites/apt/frame/{sha}/{zmax - 2}/1/1.png")
            assert res.status_code == 200 and res.headers["content-type"] == "image/png"
            tiles[sha] = _png(res.content)
        outside = _png(client.get(f"/api/sites/apt/frame/{ref}/{zmax}/40/40.png").content)
    assert (outside[..., 3] == 0).all()  # beyond the frame: transparent
    a, b = (tiles[s][..., :3].mean(axis=2) for s in (ref, other))
    both = (tiles[ref][..., 3] > 0) & (tiles[other][..., 3] > 0)
    assert both.mean() > 0.5
    aligned = np.corrcoef(a[both], b[both])[0, 1]
    shifted = np.corrcoef(a[:, 12:][both[:, 12:]], b[:, :-12][both[:, 12:]])[0, 1]
    assert aligned > 0.6 and aligned > shifted + 0.2  # in register, and not by chance


def test_map_tiles_for_georeferenced_images_only(workspace) -> None:
    import morecantile

    with make_client(workspace) as client:
        joplin = next(s for s in client.get("/api/sites").json() if s["name"] == "joplin")
        lon, lat = np.mean(joplin["aoi"]["coordinates"][0][:4], axis=0)
        tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 18)
        res = client.get(f"/api/images/{joplin['map_image']}/map/{tile.z}/{tile.x}/{tile.y}.png")
        rgba = _png(res.content)
        assert (rgba[..., 3] == 255).mean() > 0.9 and rgba[..., :3].std() > 10
        far = _png(client.get(f"/api/images/{joplin['map_image']}/map/18/0/0.png").content)
        assert (far[..., 3] == 0).all()
        jpeg = _sha(workspace, DEMO_REF.name)
        res = client.get(f"/api/images/{jpeg}/map/18/0/0.png")
        assert res.status_code == 409 and "not georeferenced" in res.json()["detail"]
        assert client.get(f"/api/images/{joplin['map_image']}/map/2/9/0.png").status_code == 400


def test_writes_need_the_token_and_reads_are_open_on_loopback(workspace) -> None:
    before = workspace.count_images()
    with make_client(workspace) as client:
        assert client.get("/api/sites").status_code == 200
        files = {"file": ("x.jpg", DEMO_REF.read_bytes(), "image/jpeg")}
        refused = client.post("/api/images", files=files)
        assert refused.status_code == 401 and "token" in refused.json()["detail"]
        wrong = client.post("/api/images", files=files, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        job = client.post("/api/sites/apt/jobs", json={"stages": ["monitor"]})
        assert job.status_code == 401
        # opening a page with ?token= logs the browser in with an HttpOnly cookie
        login = client.get(f"/?token={TOKEN}", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/"
        assert "httponly" in login.headers["set-cookie"].lower()
        assert "samesite=strict" in login.headers["set-cookie"].lower()
        ok = client.post("/api/images", files=files)  # the cookie now rides along
        assert ok.status_code == 200 and ok.json()["status"] == "duplicate"
    assert workspace.count_images() == before


def test_everything_needs_the_token_off_loopback(workspace) -> None:
    with make_client(workspace, open_reads=False) as client:
        assert client.get("/api/sites").status_code == 401
        assert client.get("/").status_code == 401
        assert client.get("/api/sites", headers=AUTH).status_code == 200
        assert client.get("/api/sites", headers={"X-Sitewatch-Token": TOKEN}).status_code == 200


def test_upload_ingests_with_provenance_and_links_to_the_site(workspace, tmp_path) -> None:
    new = write_jpeg(tmp_path / "new-view.jpg", size=(320, 240), seed=3)
    form = {"site": "apt", "acquired": "2024-07-01", "illustrative": "true",
            "provider": "Test Sat", "credit": "© Test", "licence": "CC BY 4.0",
            "source_url": "https://example.org/a"}  # fmt: skip
    with make_client(workspace) as client:
        res = client.post(
            "/api/images", files={"file": ("../../evil/new view.jpg", new.read_bytes())},
            data=form, headers=AUTH,
        )  # fmt: skip
        assert res.status_code == 201, res.text
        body = res.json()
        assert body["status"] == "ingested" and body["sites"] == ["apt"]
        assert body["name"] == "new_view.jpg"  # no directories, safe characters
        images = client.get("/api/sites/apt").json()["images"]
    mine = next(im for im in images if im["sha256"] == body["sha256"])
    assert mine["acquired_at"] == "2024-07-01T00:00:00Z" and mine["date_is_illustrative"]
    assert (mine["provider"], mine["credit"], mine["licence"]) == (
        "Test Sat",
        "© Test",
        "CC BY 4.0",
    )
    assert mine["source_url"] == "https://example.org/a"
    with workspace.session() as s:
        row = workspace.find_image(s, body["sha256"])
        assert row.original_path == "upload:new_view.jpg"
        assert workspace.image_path(row).is_file()
    assert not any((workspace.workspace / "uploads").iterdir())  # staging cleaned up
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize(
    ("name", "content", "form", "status", "says"),
    [
        ("notes.txt", b"hello", {}, 415, "notes.txt: not an image type"),
        ("fake.jpg", b"hello, not a JPEG", {}, 400, "upload fake.jpg: not an image"),
        ("undated.jpg", None, {}, 400, "upload undated.jpg: no acquisition time"),
        ("dated.jpg", None, {"acquired": "2024-13-45"}, 400, "acquired: unparseable"),
        ("big.jpg", None, {"acquired": "2024-01-01"}, 413, "over the 1 MB limit"),
        ("other.jpg", None, {"acquired": "2024-01-01", "site": "nowhere"}, 404, "nowhere"),
    ],
)
def test_bad_uploads_are_refused_with_one_clear_error_and_nothing_stored(
    workspace, tmp_path, name, content, form, status, says
) -> None:
    if content is None:
        size = 1400 if name == "big.jpg" else 64
        content = write_jpeg(tmp_path / name, size=(size, size), seed=9).read_bytes()
    before = workspace.count_images()
    stored = sorted((workspace.workspace / "images").rglob("*"))
    with make_client(workspace, max_upload_bytes=1024**2) as client:
        res = client.post("/api/images", files={"file": (name, content)}, data=form, headers=AUTH)
    assert res.status_code == status, res.text
    assert says in res.json()["detail"]
    assert str(workspace.workspace) not in res.json()["detail"]  # no server paths
    assert workspace.count_images() == before
    assert sorted((workspace.workspace / "images").rglob("*")) == stored
    uploads = workspace.workspace / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_path_traversal_finds_nothing(workspace) -> None:
    with make_client(workspace) as client:
        for path in (
            "/static/../app.py",
            "/static/..%2Fapp.py",
            "/static/%2e%2e/%2e%2e/catalog.sqlite",
            "/api/images/..%2F..%2Fcatalog.sqlite/map/1/0/0.png",
            "/api/sites/apt/frame/..%2Fcatalog.sqlite/0/0/0.png",
            "/api/sites/..%2F..%2Fetc/report.html",
        ):
            res = client.get(path)
            assert res.status_code in (404, 422), (path, res.status_code)
            assert b"SQLite" not in res.content


def test_jobs_compute_on_the_dask_cluster_the_server_was_given(workspace, dask_cluster) -> None:
    """serve --scheduler: a job's detect and register tasks run on that cluster."""
    with make_client(workspace, scheduler=dask_cluster.scheduler_address) as client:
        res = client.post(
            "/api/sites/joplin/jobs", json={"stages": ["detect", "register"]}, headers=AUTH
        )
        job = finished_job(client, res.json(), seconds=300)
    assert job["status"] == "done", job
    assert "registered 2 image(s), 0 failed" in job["message"]
    ran = set(dask_cluster.scheduler.task_prefixes)  # what the cluster computed
    assert {"compute", "register_task"} <= ran, ran


def test_job_runs_monitoring_in_the_background(workspace) -> None:
    with make_client(workspace) as client:
        res = client.post("/api/sites/apt/jobs", json={"stages": ["monitor"]}, headers=AUTH)
        assert res.status_code == 202
        job = finished_job(client, res.json())
        assert job["status"] == "done", job
        assert job["done"] == job["total"] == 1 and "5 view(s)" in job["message"]
        assert client.get("/api/jobs").json()[0]["id"] == job["id"]
        bad = client.post("/api/sites/apt/jobs", json={"stages": ["bake"]}, headers=AUTH)
        assert bad.status_code == 400 and "bake" in bad.json()["detail"]
        missing = client.post("/api/sites/nowhere/jobs", json={}, headers=AUTH)
        assert missing.status_code == 404
        assert client.get("/api/jobs/0123456789ab").status_code == 404


def test_exports_match_the_catalog(workspace) -> None:
    report = report_dict(load_monitoring(workspace, "apt"))
    with make_client(workspace) as client:
        res = client.get("/api/sites/apt/counts.csv")
        assert "attachment" in res.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(res.text)))
        assert [float(r["estimate_objects"]) for r in rows] == [
            pytest.approx(r["estimate"], abs=1e-4) for r in report["series"]["aircraft"]
        ]
        assert {"low90_objects", "coverage_fraction"} <= set(rows[0])
        assert {r["date_illustrative"] for r in rows} == {"true"}
        # the demo airport has no georeference: its GeoJSON holds no pixels posing as degrees,
        # and every box is in the detections CSV instead
        geojson = client.get("/api/sites/apt/detections.geojson").json()
        assert geojson["features"] == []
        detected = sum(im["detected"] for im in report["images"])
        table = client.get("/api/sites/apt/layers.csv")
        assert table.headers["content-type"].startswith("text/csv")
        assert len(list(csv.DictReader(io.StringIO(table.text)))) == detected
        refused = client.get("/api/sites/apt/layers.gpkg")
        assert refused.status_code == 409 and "nothing on the map" in refused.json()["detail"]
        html = client.get("/api/sites/apt/report.html")
        assert html.headers["content-type"].startswith("text/html") and "apt" in html.text
        data = client.get("/api/sites/apt/report.json").json()
        assert data["series"] == report["series"]
        assert client.get("/api/sites/apt/report.exe").status_code == 422
        sha = _sha(workspace, DEMO_REF.name)
        original = client.get(f"/api/images/{sha}/file")
        assert original.content == DEMO_REF.read_bytes()
        assert DEMO_REF.name in original.headers["content-disposition"]


def test_map_layers_download_and_open_in_gdal(workspace, tmp_path: Path) -> None:
    with make_client(workspace) as client:
        page = client.get("/sites/joplin").text
        assert "/api/sites/joplin/layers.gpkg" in page and "layers.kmz" in page
        assert "layers.gpkg" not in client.get("/sites/apt").text  # no map: no map files
        for fmt in ("gpkg", "kml", "kmz"):
            res = client.get(f"/api/sites/joplin/layers.{fmt}")
            assert res.status_code == 200, res.text
            assert f'joplin.{fmt}"' in res.headers["content-disposition"]
            (tmp_path / f"joplin.{fmt}").write_bytes(res.content)
        assert client.get("/api/sites/joplin/layers.shp").status_code == 422
    if shutil.which("ogrinfo") is None:
        pytest.skip("GDAL's ogrinfo is missing (apt gdal-bin)")
    for fmt in ("gpkg", "kml", "kmz"):
        listing = subprocess.run(["ogrinfo", "-ro", "-so", str(tmp_path / f"joplin.{fmt}")],
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
        for layer in ("site", "footprints", "detections", "changes"):
            assert f": {layer}" in listing, (fmt, listing)


def test_pdf_report_download(workspace, tmp_path: Path) -> None:
    if importlib.util.find_spec("weasyprint") is None:  # found, not imported: importing it
        pytest.skip("the PDF report needs the pdf extra")  # flips a Pillow global for good
    with make_client(workspace) as client:
        pdf = client.get("/api/sites/apt/report.pdf")
        archival = client.get("/api/sites/apt/report.pdfa")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 50_000
    assert (
        archival.status_code == 200
        and "report-archival.pdf" in archival.headers["content-disposition"]
    )
    assert archival.content.startswith(b"%PDF")
    if shutil.which("pdfinfo") is None:
        pytest.skip("poppler's pdfinfo is missing (apt poppler-utils)")
    path = tmp_path / "archival.pdf"
    path.write_bytes(archival.content)
    meta = subprocess.run(["pdfinfo", "-meta", str(path)], capture_output=True, text=True)
    assert (
        "pdfaid:part" in meta.stdout
        and "report.json"
        in subprocess.run(["pdfdetach", "-list", str(path)], capture_output=True, text=True).stdout
    )


def test_changes_between_compared_dates_and_their_chips(workspace) -> None:
    from sitewatch import monitor_site

    monitor_site(workspace, "apt", write_chips=True)
    with make_client(workspace) as client:
        pair = client.get("/api/sites/apt").json()["changes"][-1]
        before, after = pair["before_sha256"], pair["after_sha256"]
        body = client.get(f"/api/sites/apt/changes?before={before}&after={after}").json()
        flipped = client.get(f"/api/sites/apt/changes?before={after}&after={before}").json()
        assert body == flipped and body["compared"] and body["before"] == before
        kinds = [o["kind"] for o in body["objects"]]
        assert kinds.count("appeared") == pair["appeared"]
        assert kinds.count("departed") == pair["departed"]
        assert kinds.count("stayed") == pair["stayed"]
        changed = next(o for o in body["objects"] if o["kind"] != "stayed" and o["chip"])
        chip = client.get(f"/api/sites/apt/changes/{changed['id']}/chip.png")
        assert chip.status_code == 200 and chip.content[:4] == b"\x89PNG"
        assert client.get(f"/api/sites/joplin/changes/{changed['id']}/chip.png").status_code == 404
        first = client.get("/api/sites/apt").json()["changes"][0]["before_sha256"]
        apart = client.get(f"/api/sites/apt/changes?before={first}&after={after}").json()
        assert not apart["compared"] and apart["objects"] == []  # never compared directly


def test_claims_through_the_api(workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    record = {
        "text": "More aircraft in May.", "site": "apt", "from": "2024-05-01", "to": "2024-05-31",
        "expects": "increase", "class": "aircraft",
        "sources": [{"kind": "media", "outlet": "Example Wire", "url": "https://example.org/w"}],
    }  # fmt: skip
    with make_client(workspace) as client:
        assert client.post("/api/claims", json=record).status_code == 401
        res = client.post("/api/claims", json=record, headers=AUTH)
        assert res.status_code == 201, res.text
        added = res.json()
        assert added["status"] == "supported" and added["origins"] == 1
        assert added["sources"][0]["origin"] == "Example Wire"
        bad = client.post("/api/claims", json={**record, "to": "2024-04-01"}, headers=AUTH)
        assert bad.status_code == 400 and "before it starts" in bad.json()["detail"]
        nowhere = client.post("/api/claims", json={**record, "site": "nowhere"}, headers=AUTH)
        assert nowhere.status_code == 404
        listed = client.get("/api/claims", params={"site": "apt"}).json()
        assert [c["id"] for c in listed] == [added["id"]]
        assert client.get("/api/sites/apt").json()["claims"][0]["status"] == "supported"
        ld = client.get("/api/claims.jsonld", params={"site": "apt"})
        assert ld.headers["content-type"].startswith("application/ld+json")
        assert "url" not in ld.json()["@graph"][0]  # a loopback address is no public url
        monkeypatch.setenv("SITEWATCH_PUBLIC_URL", "https://desk.example.org/sitewatch/")
        review_ = client.get("/api/claims.jsonld", params={"site": "apt"}).json()["@graph"][0]
        assert review_["url"] == f"https://desk.example.org/sitewatch/sites/apt#claim-{added['id']}"
        table = client.get("/api/claims.csv").text.splitlines()
        assert table[0].startswith("id,site,text") and len(table) == 2
