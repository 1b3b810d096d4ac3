"""The OpenAPI document is what client generators and API tools read: it must validate,
say how to authenticate, and name the media type of every non-JSON answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sitewatch import Catalog
from tests.web.conftest import make_client

validate = pytest.importorskip(
    "openapi_spec_validator", reason="the dev extra brings openapi-spec-validator"
).validate


@pytest.fixture
def spec(tmp_path: Path) -> dict:
    catalog = Catalog(tmp_path / "ws")
    with make_client(catalog) as client:
        res = client.get("/openapi.json")
    catalog.close()
    assert res.status_code == 200
    return res.json()


def test_the_document_is_valid_openapi(spec: dict) -> None:
    validate(spec)  # raises with the first violation


def test_writes_declare_the_token_and_reads_may_go_without(spec: dict) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["tokenCookie"]["in"] == "cookie"
    assert schemes["tokenHeader"]["name"] == "X-Sitewatch-Token"
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            security = op["security"]
            assert {"bearer": []} in security, (method, path)
            assert ({} in security) == (method == "get"), (method, path)


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/api/sites/{name}/counts.csv", {"text/csv"}),
        ("/api/sites/{name}/detections.geojson", {"application/geo+json"}),
        ("/api/sites/{name}/report.{fmt}", {"text/html", "application/pdf", "application/json"}),
        ("/api/claims.{fmt}", {"application/ld+json", "text/csv"}),
        (
            "/api/sites/{name}/layers.{fmt}",
            {
                "application/geopackage+sqlite3",
                "text/csv",
                "application/vnd.google-earth.kml+xml",
                "application/vnd.google-earth.kmz",
            },
        ),
        ("/api/images/{sha256}/file", {"application/octet-stream"}),
        ("/api/sites/{name}/frame/{sha256}/{z}/{x}/{y}.{fmt}", {"image/webp", "image/png"}),
    ],
)
def test_downloads_name_their_media_types(spec: dict, path: str, media: set[str]) -> None:
    assert set(spec["paths"][path]["get"]["responses"]["200"]["content"]) == media


def test_the_geojson_download_is_served_as_geojson(workspace) -> None:  # type: ignore[no-untyped-def]
    with make_client(workspace) as client:
        res = client.get("/api/sites/joplin/detections.geojson")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("application/geo+json")
    assert res.json()["type"] == "FeatureCollection"


# -- typed JSON answers ------------------------------------------------------------------
def _resolve(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref", "")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def _json_answers(spec: dict) -> list[tuple[str, str, str, dict]]:
    """(method, path, status, schema) of every 2xx application/json answer of the API.
    Downloads (tag "exports": GeoJSON, CSV, the report and its JSON twin) are files."""
    found = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if "exports" in op.get("tags", []):
                continue
            for status, answer in op["responses"].items():
                content = answer.get("content", {}).get("application/json")
                if status.startswith("2") and content is not None:
                    found.append((method, path, status, content["schema"]))
    return found


def test_every_json_answer_has_a_typed_schema(spec: dict) -> None:
    answers = _json_answers(spec)
    untyped = []
    for method, path, status, schema in answers:
        if schema.get("type") == "array":
            schema = schema["items"]
        if not _resolve(spec, schema).get("properties"):  # a bare object says nothing
            untyped.append((method, path, status, schema))
    assert untyped == []
    assert {(m, p) for m, p, _s, _x in answers} >= {
        ("get", "/api/health"), ("get", "/api/sites"), ("get", "/api/sites/{name}"),
        ("get", "/api/sites/{name}/images/{sha256}/detections"),
        ("get", "/api/sites/{name}/changes"), ("get", "/api/sites/{name}/pixel-change"),
        ("get", "/api/claims"), ("post", "/api/claims"),
        ("get", "/api/jobs"), ("get", "/api/jobs/{job_id}"), ("post", "/api/sites/{name}/jobs"),
        ("post", "/api/images"),
    }  # fmt: skip


def test_closed_vocabularies_are_the_codes_own() -> None:
    from typing import get_args

    from sitewatch.change import ChangeKind
    from sitewatch.claims.check import STATUSES
    from sitewatch.claims.ledger import EXPECTS, KINDS
    from sitewatch.ingest.pipeline import IngestStatus
    from sitewatch.store.models import VerifyCheck
    from sitewatch.verify import Verdict
    from sitewatch.web import models
    from sitewatch.web.jobs import STAGES, JobStatus

    assert get_args(models.Expectation) == EXPECTS
    assert get_args(models.SourceKind) == KINDS
    assert set(get_args(models.ClaimStatus)) == set(STATUSES)
    assert get_args(models.Stage) == STAGES
    assert set(get_args(models.IngestStatus)) == {s.value for s in IngestStatus} - {"failed"}
    assert set(get_args(models.JobStatus)) == {s.value for s in JobStatus}
    assert set(get_args(models.PixelChangeKind)) == {k.value for k in ChangeKind}
    assert set(get_args(models.VerifyCheck)) == {c.value for c in VerifyCheck}
    assert set(get_args(models.SunVerdict)) == {v.value for v in Verdict}


def _validator(spec: dict, method: str, path: str, status: str):  # type: ignore[no-untyped-def]
    from jsonschema import Draft202012Validator  # comes with openapi-spec-validator

    content = spec["paths"][path][method]["responses"][status]["content"]
    schema = {**content["application/json"]["schema"], "components": spec["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


CLAIM = {
    "text": "More aircraft in May.", "site": "apt", "from": "2024-05-01", "to": "2024-05-31",
    "expects": "increase", "class": "aircraft",
    "sources": [{"kind": "media", "outlet": "Example Wire", "url": "https://example.org/w"}],
}  # fmt: skip


def test_real_answers_match_their_schemas(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import write_jpeg
    from tests.web.conftest import TOKEN, with_joplin_change

    with_joplin_change(workspace)  # Joplin's pixel change stored, with outlines to check
    auth = {"Authorization": f"Bearer {TOKEN}"}
    jpeg = write_jpeg(tmp_path / "apt-2024-08-01.jpg", size=(320, 240), seed=4).read_bytes()
    checked = []
    with make_client(workspace) as client:
        spec = client.get("/openapi.json").json()

        def check(method: str, path: str, url: str, status: int = 200, **kwargs):  # type: ignore[no-untyped-def]
            res = client.request(method, url, **kwargs)
            assert res.status_code == status, (url, res.text)
            errors = list(_validator(spec, method, path, str(status)).iter_errors(res.json()))
            assert errors == [], (url, [f"{list(e.absolute_path)}: {e.message}" for e in errors])
            checked.append((method, path))
            return res.json()

        check("post", "/api/claims", "/api/claims", 201, json=CLAIM, headers=auth)
        check("get", "/api/health", "/api/health")
        check("get", "/api/sites", "/api/sites")
        apt = check("get", "/api/sites/{name}", "/api/sites/apt")
        joplin = check("get", "/api/sites/{name}", "/api/sites/joplin")
        detections = "/api/sites/{name}/images/{sha256}/detections"
        for name, sha in (
            ("apt", apt["images"][-1]["sha256"]),
            ("joplin", joplin["site_info"]["map_image"]),
        ):
            check("get", detections, f"/api/sites/{name}/images/{sha}/detections")
        pairs = [(c["before_sha256"], c["after_sha256"]) for c in apt["changes"]]
        for before, after in (pairs[-1], (pairs[0][0], pairs[-1][1])):  # compared, and not
            url = f"/api/sites/apt/changes?before={before}&after={after}"
            check("get", "/api/sites/{name}/changes", url)
        pixel = "/api/sites/{name}/pixel-change"
        stored = check("get", pixel, "/api/sites/joplin/pixel-change")["pairs"]
        assert stored and stored[0]["outlines"]
        before, after = stored[0]["before_sha256"], stored[0]["after_sha256"]
        check("get", pixel, f"/api/sites/joplin/pixel-change?before={after}&after={before}")
        assert check("get", pixel, "/api/sites/apt/pixel-change")["pairs"] == []  # never run
        # a shadow marked in the viewer (frame pixels), checked for a time and for a day
        post = next(im["sha256"] for im in joplin["images"] if im["name"] == "joplin-post.tif")
        shadow = {"base": [300.0, 250.0], "tip": [320.0, 262.0]}
        for when in ("2011-05-23T17:00Z", "2011-05-23"):
            check("post", "/api/sites/{name}/images/{sha256}/shadow",
                  f"/api/sites/joplin/images/{post}/shadow", json={**shadow, "time": when},
                  headers=auth)  # fmt: skip
        check("get", "/api/claims", "/api/claims")
        files = {"file": ("apt-2024-08-01.jpg", jpeg)}
        form = {"site": "apt", "acquired": "2024-08-01", "provider": "Test Sat"}
        check("post", "/api/images", "/api/images", 201, files=files, data=form, headers=auth)
        check("post", "/api/images", "/api/images", 200, files=files, data=form, headers=auth)
        job = check("post", "/api/sites/{name}/jobs", "/api/sites/apt/jobs", 202,
                    json={"stages": ["monitor"]}, headers=auth)  # fmt: skip
        deadline = time.monotonic() + 60
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = check("get", "/api/jobs/{job_id}", f"/api/jobs/{job['id']}")
        assert job["status"] == "done", job
        check("get", "/api/jobs", "/api/jobs")
    assert {(m, p) for m, p, _s, _x in _json_answers(spec)} == set(checked)  # all of them


def test_typed_answers_keep_every_key_the_data_has(workspace) -> None:  # type: ignore[no-untyped-def]
    # the response models filter what the routes return: a key the models lack would vanish
    # from the answers (and from what the dashboard's app.js reads) without an error
    from sitewatch.claims import claim_dict, review
    from sitewatch.web import data
    from tests.web.conftest import TOKEN, with_joplin_change

    with_joplin_change(workspace)

    def plain(value):  # type: ignore[no-untyped-def]
        return json.loads(json.dumps(value))  # tuples as lists, as JSON has them

    def undated(report: dict) -> dict:
        return {k: v for k, v in report.items() if k != "generated_at"}

    with make_client(workspace) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post("/api/claims", json=CLAIM, headers=auth).status_code == 201
        assert client.get("/api/sites").json() == plain(data.overview(workspace))
        for name in ("apt", "joplin"):
            served = client.get(f"/api/sites/{name}").json()
            assert undated(served) == plain(undated(data.site_detail(workspace, name)))
        apt = client.get("/api/sites/apt").json()
        sha = apt["images"][-1]["sha256"]
        served = client.get(f"/api/sites/apt/images/{sha}/detections").json()
        assert served == plain(data.frame_detections(workspace, "apt", sha))
        before, after = apt["changes"][-1]["before_sha256"], apt["changes"][-1]["after_sha256"]
        served = client.get(f"/api/sites/apt/changes?before={before}&after={after}").json()
        assert served == plain(data.frame_changes(workspace, "apt", before, after))
        served = client.get("/api/sites/joplin/pixel-change").json()
        assert served["pairs"] and served == plain(data.frame_pixel_change(workspace, "joplin"))
        claims = [claim_dict(c, v) for c, v in review(workspace)]
        assert client.get("/api/claims").json() == plain(claims)
        evidence = [e for c in claims for e in c["evidence"]]
        assert any("reference" in e for e in evidence) and any(
            "reference" not in e for e in evidence
        )
