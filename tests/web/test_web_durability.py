"""The dashboard under concurrent uploads and after a killed server (issue 14, items 1 and 3)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import select

from sitewatch import Catalog
from sitewatch.files import owner_tag, temp_name
from sitewatch.hashing import sha256_file
from sitewatch.store.models import Image
from tests.conftest import run_at_once
from tests.web.conftest import TOKEN, make_client

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_parallel_uploads_of_one_png_keep_one_row_and_its_file(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "ws")
    png = tmp_path / "same.png"
    pixels = np.random.default_rng(5).integers(0, 255, (128, 128, 3)).astype("uint8")
    PILImage.fromarray(pixels).save(png)
    data = png.read_bytes()
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def upload() -> None:
        with make_client(catalog) as client:
            barrier.wait()
            res = client.post(
                "/api/images",
                files={"file": ("same.png", data)},
                data={"acquired": "2024-05-01"},
                headers=AUTH,
            )
            statuses.append(res.status_code)

    for _round in range(3):
        statuses.clear()
        run_at_once(*[upload] * 8)
        assert len(statuses) == 8
        assert set(statuses) <= {200, 201} and statuses.count(201) <= 1, statuses
    with catalog.session() as s:
        rows = list(s.scalars(select(Image)))
    assert len(rows) == 1
    assert sha256_file(catalog.image_path(rows[0])) == sha256_file(png)
    uploads = catalog.workspace / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    catalog.close()


def test_a_new_server_removes_what_a_killed_one_left(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "ws")
    host, pid, _start = owner_tag().rsplit(".", 2)
    dead = f"{host}.{pid}.1"  # this pid with another start time: a process that has ended
    staging = catalog.workspace / "uploads" / f".upload-{dead}-0123456789ab-staging"
    staging.mkdir(parents=True)
    (staging / "big.tif").write_bytes(b"\0" * 1000)
    incoming = catalog.settings.image_store / "ab" / f".incoming-{dead}-0123456789ab-x.png"
    incoming.parent.mkdir(parents=True)
    incoming.write_bytes(b"half")
    live = temp_name(catalog.workspace / "uploads" / "staging", "upload")
    live.mkdir()  # an upload this (live) process is receiving: kept
    with make_client(catalog) as client:  # the app's start-up runs here
        assert client.get("/api/sites").status_code == 200
    assert not staging.exists() and not incoming.exists()
    assert live.exists()
    catalog.close()
