"""GeoTIFF / COG / JPEG 2000 via rasterio: georeference, GSD, footprint, embedded time."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import rasterio
from rasterio.errors import NotGeoreferencedWarning as RioNotGeoreferenced
from rasterio.errors import RasterioError
from rasterio.transform import from_gcps
from rasterio.windows import Window

from sitewatch import geo
from sitewatch.dates import file_stamp
from sitewatch.errors import BadInputError, CRSError
from sitewatch.ingest.facts import ImageFacts, check_dimensions
from sitewatch.ingest.provenance import Dated, check_gsd

# Tags that carry the acquisition time, most specific first. TIFFTAG_DATETIME is the file's
# own time stamp (often processing time), so it is used last and named as such.
TIME_TAGS = (
    "ACQUISITION_DATETIME",
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATE",
    "ACQUISITION_TIME",
    "DATE_ACQUIRED",
    "acquisition_date",
    "datetime",
    "TIFFTAG_DATETIME",
)


def read_raster(path: Path) -> ImageFacts:
    """Open with rasterio, check it decodes, and collect its facts."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RioNotGeoreferenced)
            with rasterio.open(path) as ds:
                check_dimensions(path, ds.width, ds.height, ds.count)
                _check_decodes(path, ds)
                facts = ImageFacts(
                    format=ds.driver,
                    width=ds.width,
                    height=ds.height,
                    bands=ds.count,
                    dtype=ds.dtypes[0],
                    embedded_time=_embedded_time(path, ds.tags()),
                )
                _georeference(path, ds, facts)
                return facts
    except RasterioError as exc:
        raise BadInputError(path, f"unreadable or corrupt raster ({exc})") from None


def _check_decodes(path: Path, ds: rasterio.DatasetReader) -> None:
    """Decode the first, middle and last block: catches truncated and corrupt files cheaply."""
    bh, bw = ds.block_shapes[0]
    rows = {0, (ds.height // 2) // bh * bh, (ds.height - 1) // bh * bh}
    cols = {0, (ds.width // 2) // bw * bw, (ds.width - 1) // bw * bw}
    try:
        for r in rows:
            for c in cols:
                ds.read(1, window=Window(c, r, min(bw, ds.width - c), min(bh, ds.height - r)))
    except RasterioError as exc:
        raise BadInputError(path, f"pixel data is truncated or corrupt ({exc})") from None


def _embedded_time(path: Path, tags: dict[str, str]) -> Dated | None:
    for key in TIME_TAGS:
        raw = tags.get(key)
        if not raw:
            continue
        try:  # ISO-8601, or TIFF's own "YYYY:MM:DD HH:MM:SS"
            return Dated(file_stamp(raw, what=f"tag {key}")[0], f"tag {key}")
        except ValueError as exc:
            raise BadInputError(path, str(exc), "override it with --acquired") from None
    return None


def _georeference(path: Path, ds: rasterio.DatasetReader, facts: ImageFacts) -> None:
    transform = ds.transform
    crs = ds.crs
    source = "geotransform"
    if transform.is_identity:
        gcps, gcp_crs = ds.gcps
        if gcps:
            transform, crs, source = from_gcps(gcps), gcp_crs, "gcps"
    if transform.is_identity and crs is None:
        return  # plain, ungeoreferenced raster
    if crs is None:
        raise CRSError(
            path,
            "has a geotransform but no CRS, so it cannot be placed on the map",
            "assign one, e.g. gdal_edit.py -a_srs EPSG:32615 FILE",
        )
    try:
        checked = geo.checked_crs(crs.to_wkt())
    except ValueError as exc:
        raise CRSError(path, f"unknown or unusable CRS: {exc}") from None
    coeffs = list(transform)[:6]
    gsd = geo.gsd_metres(coeffs, ds.width, ds.height, checked)
    if math.isfinite(gsd):  # a NaN comes from coordinates off the globe: said below
        check_gsd(gsd, path, "pixel size")
    try:
        native, wgs84 = geo.footprints(coeffs, ds.width, ds.height, checked)
    except ValueError as exc:
        raise CRSError(path, str(exc), "check the file's CRS and geotransform") from None
    check_gsd(gsd, path, "pixel size")
    facts.crs_wkt = checked.to_wkt()
    facts.crs_epsg = checked.to_epsg()
    facts.transform = coeffs
    facts.footprint_native = native
    facts.footprint_wgs84 = wgs84
    facts.gsd_m = gsd
    facts.gsd_source = source
