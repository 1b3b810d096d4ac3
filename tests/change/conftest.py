"""The real Joplin pair (before and after the 2011 tornado) registered as a site."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import sitewatch
from sitewatch import add_geo_site
from sitewatch.ingest import Dated, IngestOptions, Provenance, ingest
from sitewatch.register import register_site
from tests.conftest import JOPLIN


@pytest.fixture
def joplin(catalog: sitewatch.Catalog) -> sitewatch.Catalog:
    add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson")
    for name, day in (("joplin-pre.tif", 1), ("joplin-post.tif", 23)):
        when = Provenance(acquired=Dated(datetime(2011, 5, day, tzinfo=UTC), "test"))
        assert ingest(catalog, [JOPLIN / name], IngestOptions(provenance=when)).ok
    register_site(catalog, "joplin")
    return catalog
