"""Registration on Dask: each image matched to the reference as a task on a cluster gives
what this process gives, and a worker killed mid-run loses and repeats nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import sitewatch
from sitewatch.cli import app
from sitewatch.frame import project
from sitewatch.register import register_site, registrations
from sitewatch.register.site import frame_matrix
from sitewatch.store.models import Registration
from tests.conftest import AIRPORT, busy_worker_killer

distributed = pytest.importorskip("distributed", reason="Dask is the scale extra")

REF = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"
IMAGES = len(list(AIRPORT.glob("*.jpg")))
CORNERS = np.array([[0, 0], [2560, 0], [2560, 2560], [0, 2560]], float)


@pytest.fixture
def apt(tmp_path: Path) -> Iterator[sitewatch.Catalog]:
    cat = sitewatch.Catalog(tmp_path / "ws")
    sitewatch.add_frame_site(cat, "apt", REF)
    sitewatch.ingest(cat, [AIRPORT], sitewatch.IngestOptions(site="apt", allow_undated=True))
    yield cat
    cat.close()


def stored_of(cat: sitewatch.Catalog) -> dict[int, tuple[str, str, np.ndarray | None]]:
    """Image id → (method, status, matrix) as stored."""
    with cat.session() as s:
        rows = registrations(s, cat.get_site(s, "apt"))
        return {
            i: (r.method, r.status, frame_matrix(r) if r.matrix else None) for i, r in rows.items()
        }


def first_other_image(cat: sitewatch.Catalog) -> tuple[str, Path]:
    """The name and stored file of the site's first image that is not the reference."""
    with cat.session() as s:
        site = cat.get_site(s, "apt")
        victim = next(ln.image for ln in site.image_links if ln.image.original_name != REF.name)
        return victim.original_name, cat.readable_path(victim)


def test_register_on_an_existing_cluster_stores_what_this_process_computes(
    apt: sitewatch.Catalog, dask_cluster: distributed.LocalCluster
) -> None:
    here = register_site(apt, "apt")
    assert all(r.ok for r in here.results)
    before = stored_of(apt)
    run = CliRunner().invoke(
        app,
        ["--workspace", str(apt.workspace), "register", "apt", "--force",
         "--scheduler", dask_cluster.scheduler_address],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert f"computing on {dask_cluster.scheduler_address}" in run.output
    after = stored_of(apt)
    assert after.keys() == before.keys() and len(after) == IMAGES
    for image, (method, status, matrix) in after.items():
        assert (method, status) == before[image][:2]
        assert matrix is not None and before[image][2] is not None
        # the same fit: corners of the scene land within a tenth of a pixel
        moved = np.linalg.norm(
            project(matrix, CORNERS) - project(before[image][2], CORNERS), axis=1
        )
        assert moved.max() < 0.1, (image, method, moved)
    # the chained view (no match to the reference) is chained here, after the tasks
    assert [m.split("+")[0] for m, _s, _m in after.values()].count("chain") == 1


def test_a_worker_killed_mid_registration_loses_and_repeats_nothing(
    apt: sitewatch.Catalog, dask_cluster: distributed.LocalCluster
) -> None:
    with distributed.Client(dask_cluster, set_as_default=False) as client:
        kill_one, killed = busy_worker_killer(client)
        report = register_site(apt, "apt", progress=kill_one, executor=client.get_executor())
    assert killed.is_set()
    assert len(report.results) == IMAGES and all(r.ok for r in report.results)
    with apt.session() as s:
        per_image = s.execute(
            select(Registration.image_id, func.count()).group_by(Registration.image_id)
        ).all()
    assert len(per_image) == IMAGES and {n for _i, n in per_image} == {1}


def test_an_image_its_worker_cannot_read_fails_alone(
    apt: sitewatch.Catalog, dask_cluster: distributed.LocalCluster
) -> None:
    name, path = first_other_image(apt)
    path.write_bytes(b"not a JPEG any more")  # there, but unreadable where it is read
    with distributed.Client(dask_cluster, set_as_default=False) as client:
        report = register_site(apt, "apt", executor=client.get_executor())
    bad = [r for r in report.results if not r.ok]
    assert [r.name for r in bad] == [name] and bad[0].method == "worker"
    assert "failed on a Dask worker" in (bad[0].reason or "") and "\n" not in bad[0].reason
    stored = stored_of(apt)
    assert len(stored) == IMAGES  # the others, and the failure with its reason
    assert sum(1 for _m, status, _x in stored.values() if status == "ok") == IMAGES - 1


def test_a_lost_file_fails_the_run_in_one_line_before_any_task(
    apt: sitewatch.Catalog, dask_cluster: distributed.LocalCluster
) -> None:
    _name, path = first_other_image(apt)
    path.unlink()
    run = CliRunner().invoke(
        app,
        ["--workspace", str(apt.workspace), "register", "apt",
         "--scheduler", dask_cluster.scheduler_address],
    )  # fmt: skip
    assert run.exit_code == 1
    assert "its stored file" in run.output and "is missing" in run.output
    assert stored_of(apt) == {}  # the failed run stored nothing
