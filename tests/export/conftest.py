"""A georeferenced twin of the demo airport: the same pixels as a GeoTIFF on a UTM grid
(the site frame's reference) and the original JPEG registered to it, both detected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from rasterio.transform import Affine

from sitewatch import Catalog, add_frame_site, monitor_site
from sitewatch.detect import run_detector, select_images
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.ingest.provenance import given
from sitewatch.register import register_site
from tests.conftest import DEMO_REF, write_geotiff

# 0.5 m pixels on UTM zone 31N, north of the equator: an ordinary projected grid
UTM = "EPSG:32631"
TRANSFORM = Affine(0.5, 0.0, 600_000.0, 0.0, -0.5, 5_400_000.0)
CROP = (300, 200, 2300, 2000)  # left, top, right, bottom in the GeoTIFF's pixels
SCALE = 0.8


@pytest.fixture(scope="session")
def placed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Path]]:
    """(catalog, GeoTIFF path): site ``placed`` whose frame is the GeoTIFF, with the JPEG
    registered to it; detected, registered and monitored."""
    folder = tmp_path_factory.mktemp("placed")
    with PILImage.open(DEMO_REF) as im:
        pixels = np.moveaxis(np.asarray(im.convert("RGB")), -1, 0)
    tif = write_geotiff(folder / "airport-utm.tif", crs=UTM, transform=TRANSFORM, pixels=pixels)
    # the "news photo": a crop of the same scene at 80 % size, so its registration is a real
    # scale and shift (a reversed or dropped homography would put boxes metres off)
    with PILImage.open(DEMO_REF) as im:
        crop = im.convert("RGB").crop(CROP)
        crop = crop.resize((round(crop.width * SCALE), round(crop.height * SCALE)))
        crop.save(folder / "news-photo.jpg", quality=92)
    jpeg = folder / "news-photo.jpg"
    catalog = Catalog(folder / "workspace")
    prov = given("2024-01-10", True, "test", "sitewatch tests", "CC BY-NC-SA 4.0")
    assert ingest(catalog, [tif], IngestOptions(provenance=prov)).ok
    add_frame_site(catalog, "placed", str(tif))
    later = given("2024-02-10", True, "test", "sitewatch tests", "CC BY-NC-SA 4.0",
                  gsd=0.5 / SCALE)  # fmt: skip
    assert ingest(catalog, [jpeg], IngestOptions(site="placed", provenance=later)).ok
    run_detector(catalog, select_images(catalog, [], "placed"))
    register_site(catalog, "placed")
    monitor_site(catalog, "placed", write_chips=False)
    yield catalog, tif
    catalog.close()
