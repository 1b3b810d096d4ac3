"""Map geometry at the edges of the map: AOIs and scenes across the antimeridian, an AOI that
is the whole Earth, and lon/lat that is not on the globe (issue 14, item 8)."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine
from shapely import wkt
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping
from sqlalchemy import select
from typer.testing import CliRunner

import sitewatch
from sitewatch import Catalog, IngestOptions, geo
from sitewatch.cli import app
from sitewatch.errors import BadInputError
from sitewatch.store.models import Image
from tests.conftest import write_geotiff

UNDATED = IngestOptions(allow_undated=True)
# Taveuni, Fiji: the 180th meridian runs across the island
ACROSS = [[179.5, -17], [-179.5, -17], [-179.5, -16], [179.5, -16], [179.5, -17]]


def _aoi(path: Path, geometry: dict) -> Path:
    path.write_text(json.dumps(geometry))
    return path


def _scene_at(path: Path, lon: float, lat: float, seed: int = 0) -> Path:
    """A 640 × 480 m UTM 60S scene centred on (lon, lat)."""
    x, y = Transformer.from_crs(4326, 32760, always_xy=True).transform(lon, lat)
    transform = Affine(10, 0, x - 320, 0, -10, y + 240)
    return write_geotiff(path, crs="EPSG:32760", transform=transform, width=64, seed=seed)


def test_edges_are_read_the_short_way_and_split_at_the_antimeridian() -> None:
    split = geo.lonlat_polygons(Polygon(ACROSS))
    assert isinstance(split, MultiPolygon) and split.bounds == (-180, -17, 180, -16)
    assert split.area == pytest.approx(1.0)  # a 1° box, not the 359° one the other way
    assert geo.centre(split).x in (180, -180) and geo.centre(split).y == pytest.approx(-16.5)
    # written past 180 (or in the 0…360 convention): the same place
    assert geo.lonlat_polygons(box(179.5, -17, 180.5, -16)).equals(split)
    assert geo.lonlat_polygons(box(181, 10, 182, 11)).equals(box(-179, 10, -178, 11))
    # an edge along ±180 exactly runs the whole parallel: the world stays the world
    world = box(-180, -90, 180, 90)
    assert geo.lonlat_polygons(world).equals(world)
    # a hole follows its shell across the line
    holed = Polygon(ACROSS, [[[179.9, -16.6], [-179.9, -16.6], [-179.9, -16.4], [179.9, -16.4]]])
    assert geo.lonlat_polygons(holed).area == pytest.approx(1.0 - 0.2 * 0.2)
    with pytest.raises(ValueError, match="winds around a pole"):
        geo.lonlat_polygons(Polygon([(0, 80), (120, 80), (-120, 80)]))


def test_area_reaches_the_poles_and_the_whole_earth() -> None:
    assert geo.area_m2(box(-180, -90, 180, 90)) == pytest.approx(5.1007e14, rel=1e-4)
    north = geo.area_m2(box(-180, 0, 180, 90))
    assert north == pytest.approx(geo.area_m2(box(-180, -90, 180, 90)) / 2, rel=1e-9)
    one_degree = geo.area_m2(box(10, 0, 11, 1))
    assert one_degree == pytest.approx(111_319.5 * 110_574.3, rel=1e-3)


def test_aoi_across_the_antimeridian_is_stored_split(catalog: Catalog, tmp_path: Path) -> None:
    path = _aoi(tmp_path / "taveuni.geojson", {"type": "Polygon", "coordinates": [ACROSS]})
    sitewatch.add_geo_site(catalog, "taveuni", path)
    aoi = geo.load_wkt(sitewatch.site_summary(catalog, "taveuni").aoi_wkt)
    assert aoi.geom_type == "MultiPolygon"
    assert 11_000e6 < geo.area_m2(aoi) < 12_000e6  # 1° × 1° at 16.5°S, not most of the Earth
    shown = CliRunner().invoke(app, ["-w", str(catalog.workspace), "site", "show", "taveuni"])
    assert "centred at 16.50000°S 180.00000°E" in shown.stdout


def test_scenes_across_the_antimeridian_join_the_site(catalog: Catalog, tmp_path: Path) -> None:
    path = _aoi(tmp_path / "taveuni.geojson", {"type": "Polygon", "coordinates": [ACROSS]})
    sitewatch.add_geo_site(catalog, "taveuni", path)
    across = _scene_at(tmp_path / "across.tif", 180, -16.5, seed=1)
    west = _scene_at(tmp_path / "west.tif", 179.8, -16.5, seed=2)
    far = write_geotiff(tmp_path / "joplin.tif", seed=3)  # UTM 15N, Missouri
    report = sitewatch.ingest(catalog, [across, west, far], UNDATED)
    assert [o.sites for o in report.outcomes] == [("taveuni",), ("taveuni",), ()]
    images = {i.name: i for i in sitewatch.site_summary(catalog, "taveuni").images}
    # 640 × 480 m of a 1° box: a small but true fraction, the same for both scenes
    assert images["across.tif"].coverage == pytest.approx(images["west.tif"].coverage, rel=1e-3)
    assert 2e-5 < images["across.tif"].coverage < 3e-5
    with catalog.session() as s:
        from sitewatch.store.models import Image

        footprint = geo.load_wkt(
            s.query(Image.footprint_wgs84_wkt).filter(Image.original_name == "across.tif").scalar()
        )
    assert (
        footprint.geom_type == "MultiPolygon" and footprint.bounds[2] - footprint.bounds[0] == 360
    )
    assert 0.2e6 < geo.area_m2(footprint) < 0.4e6  # 0.31 km², not a band round the Earth


def test_whole_earth_aoi_takes_every_georeferenced_scene(catalog: Catalog, tmp_path: Path) -> None:
    path = _aoi(tmp_path / "world.geojson", mapping(box(-180, -90, 180, 90)))
    sitewatch.add_geo_site(catalog, "world", path)
    report = sitewatch.ingest(
        catalog, [write_geotiff(tmp_path / "a.tif"), _scene_at(tmp_path / "b.tif", 180, -16.5)],
        UNDATED,
    )  # fmt: skip
    assert report.ok, [o.message for o in report.outcomes]
    assert all(o.sites == ("world",) for o in report.outcomes)
    (image, _) = sitewatch.site_summary(catalog, "world").images
    assert 0 < image.coverage < 1e-9


@pytest.mark.parametrize(
    ("coordinates", "phrase"),
    [
        ([[[500, 10], [501, 10], [501, 11], [500, 10]]], "longitude 501 is beyond ±360"),
        ([[[10, 300], [11, 300], [11, 301], [10, 300]]], "latitude 301 is beyond ±90"),
    ],
)
def test_aoi_off_the_globe_is_refused(
    catalog: Catalog, tmp_path: Path, coordinates: list, phrase: str
) -> None:
    path = _aoi(tmp_path / "off.geojson", {"type": "Polygon", "coordinates": coordinates})
    with pytest.raises(BadInputError, match=phrase):
        sitewatch.add_geo_site(catalog, "off", path)


def test_an_image_of_a_pole_is_ingested_with_a_footprint_over_the_pole(tmp_path: Path) -> None:
    """Polar stereographic scene centred on the South Pole: its outline winds around the
    pole, so its footprint is the cap it covers (an AOI written that way is refused)."""
    path = tmp_path / "pole.tif"
    south_pole = Affine(1000, 0, -32000, 0, -1000, 32000)  # 64 km square around it
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "uint8",
               "crs": "EPSG:3031", "transform": south_pole}  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.random.default_rng(0).integers(0, 255, (1, 64, 64)).astype("uint8"))
    catalog = Catalog(tmp_path / "ws")
    report = sitewatch.ingest(catalog, [path], IngestOptions(allow_undated=True))
    assert report.ok, report.outcomes[0].message
    with catalog.session() as s:
        footprint = wkt.loads(s.scalar(select(Image.footprint_wgs84_wkt)))
    assert footprint.is_valid and footprint.bounds[1] == -90
    assert footprint.intersects(Point(0, -90)) and footprint.bounds[3] < -89.5
    # 64 km square at true scale 71°S: at the pole a map km is ~1.03 ground km
    assert 4000 < geo.area_m2(footprint) / 1e6 < 4500
    catalog.close()
