"""Provenance values from sidecars and STAC Items: text is text, URLs are http(s), dates are
dates, and a bad one is one outcome naming the file and the cause (issue 14, items 6, 10)."""

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

import sitewatch
from sitewatch import Catalog
from sitewatch.errors import BadInputError
from sitewatch.ingest.provenance import load_sidecar
from sitewatch.store.models import Image
from tests.conftest import JOPLIN
from tests.ingest.test_plain_and_stac import _stac_item


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        ({"acquired": 20240417}, 'acquired must be text such as "2024-04-17", not a number'),
        ({"acquired": "2024-04-17", "datetime": "2024-04-18"}, "'acquired' and 'datetime'"),
        ({"licence": "CC", "license": "CC"}, "both 'licence' and 'license'"),
        ({"gsd": True}, "GSD True is not a number"),
        ({"gsd": 0.5, "gsd_m": 0.5}, "both 'gsd' and 'gsd_m'"),
        ({"credit": ["Maxar"]}, "credit must be text, not a list"),
        ({"source_url": "JAVASCRIPT:alert(1)"}, "source_url 'JAVASCRIPT:alert(1)' is not an"),
        ({"notes": "n" * 10_001}, "notes is 10,001 characters long"),
        ({"provider": "p" * 300}, "provider is 300 characters long; the limit is 256"),
        ([{"acquired": "2024-04-17"}], "sidecar must be a JSON object, not a list"),
    ],
)
def test_sidecar_values_are_checked(tmp_path: Path, data: object, phrase: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BadInputError) as caught:
        load_sidecar(path)
    assert phrase in str(caught.value) and caught.value.path == str(path)


def test_sidecar_keeps_good_values_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"provider": " Maxar ", "source_url": "https://e.org/a"}))
    prov = load_sidecar(path)
    assert (prov.provider, prov.source_url) == ("Maxar", "https://e.org/a")


@pytest.mark.parametrize(
    ("props", "phrase"),
    [
        ({"providers": [{"name": {"en": "Maxar"}}]}, "provider name must be text, not a mapping"),
        ({"license": ["CC-BY-4.0"]}, "license must be text, not a list"),
        ({"sitewatch:credit": 42}, "sitewatch:credit must be text, not a number"),
        ({"providers": "Maxar"}, "'providers' must be a list"),
    ],
)
def test_stac_values_are_checked(
    catalog: Catalog, tmp_path: Path, props: dict, phrase: str
) -> None:
    shutil.copy(JOPLIN / "joplin-post.tif", tmp_path / "post.tif")
    item = _stac_item(tmp_path, "./post.tif", **props)
    (outcome,) = sitewatch.ingest(catalog, [item]).outcomes
    assert outcome.status == "failed" and phrase in outcome.message, outcome.message
    assert outcome.message.startswith(str(item))


@pytest.mark.parametrize(
    ("times", "phrase"),
    [
        ({"datetime": "1900-01-01T00:00:00Z"}, "implausible STAC datetime"),
        (
            {"datetime": None, "start_datetime": "1900-01-01T00:00:00Z",
             "end_datetime": "1900-01-02T00:00:00Z"},
            "implausible STAC start_datetime '1900-01-01T00:00:00Z'",
        ),
    ],
)  # fmt: skip
def test_stac_times_that_cannot_be_real_are_one_outcome(
    catalog: Catalog, tmp_path: Path, times: dict, phrase: str
) -> None:
    shutil.copy(JOPLIN / "joplin-post.tif", tmp_path / "post.tif")
    item = _stac_item(tmp_path, "./post.tif")
    data = json.loads(item.read_text())
    data["properties"].update(times)
    item.write_text(json.dumps(data))
    (outcome,) = sitewatch.ingest(catalog, [item]).outcomes
    assert outcome.status == "failed" and phrase in outcome.message, outcome.message


def test_stac_links_that_are_not_http_are_not_kept(catalog: Catalog, tmp_path: Path) -> None:
    shutil.copy(JOPLIN / "joplin-post.tif", tmp_path / "post.tif")
    item = _stac_item(tmp_path, "./post.tif")
    data = json.loads(item.read_text())
    data["links"] = [
        {"rel": "via", "href": "javascript:alert(1)"},
        {"rel": "canonical", "href": "https://"},  # no host: not a link anyone can follow
        {"rel": "alternate", "href": "https://example.org/item"},
    ]
    item.write_text(json.dumps(data))
    assert sitewatch.ingest(catalog, [item]).ok
    with catalog.session() as s:
        assert s.scalar(select(Image.source_url)) == "https://example.org/item"
