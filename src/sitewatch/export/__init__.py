"""Export: a site's layers for GIS (GeoPackage, KML/KMZ, GeoJSON, CSV), boxes as COCO, and
registered images as GeoTIFFs in the site frame's map coordinates.

Map formats hold map coordinates only: boxes on images with no georeference (their own, or
their site frame's through registration) are left out of them and counted; CSV and COCO
keep every box in pixels.
"""

from sitewatch.export.boxes import export_boxes, export_detections
from sitewatch.export.layers import LAYER_NAMES
from sitewatch.export.site import ExportSummary, export_site, on_map

__all__ = [
    "LAYER_NAMES",
    "ExportSummary",
    "export_boxes",
    "export_detections",
    "export_site",
    "on_map",
]
