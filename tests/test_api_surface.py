"""The lazily loaded top-level API: every name resolves, and `import sitewatch` stays light."""

from __future__ import annotations

import subprocess
import sys

import sitewatch
import sitewatch.api


def test_the_lazy_list_is_the_api() -> None:
    assert set(sitewatch.API) == set(sitewatch.api.__all__)
    for name in sitewatch.__all__:
        assert getattr(sitewatch, name) is not None
    assert callable(sitewatch.ingest) and sitewatch.Catalog.__name__ == "Catalog"


def test_import_sitewatch_loads_no_stage() -> None:
    code = (
        "import sys, sitewatch; heavy = [m for m in ('sqlalchemy', 'rasterio', 'cv2', 'scipy',"
        " 'numpy', 'sitewatch.api') if m in sys.modules]; print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
