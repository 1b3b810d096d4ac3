"""Ungeoreferenced JPEG/PNG (dates from flag, sidecar, EXIF) and STAC Items."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pystac
import pytest
from sqlalchemy import select

import sitewatch
from sitewatch import Catalog, IngestOptions
from sitewatch.dates import parse_datetime
from sitewatch.errors import BadInputError
from sitewatch.store.models import Image
from tests.conftest import AIRPORT, JOPLIN, write_jpeg


def _images(catalog: Catalog) -> list[Image]:
    with catalog.session() as s:
        return list(s.scalars(select(Image).order_by(Image.id)))


def test_demo_airport_sidecars_give_illustrative_dates(catalog: Catalog) -> None:
    report = sitewatch.ingest(catalog, [AIRPORT])
    assert len(report.of("ingested")) == 5 and report.ok
    images = _images(catalog)
    assert all(not im.georeferenced for im in images)
    assert all(im.date_is_illustrative and im.acquired_source == "sidecar" for im in images)
    assert all(im.licence == "CC BY-NC-SA 4.0" and "Airbus" in im.credit for im in images)
    assert all(
        (im.width, im.height, im.bands, im.format) == (2560, 2560, 3, "JPEG") for im in images
    )
    assert all(im.gsd_m == 0.5 and im.gsd_source == "provenance" for im in images)
    assert sorted(im.acquired_at.date().isoformat() for im in images)[0] == "2024-03-04"


def test_exif_time_with_and_without_zone(catalog: Catalog, tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "news.jpg", exif_time="2022:02:24 05:30:00")
    report = sitewatch.ingest(catalog, [path])
    assert report.ok
    (image,) = _images(catalog)
    assert image.acquired_at == datetime(2022, 2, 24, 5, 30, tzinfo=UTC)
    assert "UTC assumed" in image.acquired_source


def test_flag_beats_sidecar_beats_exif(catalog: Catalog, tmp_path: Path) -> None:
    a = write_jpeg(tmp_path / "a.jpg", exif_time="2022:02:24 05:30:00", seed=1)
    (tmp_path / "a.json").write_text(json.dumps({"acquired": "2021-01-01", "provider": "X"}))
    b = write_jpeg(tmp_path / "b.jpg", exif_time="2022:02:24 05:30:00", seed=2)
    (tmp_path / "b.json").write_text(json.dumps({"acquired": "2021-01-01", "provider": "X"}))
    sitewatch.ingest(catalog, [a])
    flag = sitewatch.Dated(parse_datetime("2020-06-01T12:00+02:00"), "flag")
    sitewatch.ingest(catalog, [b], IngestOptions(provenance=sitewatch.Provenance(acquired=flag)))
    ia, ib = _images(catalog)
    assert ia.acquired_at == datetime(2021, 1, 1, tzinfo=UTC) and ia.provider == "X"
    assert ib.acquired_at == datetime(2020, 6, 1, 10, tzinfo=UTC) and ib.provider == "X"


def test_png_needs_a_date_unless_undated_is_allowed(catalog: Catalog, tmp_path: Path) -> None:
    from PIL import Image as PILImage

    path = tmp_path / "cut.png"
    PILImage.new("RGB", (40, 30), "gray").save(path)
    report = sitewatch.ingest(catalog, [path])
    assert not report.ok and "no acquisition time" in report.outcomes[0].message
    assert str(path) in report.outcomes[0].message
    report = sitewatch.ingest(catalog, [path], IngestOptions(allow_undated=True))
    assert report.ok
    (image,) = _images(catalog)
    assert image.acquired_at is None and image.format == "PNG"


def _stac_item(folder: Path, asset_href: str, **props) -> Path:  # type: ignore[no-untyped-def]
    item = pystac.Item(
        id="joplin-post-2011",
        geometry=None,
        bbox=None,
        datetime=datetime(2011, 5, 23, 16, 45, tzinfo=UTC),
        properties={
            "gsd": 0.6,
            "license": "CC-BY-NC-4.0",
            "providers": [{"name": "Maxar", "roles": ["producer"]}],
            **props,
        },
    )
    item.add_asset(
        "visual", pystac.Asset(asset_href, media_type=pystac.MediaType.COG, roles=["visual"])
    )
    item.add_asset(
        "thumbnail", pystac.Asset("thumb.png", media_type=pystac.MediaType.PNG, roles=["thumbnail"])
    )
    item.add_link(pystac.Link("via", "https://example.org/joplin/post"))
    path = folder / "item.json"
    path.write_text(json.dumps(item.to_dict(include_self_link=False)))
    return path


def test_stac_item_with_local_asset(catalog: Catalog, tmp_path: Path) -> None:
    shutil.copy(JOPLIN / "joplin-post.tif", tmp_path / "post.tif")
    item = _stac_item(tmp_path, "./post.tif")
    report = sitewatch.ingest(catalog, [item])
    assert report.ok, report.outcomes
    (image,) = _images(catalog)
    assert image.acquired_at == datetime(2011, 5, 23, 16, 45, tzinfo=UTC)
    assert image.acquired_source == "stac datetime"
    assert (image.provider, image.licence) == ("Maxar", "CC-BY-NC-4.0")
    assert image.source_url == "https://example.org/joplin/post"
    assert image.extra["stac_item"] == "joplin-post-2011"
    assert image.crs_epsg == 4326 and image.original_name == "post.tif"
    # the measured GSD from the georeference wins over the item's nominal one
    assert image.gsd_source == "geotransform"


def test_stac_folder_walk_takes_items_not_sidecars(catalog: Catalog, tmp_path: Path) -> None:
    shutil.copy(JOPLIN / "joplin-post.tif", tmp_path / "post.tif")
    _stac_item(tmp_path, "./post.tif")
    report = sitewatch.ingest(catalog, [tmp_path])
    statuses = sorted(o.status for o in report.outcomes)
    # the item and the bare tif are the same file: one ingest, one duplicate
    assert statuses == ["duplicate", "ingested"]


@pytest.mark.parametrize(
    ("href", "cause"),
    [("./missing.tif", "does not exist"), ("https://example.org/x.tif", "remote")],
)
def test_stac_asset_problems_are_named(
    catalog: Catalog, tmp_path: Path, href: str, cause: str
) -> None:
    item = _stac_item(tmp_path, href)
    report = sitewatch.ingest(catalog, [item])
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and cause in outcome.message
    assert str(item) in outcome.message
    assert isinstance(outcome.error, BadInputError)
