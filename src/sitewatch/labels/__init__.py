"""Ground-truth labels: import (Airbus CSV, COCO) and export (COCO, GeoJSON)."""

from sitewatch.labels.exchange import (
    ExportBox,
    LabelImport,
    export_labels,
    import_labels,
    to_coco,
    to_geojson,
)
from sitewatch.labels.formats import BoxRecord, read_airbus_csv, read_coco

__all__ = [
    "BoxRecord",
    "ExportBox",
    "LabelImport",
    "export_labels",
    "import_labels",
    "read_airbus_csv",
    "read_coco",
    "to_coco",
    "to_geojson",
]
