"""sitewatch: monitor named sites in very-high-resolution satellite imagery.

>>> import sitewatch
>>> cat = sitewatch.Catalog("./sitewatch-data")
>>> report = sitewatch.ingest(cat, ["scene.tif"])
"""

__version__ = "0.1.0"

from sitewatch import ingest
from sitewatch.api import *  # noqa: F403
from sitewatch.api import __all__ as _api_all
from sitewatch.errors import SitewatchError

__all__ = [*_api_all, "SitewatchError", "__version__", "ingest"]
