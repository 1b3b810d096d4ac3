"""The public Python API: what a notebook user calls. The CLI is a shell over these."""

from sitewatch.claims import (
    ClaimSpec,
    SourceSpec,
    add_claim,
    claimreview,
    import_claims,
    list_claims,
    review,
)
from sitewatch.detect import TileSpec, run_detector, select_images
from sitewatch.detect.registry import ModelEntry, list_models, resolve_model
from sitewatch.export import ExportSummary, export_detections, export_site
from sitewatch.ingest import Dated, IngestOptions, IngestReport, Provenance
from sitewatch.labels import export_labels, import_labels
from sitewatch.monitor import MonitorResult, monitor_site
from sitewatch.register import RegisterReport, register_site
from sitewatch.sites import (
    add_frame_site,
    add_geo_site,
    list_sites,
    remove_site,
    site_summary,
)
from sitewatch.store.catalog import Catalog

__all__ = [
    "Catalog",
    "ClaimSpec",
    "Dated",
    "ExportSummary",
    "IngestOptions",
    "IngestReport",
    "ModelEntry",
    "MonitorResult",
    "Provenance",
    "RegisterReport",
    "SourceSpec",
    "TileSpec",
    "add_claim",
    "add_frame_site",
    "add_geo_site",
    "claimreview",
    "export_detections",
    "export_labels",
    "export_site",
    "import_claims",
    "import_labels",
    "list_claims",
    "list_models",
    "list_sites",
    "monitor_site",
    "register_site",
    "remove_site",
    "resolve_model",
    "review",
    "run_detector",
    "select_images",
    "site_summary",
]
