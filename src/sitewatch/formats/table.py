"""Flat CSV: a layer (its fields, then the longitude and latitude of each feature's centre),
or rows of records under renamed columns; booleans as true/false, numbers rounded."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from sitewatch.formats.geojson import DECIMALS
from sitewatch.formats.layers import Layer, Value

# units in the header itself: a spreadsheet keeps no schema
LON, LAT = "lon_deg", "lat_deg"


def layer_csv(layer: Layer) -> str:
    """One row per feature, placed or not; ``lon_deg``/``lat_deg`` (WGS 84) are a point
    inside the feature, empty for features with no map coordinates."""
    names = [f.name for f in layer.fields]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*names, LON, LAT])
    for row in layer.rows:
        point = row.geometry.representative_point()
        writer.writerow([*_values(row.values, names), f"{point.x:.{DECIMALS}f}",
                         f"{point.y:.{DECIMALS}f}"])  # fmt: skip
    for values in layer.unplaced:
        writer.writerow([*_values(values, names), "", ""])
    return buf.getvalue()


def _values(values: Mapping[str, Value], names: list[str]) -> list[str]:
    return ["" if values[n] is None else _text(values[n]) for n in names]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def records_csv(rows: list[dict[str, object]], columns: Mapping[str, str], digits: int = 4) -> str:
    """``rows`` under ``columns`` (record key → CSV header, which names the unit): what a
    spreadsheet reads without a schema. Floats keep ``digits`` decimals."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(columns.values()))
    for row in rows:
        writer.writerow([_cell(row.get(key), digits) for key in columns])
    return buf.getvalue()


def _cell(value: object, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return _text(value)
