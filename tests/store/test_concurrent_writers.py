"""Writers that read before they write, at once on one catalog: an ingest and a new site
that both link, two monitors of one site. On PostgreSQL they run side by side and must
serialise; on SQLite the single writer does it (or one of them fails cleanly, in one line).
Either way nothing is lost and nothing is stored twice."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sitewatch import Catalog, monitor_site
from sitewatch.errors import SitewatchError
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.sites import add_geo_site
from sitewatch.store import links as linking
from sitewatch.store.models import Image, ImageSite, Observation, Site
from tests.conftest import JOPLIN, copy_catalog, run_at_once


def _meeting(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """Make the two writers meet inside their transactions, just before they read what the
    other may be writing: the worst interleaving, every time. A writer that must wait for
    the other's lock never arrives, and the one that did goes on after a second."""
    meet = threading.Barrier(2, timeout=1.0)
    original = getattr(module, name)

    def met(*args, **kwargs):  # type: ignore[no-untyped-def]
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, met)


def _attempt(errors: list[str], work) -> None:  # type: ignore[no-untyped-def]
    try:
        work()
    except SitewatchError as exc:
        errors.append(str(exc))


def test_an_ingest_and_a_new_site_at_once_link_the_image_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for round_ in range(2):
        _meeting(monkeypatch, linking.spatial, "overlapping")
        catalog = Catalog(tmp_path / f"ws{round_}")
        errors: list[str] = []

        def scene(c: Catalog = catalog, e: list[str] = errors) -> None:
            _attempt(
                e, lambda: ingest(c, [JOPLIN / "joplin-pre.tif"], IngestOptions(allow_undated=True))
            )

        def site(c: Catalog = catalog, e: list[str] = errors) -> None:
            _attempt(e, lambda: add_geo_site(c, "joplin", JOPLIN / "aoi.geojson"))

        run_at_once(scene, site)
        assert all("\n" not in e for e in errors), errors
        with catalog.session() as s:
            images = s.scalar(select(func.count()).select_from(Image))
            sites = s.scalar(select(func.count()).select_from(Site))
            links = s.scalar(select(func.count()).select_from(ImageSite))
        if catalog.engine.dialect.name == "postgresql":
            assert errors == []  # they wait for each other instead
        # whatever committed is linked exactly once: the write skew would leave 0 links
        assert links == (1 if images and sites else 0), (round_, images, sites, links, errors)
        catalog.close()


def test_two_monitors_of_one_site_store_one_set_of_observations(monitored, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = copy_catalog(monitored[0], tmp_path / "ws")
    with catalog.session() as s:
        alone = s.scalar(select(func.count()).select_from(Observation))
    errors: list[str] = []
    run_at_once(
        *[lambda: _attempt(errors, lambda: monitor_site(catalog, "apt", write_chips=False))] * 2
    )
    with catalog.session() as s:
        stored = s.scalar(select(func.count()).select_from(Observation))
    assert alone and stored == alone, (alone, stored, errors)  # not twice, not interleaved
    if catalog.engine.dialect.name == "postgresql":
        assert errors == []
    assert all("\n" not in e for e in errors), errors
    catalog.close()
