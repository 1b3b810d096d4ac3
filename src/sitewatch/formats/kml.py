"""KML 2.2 (Google Earth, and GDAL's KML/LIBKML drivers): one Folder per layer, values in
typed ExtendedData under a Schema, so GIS reads them back as fields."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from xml.etree import ElementTree as ET

import shapely
from shapely.geometry.base import BaseGeometry

from sitewatch.formats.geojson import DECIMALS
from sitewatch.formats.layers import FieldType, Layer

NS = "http://www.opengis.net/kml/2.2"
_KML_TYPE = {
    FieldType.STRING: "string",
    FieldType.INTEGER: "int",
    FieldType.REAL: "double",
    FieldType.BOOLEAN: "bool",
}
# KML colours are aabbggrr; outlines only, so the imagery stays visible under them
STYLES = {
    "default": "ff00a5ff",
    "appeared": "ff3cb44b",
    "departed": "ff3030e6",
    "stayed": "ffc8c8c8",
    "site": "ffffff00",
    "footprints": "ffb4b4b4",
}


# characters XML 1.0 cannot hold at all (a file name may carry them): written as U+FFFD
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, f"{{{NS}}}{tag}", {k: _ILLEGAL.sub("\ufffd", v)
                                                 for k, v in attrs.items()})  # fmt: skip
    if text is not None:
        e.text = _ILLEGAL.sub("\ufffd", text)
    return e


def _coords(xy: Sequence[Sequence[float]]) -> str:
    return " ".join(f"{round(x, DECIMALS)},{round(y, DECIMALS)}" for x, y, *_ in xy)


def _geometry(parent: ET.Element, geom: BaseGeometry) -> None:
    kind = geom.geom_type
    if kind.startswith("Multi") or kind == "GeometryCollection":
        multi = _el(parent, "MultiGeometry")
        for part in geom.geoms:
            _geometry(multi, part)
    elif kind == "Point":
        _el(_el(parent, "Point"), "coordinates", _coords(geom.coords))
    elif kind == "LineString":
        _el(_el(parent, "LineString"), "coordinates", _coords(geom.coords))
    elif kind == "Polygon":
        geom = shapely.orient_polygons(geom, exterior_cw=False)
        poly = _el(parent, "Polygon")
        ring = _el(_el(poly, "outerBoundaryIs"), "LinearRing")
        _el(ring, "coordinates", _coords(geom.exterior.coords))
        for hole in geom.interiors:
            _el(
                _el(_el(poly, "innerBoundaryIs"), "LinearRing"), "coordinates", _coords(hole.coords)
            )
    else:  # pragma: no cover - Layer only holds the types above
        raise ValueError(f"cannot write a {kind} to KML")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"  # xsd:boolean; GDAL reads only the digits
    return str(value)


def kml_document(
    layers: Sequence[Layer], name: str, description: str = "", nest: bool = True
) -> bytes:
    """The layers as one KML document (UTF-8 bytes): a nested Document per layer, or with
    ``nest`` False (one layer) its placemarks in the top Document."""
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}kml")
    doc = _el(root, "Document", id="sitewatch" if nest else layers[0].name)
    _el(doc, "name", name)
    if description:
        _el(doc, "description", description)
    for key, colour in STYLES.items():
        style = _el(doc, "Style", id=f"style-{key}")  # children in the order KML 2.2 fixes
        icon = _el(style, "IconStyle")
        _el(icon, "color", colour)
        _el(icon, "scale", "0.8")
        line = _el(style, "LineStyle")
        _el(line, "color", colour)
        _el(line, "width", "2")
        _el(_el(style, "PolyStyle"), "fill", "0")
    for layer in layers:
        schema = _el(doc, "Schema", id=f"{layer.name}.schema")
        for f in layer.fields:
            simple = _el(schema, "SimpleField", name=f.name, type=_KML_TYPE[f.type])
            if f.description:
                _el(simple, "displayName", f.description)
    for layer in layers:
        folder = doc
        if nest:
            folder = _el(doc, "Document", id=layer.name)
            _el(folder, "name", layer.name)
            _el(folder, "description", layer.title)
        for i, row in enumerate(layer.rows, start=1):
            mark = _el(folder, "Placemark")
            _el(mark, "name", str(row.values.get("class") or row.values.get("kind") or i))
            kind = row.values.get("kind")
            look = kind if kind in STYLES else layer.name if layer.name in STYLES else "default"
            _el(mark, "styleUrl", f"#style-{look}")
            data = _el(_el(mark, "ExtendedData"), "SchemaData", schemaUrl=f"#{layer.name}.schema")
            for key, value in row.values.items():
                if value is not None:
                    _el(data, "SimpleData", _text(value), name=key)
            _geometry(mark, row.geometry)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def kmz_archive(layers: Sequence[Layer], name: str, description: str = "") -> bytes:
    """A KMZ: ``doc.kml`` (first entry, what Google Earth opens) links each layer's own
    document under ``layers/``, the layout GDAL writes and reads back with its fields."""
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}kml")
    doc = _el(root, "Document", id="sitewatch")
    _el(doc, "name", name)
    if description:
        _el(doc, "description", description)
    for layer in layers:
        # no <name> on the link: GDAL would read a named link as a layer of its own
        _el(_el(_el(doc, "NetworkLink"), "Link"), "href", f"layers/{layer.name}.kml")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", ET.tostring(root, encoding="utf-8", xml_declaration=True))
        for layer in layers:
            zf.writestr(f"layers/{layer.name}.kml", kml_document([layer], layer.name, nest=False))
    return buf.getvalue()
