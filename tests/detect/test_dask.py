"""Detection on Dask: a local cluster (--workers), an existing one (--scheduler), and the
faults a cluster meets: a worker killed mid-run, a client killed mid-run."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import sitewatch
from sitewatch.cli import app
from sitewatch.detect import run_detector, select_images
from sitewatch.store.models import Detection, Run
from tests import pg
from tests.conftest import AIRPORT, busy_worker_killer

distributed = pytest.importorskip("distributed", reason="Dask is the scale extra")

SCENE = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"
IMAGES = len(list(AIRPORT.glob("*.jpg")))


@pytest.fixture
def apt(tmp_path: Path) -> sitewatch.Catalog:
    cat = sitewatch.Catalog(tmp_path / "ws")
    sitewatch.add_frame_site(cat, "apt", SCENE)
    sitewatch.ingest(cat, [AIRPORT], sitewatch.IngestOptions(site="apt"))
    yield cat
    cat.close()


def ok_runs(cat: sitewatch.Catalog) -> dict[int, int]:
    """Image id → its number of ok detect runs."""
    with cat.session() as s:
        rows = s.execute(
            select(Run.image_id, func.count())
            .where(Run.stage == "detect", Run.status == "ok")
            .group_by(Run.image_id)
        ).all()
    return {image: n for image, n in rows}


def counts(cat: sitewatch.Catalog, run_ids: list[int | None]) -> list[int]:
    with cat.session() as s:
        return [s.scalar(select(func.count()).where(Detection.run_id == r)) or 0 for r in run_ids]


def test_detect_on_an_existing_cluster_stores_what_this_process_computes(
    apt: sitewatch.Catalog, dask_cluster: distributed.LocalCluster
) -> None:
    images = select_images(apt, site="apt")
    here = run_detector(apt, images)
    run = CliRunner().invoke(
        app,
        ["--workspace", str(apt.workspace), "detect", "--site", "apt", "--force",
         "--scheduler", dask_cluster.scheduler_address],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert f"computing on {dask_cluster.scheduler_address}" in run.output
    assert run.output.count("detected (") == IMAGES
    assert all(n == 2 for n in ok_runs(apt).values())  # one run here, one on the cluster
    with apt.session() as s:
        there = [
            s.scalar(
                select(Run.id)
                .where(Run.stage == "detect", Run.status == "ok", Run.id != r.run_id)
                .where(Run.image_id == s.get(Run, r.run_id).image_id)
            )
            for r in here.results
        ]
    assert counts(apt, there) == counts(apt, [r.run_id for r in here.results])


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(
    apt: sitewatch.Catalog, dask_cluster: distributed.LocalCluster
) -> None:
    images = select_images(apt, site="apt")
    with distributed.Client(dask_cluster, set_as_default=False) as client:
        kill_one, killed = busy_worker_killer(client)
        report = run_detector(
            apt, images, force=True, on_image=kill_one,
            executor=client.get_executor(), threads=1,
        )  # fmt: skip
    assert killed.is_set() and report.ok, [r.error for r in report.results]
    runs = ok_runs(apt)
    assert len(runs) == IMAGES and set(runs.values()) == {1}  # each image exactly once
    assert all(r.count > 0 for r in report.results)


def test_a_client_killed_mid_run_resumes_without_redoing_finished_images(
    apt: sitewatch.Catalog,
) -> None:
    ws = apt.workspace
    pg.prepare(ws)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitewatch.cli", "--workspace", str(ws), "detect", "--site",
         "apt", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:  # kill -9 once the first image is stored
        if "detected (" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    done = ok_runs(apt)
    assert 1 <= len(done) < IMAGES  # killed mid-run: some stored, some not
    rerun = CliRunner().invoke(
        app, ["--workspace", str(ws), "detect", "--site", "apt", "--workers", "2"]
    )
    assert rerun.exit_code == 0, rerun.output
    assert rerun.output.count("stored result reused") >= len(done)
    runs = ok_runs(apt)
    assert len(runs) == IMAGES and set(runs.values()) == {1}  # nothing done twice


def test_bad_cluster_options_are_one_line(apt: sitewatch.Catalog) -> None:
    ws = str(apt.workspace)
    for args, says in (
        (["--workers", "0"], "--workers"),
        (["--workers", "65"], "--workers"),
        (["--scheduler", "not an address"], "is not a Dask scheduler address"),
        (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
        (["--scheduler", "tcp://127.0.0.1:99999"], "is not a Dask scheduler address"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "cannot both be used"),
    ):
        run = CliRunner().invoke(app, ["--workspace", ws, "detect", "--site", "apt", *args])
        assert run.exit_code == 1, (args, run.output)
        assert says in run.output and len(run.output.strip().splitlines()) == 1, run.output
    assert ok_runs(apt) == {}  # nothing was run


def test_a_scheduler_without_workers_is_one_line_not_a_hang(
    apt: sitewatch.Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from sitewatch import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "WORKERS_WAIT_S", 2)
    with distributed.LocalCluster(n_workers=0, dashboard_address=None,
                                  silence_logs=logging.ERROR) as empty:  # fmt: skip
        run = CliRunner().invoke(
            app, ["--workspace", str(apt.workspace), "detect", "--site", "apt",
                  "--scheduler", empty.scheduler_address],
        )  # fmt: skip
    assert run.exit_code == 1, run.output
    assert "no usable worker" in run.output and len(run.output.strip().splitlines()) == 1
    assert ok_runs(apt) == {}


def test_a_worker_installed_elsewhere_uses_its_own_copy_of_a_shipped_model(tmp_path: Path) -> None:
    from sitewatch.detect.infer import TileSpec
    from sitewatch.detect.stage import SHIPPED, DetectTask, _model_here
    from sitewatch.errors import NotFoundError

    def task(model: str) -> DetectTask:
        return DetectTask(1, "0" * 64, "x.jpg", "/x.jpg", 0.5, False, model, "0" * 64, TileSpec())

    # the client's path does not exist here: this installation's shipped file of that name
    elsewhere = task("/other/venv/sitewatch/models/aircraft.onnx")
    assert _model_here(elsewhere) == SHIPPED / "aircraft.onnx"
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"onnx")
    assert _model_here(task(str(mine))) == mine
    with pytest.raises(NotFoundError, match="not on this worker"):
        _model_here(task("/client/workspace/models/mine.onnx"))
