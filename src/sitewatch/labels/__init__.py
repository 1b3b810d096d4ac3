"""Ground-truth labels: import (Airbus CSV, COCO) and export (COCO, GeoJSON)."""

from sitewatch.formats.annotations import BoxRecord, read_airbus_csv, read_coco
from sitewatch.labels.exchange import LabelImport, export_labels, import_labels

__all__ = [
    "BoxRecord",
    "LabelImport",
    "export_labels",
    "import_labels",
    "read_airbus_csv",
    "read_coco",
]
