"""The PostgreSQL server restarted under a running command: the images stored before and
after are kept, the ones caught in the restart fail in one line each (or are retried on a
fresh connection), nothing is half-written, and a rerun completes what is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

import sitewatch
from sitewatch.store.models import Detection, Run, RunStatus
from tests import pg
from tests.conftest import AIRPORT

pytestmark = pytest.mark.skipif(not pg.enabled(), reason="restarts the PostgreSQL test server")
SCENE = AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"


def test_a_server_restart_mid_detect_loses_nothing_and_a_rerun_completes(tmp_path: Path) -> None:
    cat = sitewatch.Catalog(tmp_path / "ws")
    sitewatch.add_frame_site(cat, "apt", SCENE)
    sitewatch.ingest(cat, [AIRPORT], sitewatch.IngestOptions(site="apt"))
    images = len(list(AIRPORT.glob("*.jpg")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitewatch.cli", "--workspace", str(cat.workspace), "detect",
         "--site", "apt"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and pg.ACTIVE is not None
    restarted_after = None
    for line in proc.stdout:
        if "detected (" in line:  # the first image is stored: restart under the others
            pg.ACTIVE.restart()
            restarted_after = line
            break
    assert restarted_after is not None, "the restart must come mid-run"
    rest, err = proc.communicate(timeout=300)
    # the rest of the site came after the restart: stored, or failed in one line each
    assert rest.count("detected (") + err.count("error") >= 1, (rest, err)
    assert proc.returncode in (0, 1), err
    assert "Traceback" not in err and all(len(e) < 400 for e in err.splitlines()), err
    with cat.session() as s:  # a fresh connection: the pool's old ones died with the server
        ok = s.execute(
            select(Run.id, Run.image_id).where(Run.stage == "detect", Run.status == "ok")
        ).all()
        stuck = s.scalar(select(func.count()).where(Run.status == RunStatus.RUNNING))
        # every stored run has its detections: none is half-written
        empty = [
            r for r, _ in ok if not s.scalar(select(func.count()).where(Detection.run_id == r))
        ]
    assert 1 <= len(ok) <= images and stuck == 0 and empty == [], (ok, stuck, empty)
    rerun = subprocess.run(
        [sys.executable, "-m", "sitewatch.cli", "--workspace", str(cat.workspace), "detect",
         "--site", "apt"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    with cat.session() as s:
        per_image = s.execute(
            select(Run.image_id, func.count())
            .where(Run.stage == "detect", Run.status == "ok")
            .group_by(Run.image_id)
        ).all()
    assert len(per_image) == images and {n for _, n in per_image} == {1}
    cat.close()
