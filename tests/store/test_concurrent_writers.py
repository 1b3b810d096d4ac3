"""Writers that read before they write, at once on one catalog: an ingest and a new site
that both link, two monitors of one site, two detects of one image. On PostgreSQL they run
side by side and must serialise; on SQLite the single writer does it (or one of them fails
cleanly, in one line). Either way nothing is lost and nothing is stored twice."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sitewatch import Catalog, add_frame_site, monitor_site
from sitewatch.detect import run_detector, select_images
from sitewatch.detect import stage as detect_stage
from sitewatch.errors import SitewatchError
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.monitor import stage as monitor_stage
from sitewatch.sites import add_geo_site
from sitewatch.store import links as linking
from sitewatch.store.models import Image, ImageSite, Observation, Run, Site
from tests.conftest import AIRPORT, JOPLIN, copy_catalog, run_at_once


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


def test_two_monitors_of_one_site_store_one_set_of_observations(  # type: ignore[no-untyped-def]
    monitored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _meeting(monkeypatch, monitor_stage, "serialise")  # both inside _store, before the lock
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


def test_two_detects_of_one_site_at_once_store_each_image_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two analysts (or the CLI and a dashboard job) detect on the same images at once: each
    image gets one run; the second to store keeps the first's."""
    catalog = Catalog(tmp_path / "ws")
    add_frame_site(catalog, "apt", AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg")
    ingest(catalog, [AIRPORT], IngestOptions(site="apt", allow_undated=True))
    images = select_images(catalog, site="apt")
    _meeting(monkeypatch, detect_stage, "serialise")  # both stores of an image meet there
    reports: list = []
    run_at_once(*[lambda: reports.append(run_detector(catalog, images))] * 2)
    assert len(reports) == 2 and all(r.ok for r in reports), [r.results for r in reports]
    with catalog.session() as s:
        runs = s.execute(
            select(Run.image_id, func.count()).where(Run.stage == "detect")
            .group_by(Run.image_id)
        ).all()  # fmt: skip
    assert len(runs) == len(images) and {n for _i, n in runs} == {1}, runs
    # each image's two results name the one stored run
    for first, second in zip(reports[0].results, reports[1].results, strict=True):
        assert first.run_id == second.run_id and first.count == second.count
    catalog.close()
