"""The OpenAPI document is what client generators and API tools read: it must validate,
say how to authenticate, and name the media type of every non-JSON answer."""

from __future__ import annotations

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
