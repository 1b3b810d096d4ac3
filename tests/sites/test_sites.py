"""Sites: map AOIs linked by footprint, pixel frames, coverage, and their errors."""

import json
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from rasterio.transform import Affine
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select

import sitewatch
from sitewatch import Catalog, IngestOptions
from sitewatch.errors import BadInputError, ConflictError, NotFoundError
from sitewatch.store.models import Image
from tests.conftest import AIRPORT, JOPLIN

UNDATED = IngestOptions(allow_undated=True)


def _aoi(path: Path, geom, **extra) -> Path:  # type: ignore[no-untyped-def]
    path.write_text(
        json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(geom), **extra})
    )
    return path


def test_geo_site_links_overlapping_images_before_and_after(catalog: Catalog) -> None:
    sitewatch.ingest(catalog, [JOPLIN / "joplin-pre.tif"], UNDATED)
    n = sitewatch.add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson")
    assert n == 1  # the image already in the catalog
    report = sitewatch.ingest(catalog, [JOPLIN / "joplin-post.tif"], UNDATED)
    assert report.outcomes[0].sites == ("joplin",)  # linked by footprint on ingest
    summary = sitewatch.site_summary(catalog, "joplin")
    assert [i.link_method for i in summary.images] == ["footprint", "footprint"]
    assert all(i.coverage == pytest.approx(1.0) for i in summary.images)


def test_partial_coverage_is_the_area_fraction(catalog: Catalog, tmp_path: Path) -> None:
    sitewatch.ingest(catalog, [JOPLIN / "joplin-pre.tif"], UNDATED)
    with catalog.session() as s:
        fp = sitewatch.geo.load_wkt(s.scalar(select(Image.footprint_wgs84_wkt)))
    minx, miny, maxx, maxy = fp.bounds
    width = maxx - minx
    aoi = box(maxx - width / 2, miny + 0.0002, maxx + width / 2, maxy - 0.0002)  # half outside
    sitewatch.add_geo_site(catalog, "half", _aoi(tmp_path / "half.geojson", aoi))
    (img,) = sitewatch.site_summary(catalog, "half").images
    geod = Geod(ellps="WGS84")

    def area(geom: BaseGeometry) -> float:  # edges straight in lon/lat, as shapely cuts them
        return abs(geod.geometry_area_perimeter(shapely.segmentize(geom, 1e-5))[0])

    truth = area(aoi.intersection(fp)) / area(aoi)
    assert img.coverage == pytest.approx(truth, rel=1e-8)
    assert 0.4 < img.coverage < 0.6


def test_far_away_aoi_links_nothing_and_explicit_link_is_refused(
    catalog: Catalog, tmp_path: Path
) -> None:
    sitewatch.add_geo_site(
        catalog, "paris", _aoi(tmp_path / "p.geojson", box(2.2, 48.8, 2.4, 48.9))
    )
    report = sitewatch.ingest(
        catalog, [JOPLIN / "joplin-pre.tif"], IngestOptions(allow_undated=True, site="paris")
    )
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and "does not overlap site 'paris'" in outcome.message
    assert isinstance(outcome.error, ConflictError)
    assert catalog.count_images() == 0  # nothing half-written


def test_legacy_crs_member_is_reprojected(catalog: Catalog, tmp_path: Path) -> None:
    # the pre image's own UTM bounds, declared with a legacy GeoJSON crs member
    import rasterio

    with rasterio.open(JOPLIN / "joplin-pre.tif") as ds:
        utm = box(*ds.bounds).buffer(-20)
    path = _aoi(
        tmp_path / "utm.geojson", utm, crs={"type": "name", "properties": {"name": "EPSG:26915"}}
    )
    sitewatch.ingest(catalog, [JOPLIN / "joplin-pre.tif"], UNDATED)
    assert sitewatch.add_geo_site(catalog, "utm-aoi", path) == 1
    (img,) = sitewatch.site_summary(catalog, "utm-aoi").images
    assert img.coverage == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ({"type": "Point", "coordinates": [1, 2]}, "no Polygon"),
        (mapping(box(500_000, 4_100_000, 501_000, 4_101_000)), "not lon/lat"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "invalid"),
        ("not json at all", "not valid GeoJSON"),
    ],
)
def test_bad_aoi_files(catalog: Catalog, tmp_path: Path, content, phrase: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "aoi.geojson"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(BadInputError, match=phrase) as info:
        sitewatch.add_geo_site(catalog, "x", path)
    assert str(path) in str(info.value)
    assert sitewatch.list_sites(catalog) == []


def test_frame_site_from_a_reference_file_and_polygon(catalog: Catalog) -> None:
    ref = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"
    sitewatch.add_frame_site(catalog, "apron", ref, polygon="100,100 2400,100 2400,2000 100,2000")
    summary = sitewatch.site_summary(catalog, "apron")
    assert summary.kind == "frame" and summary.polygon_wkt.startswith("POLYGON ((100 100")
    (img,) = summary.images
    assert img.link_method == "reference" and img.date_is_illustrative
    sitewatch.ingest(catalog, [AIRPORT], IngestOptions(site="apron"))
    summary = sitewatch.site_summary(catalog, "apron")
    assert len(summary.images) == 5
    dates = [i.acquired_at for i in summary.images]
    assert dates == sorted(dates)


def test_frame_site_errors(catalog: Catalog) -> None:
    ref = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"
    with pytest.raises(BadInputError, match="reaches outside the 2560×2560"):
        sitewatch.add_frame_site(catalog, "a", ref, polygon="0,0 3000,0 3000,3000")
    with pytest.raises(BadInputError, match="at least three"):
        sitewatch.add_frame_site(catalog, "a", ref, polygon="0,0 10,10")
    with pytest.raises(NotFoundError, match="no catalog image"):
        sitewatch.add_frame_site(catalog, "a", "abcdef0123")
    sitewatch.add_frame_site(catalog, "a", ref)
    with pytest.raises(ConflictError, match="already exists"):
        sitewatch.add_frame_site(catalog, "a", ref)
    with pytest.raises(BadInputError, match="site names"):
        sitewatch.add_frame_site(catalog, "../etc", ref)


def test_reference_by_sha_prefix(catalog: Catalog) -> None:
    report = sitewatch.ingest(catalog, [AIRPORT / "78400c58-1a7c-4342-a1fb-2117cb7cbc8b.jpg"])
    sha = report.outcomes[0].sha256
    sitewatch.add_frame_site(catalog, "by-sha", sha[:10])
    assert sitewatch.site_summary(catalog, "by-sha").reference == sha


def test_removing_a_site_keeps_its_images(catalog: Catalog) -> None:
    sitewatch.add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson")
    sitewatch.ingest(catalog, [JOPLIN], UNDATED)
    assert sitewatch.remove_site(catalog, "joplin") == 2
    assert catalog.count_images() == 2
    with pytest.raises(NotFoundError):
        sitewatch.site_summary(catalog, "joplin")
    with pytest.raises(NotFoundError):
        sitewatch.remove_site(catalog, "joplin")
    with catalog.session() as s:
        assert s.scalar(select(func.count(Image.id))) == 2


def test_site_geometry_does_not_depend_on_pixel_origin(catalog: Catalog, geotiff_factory) -> None:
    # two scenes of the same UTM strip, 100 m apart: an AOI over the first covers only it
    a = geotiff_factory(
        transform=Affine(0.5, 0, 500_000, 0, -0.5, 4_100_000), width=100, height=100
    )
    b = geotiff_factory(
        transform=Affine(0.5, 0, 500_100, 0, -0.5, 4_100_000), width=100, height=100
    )
    sitewatch.ingest(catalog, [a, b], UNDATED)
    aoi = sitewatch.geo.reproject(
        box(500_005, 4_099_955, 500_045, 4_099_995), sitewatch.geo.CRS.from_epsg(32615)
    )
    path = Path(str(a) + ".aoi.geojson")
    path.write_text(json.dumps(mapping(aoi)))
    assert sitewatch.add_geo_site(catalog, "a-only", path) == 1
