"""Map geometry on both backends: the same WKT back in Python, and on PostGIS real indexed
geometries that the database itself filters."""

from __future__ import annotations

import json
from pathlib import Path

import shapely
from sqlalchemy import select

from sitewatch import Catalog
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.sites import add_geo_site
from sitewatch.store import spatial
from sitewatch.store.models import Image, Site
from tests.conftest import JOPLIN


def _far_aoi(tmp_path: Path) -> Path:
    """An AOI half a world away from Joplin (Fiji)."""
    ring = [[178.0, -18.0], [179.0, -18.0], [179.0, -17.0], [178.0, -17.0], [178.0, -18.0]]
    path = tmp_path / "fiji.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    return path


def test_map_geometry_round_trips_and_is_filtered_by_the_database(
    catalog: Catalog, tmp_path: Path
) -> None:
    ingest(catalog, [JOPLIN / "joplin-pre.tif"], IngestOptions(allow_undated=True))
    assert add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson") == 1
    assert add_geo_site(catalog, "fiji", _far_aoi(tmp_path)) == 0
    dialect = catalog.engine.dialect.name
    with catalog.session() as s:
        image = s.scalars(select(Image)).one()
        footprint = image.footprint_wgs84_wkt
        assert footprint is not None and shapely.from_wkt(footprint).is_valid
        # what Python reads back is shapely's own text: stored again, it is unchanged
        assert shapely.from_wkt(footprint).wkt == footprint
        near = spatial.overlapping(Site.aoi_wgs84_wkt, footprint, dialect)
        if dialect != "postgresql":
            assert near is None  # SQLite: the caller tests every row in Python
            return
        found = s.scalars(select(Site.name).where(near)).all()
        assert found == ["joplin"]  # Fiji's AOI is left out by the database
    with catalog.engine.connect() as conn:
        srids = conn.exec_driver_sql(
            "SELECT ST_SRID(footprint_wgs84_wkt), GeometryType(footprint_wgs84_wkt) FROM images"
        ).all()
        assert srids == [(4326, "POLYGON")]
        indexes = {
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%%USING gist%%'"
            )
        }
    assert indexes == {
        "gix_images_footprint_wgs84_wkt",
        "gix_sites_aoi_wgs84_wkt",
        "gix_detections_geometry_wgs84_wkt",
        "gix_change_regions_geometry_wgs84_wkt",
    }
