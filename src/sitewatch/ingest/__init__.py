"""Ingest imagery with provenance into the catalog.

The package is itself callable, so ``sitewatch.ingest(catalog, paths)`` is the same call as
``sitewatch.ingest.ingest(catalog, paths)``.
"""

import sys
import types
from typing import Any

from sitewatch.dates import parse_datetime
from sitewatch.ingest.geotiff import TIME_TAGS
from sitewatch.ingest.pipeline import (
    FileOutcome,
    IngestOptions,
    IngestReport,
    IngestStatus,
    discover,
    ingest,
)
from sitewatch.ingest.provenance import Dated, Provenance

__all__ = [
    "TIME_TAGS",
    "Dated",
    "FileOutcome",
    "IngestOptions",
    "IngestReport",
    "IngestStatus",
    "Provenance",
    "discover",
    "ingest",
    "parse_datetime",
]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> IngestReport:
        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
