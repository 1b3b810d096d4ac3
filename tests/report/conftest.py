"""One monitored demo catalog shared by the report tests (detect + register + monitor ≈ 10 s)."""

from __future__ import annotations

import pytest

from sitewatch import Catalog, add_frame_site, monitor_site
from sitewatch.detect import run_detector, select_images
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.register import register_site
from sitewatch.report.data import load_monitoring
from tests.conftest import AIRPORT

REF = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"


@pytest.fixture(scope="session")
def monitored(tmp_path_factory: pytest.TempPathFactory):
    """The demo airport detected, registered and monitored once for this module."""
    catalog = Catalog(tmp_path_factory.mktemp("report") / "workspace")
    add_frame_site(catalog, "apt", str(REF))
    ingest(catalog, [AIRPORT], IngestOptions(site="apt"))
    run_detector(catalog, select_images(catalog, [], "apt"))
    register_site(catalog, "apt")
    assert "has not been monitored yet" in load_monitoring(catalog, "apt").note
    result = monitor_site(catalog, "apt", write_chips=False)
    yield catalog, result
    catalog.close()
