"""File formats that sitewatch writes for other tools (GIS, Google Earth, COCO tooling).

Pure writers below the stages: they take value objects (``Layer``), never the catalog.
"""

from sitewatch.formats.layers import Field, FieldType, Layer, Row
from sitewatch.formats.vector import VectorFormat, write_layers

__all__ = ["Field", "FieldType", "Layer", "Row", "VectorFormat", "write_layers"]
