"""Georeferenced ingest: footprint, GSD, CRS and time compared with rasterio/pyproj truth."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import rasterio
from pyproj import Geod
from rasterio.transform import Affine
from rasterio.warp import transform_bounds
from shapely import wkt
from shapely.geometry import box
from sqlalchemy import select

import sitewatch
from sitewatch import Catalog, IngestOptions
from sitewatch.store.models import Image
from tests.conftest import JOPLIN, SHARED


def _image(catalog: Catalog, sha: str) -> Image:
    with catalog.session() as s:
        return s.scalar(select(Image).where(Image.sha256 == sha))


def _ingest_one(catalog: Catalog, path: Path, **opts) -> Image:  # type: ignore[no-untyped-def]
    report = sitewatch.ingest(catalog, [path], IngestOptions(**opts))
    assert report.ok, report.outcomes
    return _image(catalog, report.outcomes[0].sha256)


def _assert_matches_rasterio(image: Image, path: Path) -> None:
    with rasterio.open(path) as ds:
        truth_wgs84 = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
        truth_native = ds.bounds
        assert image.crs_epsg == ds.crs.to_epsg()
        assert image.transform == pytest.approx(list(ds.transform)[:6])
        assert (image.width, image.height, image.bands) == (ds.width, ds.height, ds.count)
    assert wkt.loads(image.footprint_native_wkt).bounds == pytest.approx(tuple(truth_native))
    assert wkt.loads(image.footprint_wgs84_wkt).bounds == pytest.approx(truth_wgs84, abs=1e-9)


def test_real_utm_geotiff(catalog: Catalog) -> None:
    path = JOPLIN / "joplin-pre.tif"
    image = _ingest_one(
        catalog,
        path,
        provenance=sitewatch.Provenance(
            acquired=sitewatch.Dated(datetime(2011, 5, 1, tzinfo=UTC), "flag"),
            provider="Maxar Open Data",
            credit="Maxar Open Data (via xView2)",
            licence="CC BY-NC 4.0",
        ),
    )
    _assert_matches_rasterio(image, path)
    assert image.crs_epsg == 26915
    assert image.gsd_m == pytest.approx(0.6)
    assert image.format == "GTiff"
    assert (image.provider, image.licence) == ("Maxar Open Data", "CC BY-NC 4.0")
    assert image.acquired_at == datetime(2011, 5, 1, tzinfo=UTC)
    assert image.acquired_source == "flag"


def test_real_geographic_cog_gsd_from_geodesic(catalog: Catalog) -> None:
    path = JOPLIN / "joplin-post.tif"
    image = _ingest_one(catalog, path, allow_undated=True)
    _assert_matches_rasterio(image, path)
    assert image.crs_epsg == 4326
    with rasterio.open(path) as ds:
        cx, cy = ds.xy(ds.height // 2, ds.width // 2, offset="ul")
        res = ds.res
    geod = Geod(ellps="WGS84")
    along_x = geod.inv(cx, cy, cx + res[0], cy)[2]
    along_y = geod.inv(cx, cy, cx, cy - res[1])[2]
    assert image.gsd_m == pytest.approx((along_x + along_y) / 2, rel=1e-6)
    assert 0.5 < image.gsd_m < 0.7  # 6e-6 degrees at 37° N
    assert image.acquired_at is None  # undated, allowed explicitly


def test_both_joplin_dates_overlap_on_the_map(catalog: Catalog) -> None:
    pre = _ingest_one(catalog, JOPLIN / "joplin-pre.tif", allow_undated=True)
    post = _ingest_one(catalog, JOPLIN / "joplin-post.tif", allow_undated=True)
    a, b = wkt.loads(pre.footprint_wgs84_wkt), wkt.loads(post.footprint_wgs84_wkt)
    assert a.intersection(b).area / a.area > 0.8


def test_time_from_acquisition_tag_and_file_stored_read_only(
    catalog: Catalog, geotiff_factory
) -> None:
    path = geotiff_factory(tags={"ACQUISITION_DATETIME": "2023-07-04T10:15:00Z"})
    image = _ingest_one(catalog, path)
    assert image.acquired_at == datetime(2023, 7, 4, 10, 15, tzinfo=UTC)
    assert image.acquired_source == "tag ACQUISITION_DATETIME"
    stored = catalog.image_path(image)
    assert stored.is_file() and stored.read_bytes() == path.read_bytes()
    assert not stored.stat().st_mode & 0o222


def test_flag_time_beats_embedded_tag(catalog: Catalog, geotiff_factory) -> None:
    path = geotiff_factory(tags={"TIFFTAG_DATETIME": "2023:07:04 10:15:00"})
    flag = sitewatch.Dated(datetime(2020, 1, 2, tzinfo=UTC), "flag")
    image = _ingest_one(catalog, path, provenance=sitewatch.Provenance(acquired=flag))
    assert image.acquired_at == flag.value


def test_rotated_transform_gsd_and_footprint(catalog: Catalog, geotiff_factory) -> None:
    t = Affine.translation(400_000, 5_000_000) @ Affine.rotation(30) @ Affine.scale(0.5, -0.5)
    path = geotiff_factory(transform=t, width=100, height=100)
    image = _ingest_one(catalog, path, allow_undated=True)
    assert image.gsd_m == pytest.approx(0.5)
    footprint = wkt.loads(image.footprint_native_wkt)
    assert footprint.area == pytest.approx(50 * 50)  # 100 px × 0.5 m a side, rotated


def test_non_metre_projected_units(catalog: Catalog, geotiff_factory) -> None:
    # EPSG:2263 (NY Long Island, US survey feet): 2 ft pixels are 0.6096 m
    path = geotiff_factory(crs="EPSG:2263", transform=Affine(2, 0, 980_000, 0, -2, 200_000))
    image = _ingest_one(catalog, path, allow_undated=True)
    assert image.gsd_m == pytest.approx(2 * 0.3048006096, rel=1e-6)


@pytest.mark.parametrize("tile", ["pre/tile_337-9136.tif", "post/tile_31500-5137.tif"])
def test_shared_joplin_tiles(catalog: Catalog, tile: str) -> None:
    path = SHARED / "joplin-pre-post" / tile
    if not path.is_file():
        pytest.skip(f"shared dataset absent: {path}")
    image = _ingest_one(catalog, path, allow_undated=True)
    _assert_matches_rasterio(image, path)
    footprint = wkt.loads(image.footprint_wgs84_wkt)
    assert box(-94.51, 37.06, -94.48, 37.08).contains(footprint)


def test_naip_4_band_with_date_from_file_name(catalog: Catalog) -> None:
    path = SHARED / "naip-timeseries" / "m_4709963_se_14_1_20150926.tif"
    if not path.is_file():
        pytest.skip(f"shared dataset absent: {path}")
    image = _ingest_one(catalog, path, date_regex=r"_(?P<date>\d{8})\.tif$")
    assert image.bands == 4
    assert image.crs_epsg == 26914
    assert image.gsd_m == pytest.approx(5.0)
    assert image.acquired_at == datetime(2015, 9, 26, tzinfo=UTC)
    assert image.acquired_source == "file name"
    _assert_matches_rasterio(image, path)
