"""Ground-truth labels: import (Airbus CSV, COCO) and export (COCO, GeoJSON)."""

from sitewatch.labels.exchange import LabelImport, export_labels, import_labels
from sitewatch.labels.formats import BoxRecord, read_airbus_csv, read_coco

__all__ = [
    "BoxRecord",
    "LabelImport",
    "export_labels",
    "import_labels",
    "read_airbus_csv",
    "read_coco",
]
