"""sitewatch: monitor named sites in very-high-resolution satellite imagery.

>>> import sitewatch
>>> cat = sitewatch.Catalog("./sitewatch-data")
>>> report = sitewatch.ingest(cat, ["scene.tif"])

The public API (``sitewatch.api``) is loaded on first use (PEP 562), so ``import sitewatch``
and the command line's ``--help``/``--version`` do not pay for GDAL, OpenCV, SciPy and
SQLAlchemy until a stage needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# what sitewatch.api exports (tests/test_api_surface.py keeps this list equal to it)
API = (
    "Catalog", "ClaimSpec", "Dated", "ExportSummary", "IngestOptions", "IngestReport",
    "ModelEntry", "MonitorResult", "Provenance", "RegisterReport", "SourceSpec", "TileSpec",
    "add_claim", "add_frame_site", "add_geo_site", "claimreview", "export_detections",
    "export_labels", "export_site", "import_claims", "import_labels", "list_claims",
    "list_models", "list_sites", "monitor_site", "register_site", "remove_site",
    "resolve_model", "review", "run_detector", "select_images", "site_summary",
)  # fmt: skip
__all__ = [*API, "SitewatchError", "__version__", "ingest"]

if TYPE_CHECKING:  # what a type checker and an IDE see; nothing is imported at run time
    from sitewatch import ingest
    from sitewatch.api import *  # noqa: F403
    from sitewatch.errors import SitewatchError


def __getattr__(name: str) -> Any:
    if name in API:
        value = getattr(importlib.import_module("sitewatch.api"), name)
    elif name == "SitewatchError":
        from sitewatch.errors import SitewatchError as value
    elif name == "ingest":  # the package, callable as the ingest function
        value = importlib.import_module("sitewatch.ingest")
    else:
        raise AttributeError(f"module 'sitewatch' has no attribute {name!r}")
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
