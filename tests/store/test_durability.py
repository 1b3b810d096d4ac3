"""Durability and concurrency: races between writers, kills at any moment, leftovers.

What sitewatch promises here is written in docs/PROMISES.md, which names these tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import event, func, select

from sitewatch import Catalog
from sitewatch.files import owner_tag, temp_name, write_bytes_atomic
from sitewatch.hashing import sha256_file
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.store.check import Problem, check
from sitewatch.store.models import Image, Run, RunStatus
from tests import pg
from tests.conftest import run_at_once, sqlite_only

PY = sys.executable


def pngs(folder: Path, n: int, size: int = 96, seed: int = 0) -> list[Path]:
    """``n`` small real PNGs of random pixels (each a different hash)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        path = folder / f"scene{i:02d}.png"
        PILImage.fromarray(rng.integers(0, 255, (size, size, 3)).astype("uint8")).save(path)
        out.append(path)
    return out


def assert_intact(catalog: Catalog, expected: set[str]) -> None:
    """One row per file content, and every row's stored file there with its hash."""
    with catalog.session() as s:
        rows = list(s.scalars(select(Image)))
    assert {im.sha256 for im in rows} == expected
    assert len(rows) == len(expected)
    for im in rows:
        path = catalog.image_path(im)
        assert path.is_file(), f"row {im.sha256[:12]} lost its file {path}"
        assert sha256_file(path) == im.sha256
    store = catalog.settings.image_store
    assert not list(store.rglob(".*")), "temporary files left in the image store"


def cli(*args: str, workspace: Path) -> subprocess.Popen[str]:
    pg.prepare(workspace)
    return subprocess.Popen(
        [PY, "-m", "sitewatch.cli", "--workspace", str(workspace), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# -- 1. two writers of the same content -----------------------------------------------------
def test_two_cli_ingests_of_one_folder_lose_nothing(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 24)
    expected = {sha256_file(p) for p in files}
    for round_ in range(3):
        ws = tmp_path / f"ws{round_}"
        Catalog(ws).close()  # created once, so both processes race on rows, not on the schema
        procs = [cli("ingest", str(tmp_path / "in"), "--undated", workspace=ws) for _ in "ab"]
        results = [p.communicate(timeout=120) for p in procs]
        for proc, (_out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err
        catalog = Catalog(ws)
        assert_intact(catalog, expected)
        with catalog.session() as s:
            statuses = set(s.scalars(select(Run.status).where(Run.stage == "ingest")))
        assert statuses == {RunStatus.OK}
        catalog.close()


def test_parallel_ingests_of_one_file_keep_one_row_and_its_file(tmp_path: Path) -> None:
    """Eight writers (like eight uploads of one PNG), each with its own catalog handle."""
    files = pngs(tmp_path / "in", 4, seed=7)
    ws = tmp_path / "ws"
    Catalog(ws).close()
    for path in files:
        barrier = threading.Barrier(8)
        outcomes: list[str] = []

        def one(
            path: Path = path, barrier: threading.Barrier = barrier, outcomes: list[str] = outcomes
        ) -> None:
            catalog = Catalog(ws)
            barrier.wait()
            report = ingest(catalog, [path], IngestOptions(allow_undated=True))
            outcomes.append(report.outcomes[0].status)
            catalog.close()

        run_at_once(*[one] * 8)
        assert sorted(outcomes) == ["duplicate"] * 7 + ["ingested"], outcomes
    catalog = Catalog(ws)
    assert_intact(catalog, {sha256_file(p) for p in files})
    catalog.close()


def test_a_lost_stored_file_is_restored_by_the_next_ingest(
    catalog: Catalog, tmp_path: Path
) -> None:
    (path,) = pngs(tmp_path / "in", 1)
    ingest(catalog, [path], IngestOptions(allow_undated=True))
    with catalog.session() as s:
        stored = catalog.image_path(s.scalar(select(Image)))
    stored.unlink()
    report = ingest(catalog, [path], IngestOptions(allow_undated=True))
    assert report.outcomes[0].status == "duplicate"
    assert "restored" in report.outcomes[0].message
    assert_intact(catalog, {sha256_file(path)})


def test_ingest_flushes_the_file_and_its_folder_before_the_row_is_committed(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (path,) = pngs(tmp_path / "in", 1)
    events: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        events.append("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    event.listen(catalog.engine, "commit", lambda _conn: events.append("commit"))
    ingest(catalog, [path], IngestOptions(allow_undated=True))
    # the copy and its folder flushed; then the image row committed; then the run closed
    assert events[-4:] == ["file", "dir", "commit", "commit"], events


# -- 2. kill -9 during migrations ----------------------------------------------------------------
def _migrate_in_child(db_path: Path | str, kill_at: int) -> tuple[int, int]:
    """Migrate ``db_path`` (a SQLite file, or a database URL) in a forked child that
    SIGKILLs itself at its ``kill_at``-th SQL statement (0: never). Returns (wait status,
    statements executed when not killed)."""
    from sqlalchemy.engine import Engine

    from sitewatch.store import db

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: count statements, die at the chosen one
        seen = [0]

        def count(*_a: object) -> None:
            seen[0] += 1
            if seen[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        try:
            event.listen(Engine, "before_cursor_execute", count)
            url = db_path if isinstance(db_path, str) else f"sqlite:///{db_path}"
            db.upgrade(db.make_engine(url))
            os.write(write, str(seen[0]).encode())
        finally:
            os._exit(0)
    os.close(write)
    _pid, status = os.waitpid(pid, 0)
    with os.fdopen(read) as fh:
        told = fh.read()
    return status, int(told or 0)


def _statements(tmp_path: Path, template: Path | None) -> int:
    probe = tmp_path / "probe.sqlite"
    if template is not None:
        probe.write_bytes(template.read_bytes())
    status, statements = _migrate_in_child(probe, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return statements


def _sweep(tmp_path: Path, template: Path | None, rows: dict[str, int]) -> int:
    """Kill a migration at many statements; the catalog must always open afterwards, with
    its data. Returns how many kill points were tried."""
    total = _statements(tmp_path, template)
    points = range(1, total + 1)  # every statement of the migration
    for k in points:
        ws = tmp_path / f"kill{k}"
        ws.mkdir()
        db_path = ws / "catalog.sqlite"
        if template is not None:
            db_path.write_bytes(template.read_bytes())
        status, _ = _migrate_in_child(db_path, k)
        assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL, k
        catalog = Catalog(ws)  # must migrate to head from wherever the kill left it
        from sitewatch.store import db

        assert db.current_revision(catalog.engine) == db.head_revision(catalog.engine)
        with catalog.engine.connect() as conn:
            for table, count in rows.items():
                assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == count
        catalog.close()
    return len(points)


@sqlite_only("kills pysqlite migrations statement by statement")
def test_kill_at_any_point_of_a_first_run_leaves_a_usable_catalog(tmp_path: Path) -> None:
    assert _sweep(tmp_path, None, {"images": 0, "runs": 0}) >= 20


@sqlite_only("kills pysqlite migrations statement by statement")
def test_kill_at_any_point_of_an_upgrade_keeps_the_data(tmp_path: Path) -> None:
    """A catalog with data at revision 0001, upgraded to head with kills along the way."""
    from alembic import command

    from sitewatch.store import db

    old = tmp_path / "old.sqlite"
    engine = db.make_engine(f"sqlite:///{old}")
    command.upgrade(db.alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO runs (stage, method, version, parameters, status, started_at) "
            "VALUES ('ingest', 'm', '1', '{}', 'ok', '2024-01-01 00:00:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO sites (name, kind, created_at) VALUES ('x', 'geo', '2024-01-01')"
        )
    engine.dispose()
    assert _sweep(tmp_path, old, {"runs": 1, "sites": 1}) >= 5


@pytest.mark.skipif(not pg.enabled(), reason="PostgreSQL's transactional DDL (its own run)")
def test_kill_during_a_postgresql_migration_leaves_the_old_revision(tmp_path: Path) -> None:
    """PostgreSQL runs every migration in one transaction: a kill at any statement leaves
    an empty database (no half-made tables), and the next open migrates it to head."""
    from sitewatch.store import db

    assert pg.ACTIVE is not None
    probe = pg.ACTIVE.provide(tmp_path / "probe", template=pg.EMPTY)
    status, total = _migrate_in_child(probe, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and total >= 20
    for k in range(1, total + 1, max(1, total // 8)):  # eight points across the migration
        ws = tmp_path / f"kill{k}"
        url = pg.ACTIVE.provide(ws, template=pg.EMPTY)
        status, _ = _migrate_in_child(url, k)
        assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL, k
        engine = db.make_engine(url)
        with engine.connect() as conn:  # nothing of the killed transaction is left
            assert (
                conn.exec_driver_sql(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
                    "AND table_type = 'BASE TABLE' AND table_name <> 'spatial_ref_sys'"
                ).scalar_one()
                == 0
            ), k
        engine.dispose()
        catalog = Catalog(ws)
        assert db.current_revision(catalog.engine) == db.head_revision(catalog.engine)
        catalog.close()


def test_two_processes_creating_one_catalog_at_once_both_succeed(tmp_path: Path) -> None:
    for round_ in range(2):
        ws = tmp_path / f"ws{round_}"
        procs = [cli("site", "list", workspace=ws) for _ in range(3)]
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err


# -- 3. runs and leftovers of killed processes -------------------------------------------------
def test_a_killed_commands_run_is_closed_as_interrupted(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    code = (
        "import os, signal, sys\n"
        "from sitewatch import Catalog\n"
        "cat = Catalog(sys.argv[1])\n"
        "cat.start_run('detect', 'm', '1', {})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    pg.prepare(ws)
    killed = subprocess.run([PY, "-c", code, str(ws)], capture_output=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    catalog = Catalog(ws)
    with catalog.session() as s:
        run = s.scalar(select(Run))
    assert run.status == RunStatus.INTERRUPTED
    assert "killed or crashed" in run.message
    live = catalog.start_run("detect", "m", "1", {})  # this process's own run stays running
    assert catalog.close_dead_runs() == []
    with catalog.session() as s:
        assert s.get(Run, live).status == RunStatus.RUNNING
    catalog.close()


def test_an_ingest_stopped_by_an_unexpected_error_does_not_stay_running(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sitewatch.ingest import pipeline

    def boom(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_ingest_one", boom)
    with pytest.raises(KeyboardInterrupt):
        ingest(catalog, pngs(tmp_path / "in", 1), IngestOptions(allow_undated=True))
    with catalog.session() as s:
        assert s.scalar(select(Run.status)) == RunStatus.FAILED


def test_check_finds_and_repairs_rows_without_files_files_without_rows_and_leftovers(
    catalog: Catalog, tmp_path: Path
) -> None:
    files = pngs(tmp_path / "in", 3)
    ingest(catalog, files, IngestOptions(allow_undated=True))
    with catalog.session() as s:
        images = list(s.scalars(select(Image).order_by(Image.id)))
    lost = catalog.image_path(images[0])
    lost.unlink()
    corrupt = catalog.image_path(images[1])
    corrupt.chmod(0o644)
    corrupt.write_bytes(b"not the image any more")
    corrupt.chmod(0o444)
    orphan = catalog.settings.image_store / "ab" / ("ab" * 32 + ".png")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x")
    # a leftover of a process that is gone (pid 1's start time never matches ours) …
    dead = catalog.settings.image_store / ("." + "incoming-" + _dead_tag() + "-0123456789ab-f.png")
    dead.write_bytes(b"half")
    # … and one of this live process, which must be left alone
    alive = temp_name(catalog.settings.image_store / "x.png", "incoming")
    alive.write_bytes(b"still writing")

    found = check(catalog, deep=True)
    kinds = sorted(f.problem for f in found)
    assert kinds == sorted(
        [Problem.MISSING_FILE, Problem.CORRUPT_FILE, Problem.ORPHAN_FILE, Problem.LEFTOVER]
    ), found
    assert not any(f.repaired for f in found)
    assert lost.exists() is False and orphan.exists() and dead.exists()

    fixed = check(catalog, repair=True, deep=True)
    assert all(f.repaired for f in fixed), fixed
    assert not orphan.exists() and not dead.exists() and alive.exists()
    alive.unlink()
    assert_intact(catalog, {sha256_file(p) for p in files})
    assert check(catalog, deep=True) == []


def test_check_cli_exits_1_while_something_is_left(catalog: Catalog, tmp_path: Path) -> None:
    (path,) = pngs(tmp_path / "in", 1)
    ingest(catalog, [path], IngestOptions(allow_undated=True))
    with catalog.session() as s:
        stored = catalog.image_path(s.scalar(select(Image)))
    stored.unlink()
    path.unlink()  # the original is gone too: nothing to restore from
    proc = cli("check", "--repair", workspace=catalog.workspace)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "missing file" in err and "ingest the original again" in err
    assert "Traceback" not in err
    with catalog.session() as s:
        assert s.scalar(select(func.count(Image.id))) == 1  # the row and its history are kept


def _dead_tag() -> str:
    host, pid, _start = owner_tag().rsplit(".", 2)
    return f"{host}.{pid}.1"  # this pid with another start time: a previous, dead process


# -- 4. atomic writes -----------------------------------------------------------------------------
def test_atomic_write_keeps_the_old_file_when_the_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")

    def fail(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    from sitewatch.errors import OutputError

    with pytest.raises(OutputError, match="disk is full"):
        write_bytes_atomic(target, b"new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_concurrent_atomic_writes_of_one_path_never_mix(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    payloads = [bytes([65 + i]) * 200_000 for i in range(6)]
    run_at_once(*[lambda data=data: write_bytes_atomic(target, data) for data in payloads])
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_detect_over_a_lost_file_names_it_and_carries_on(tmp_path: Path) -> None:
    from tests.conftest import AIRPORT

    ws = tmp_path / "ws"
    for args in (("site", "add", "apt", "--reference", str(next(AIRPORT.glob("*.jpg")))),
                 ("ingest", str(AIRPORT), "--site", "apt")):  # fmt: skip
        proc = cli(*args, workspace=ws)
        assert proc.wait(timeout=120) == 0, proc.communicate()
    catalog = Catalog(ws)
    with catalog.session() as s:
        lost = s.scalars(select(Image).order_by(Image.id)).all()[-1]
    catalog.image_path(lost).unlink()
    proc = cli("detect", "--site", "apt", workspace=ws)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert out.count(" detected (") == 4  # the other images are still detected
    (line,) = err.splitlines()
    assert lost.original_name in line and "sitewatch check --repair" in line
    assert check(catalog, repair=True)[0].repaired  # restored from the original
    proc = cli("detect", "--site", "apt", workspace=ws)
    assert proc.wait(timeout=300) == 0
    catalog.close()


def test_writing_over_a_folder_says_so_once(tmp_path: Path) -> None:
    from sitewatch.errors import OutputError

    with pytest.raises(OutputError) as err:
        write_bytes_atomic(tmp_path, b"x")
    assert str(err.value) == f"cannot write {tmp_path}: is a folder (give a file name)"


def test_a_lost_file_is_restored_where_its_row_says_even_from_a_renamed_copy(
    catalog: Catalog, tmp_path: Path
) -> None:
    from tests.conftest import write_geotiff

    path = write_geotiff(tmp_path / "scene.tif")
    ingest(catalog, [path], IngestOptions(allow_undated=True))
    with catalog.session() as s:
        stored = catalog.image_path(s.scalar(select(Image)))
    stored.unlink()
    renamed = path.rename(tmp_path / "scene.TIFF")  # same bytes, another suffix
    report = ingest(catalog, [renamed], IngestOptions(allow_undated=True))
    assert "restored" in report.outcomes[0].message
    assert stored.is_file()  # the row's own path, not beside it under another suffix
    assert check(catalog) == []


def test_a_reference_row_and_a_copy_racing_leave_no_orphan(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 6, seed=3)
    ws = tmp_path / "ws"
    Catalog(ws).close()
    for path in files:
        barrier = threading.Barrier(2)

        def one(mode: str, path: Path = path, barrier: threading.Barrier = barrier) -> None:
            catalog = Catalog(ws)
            barrier.wait()
            ingest(catalog, [path], IngestOptions(allow_undated=True, store=mode))  # type: ignore[arg-type]
            catalog.close()

        run_at_once(lambda one=one: one("reference"), lambda one=one: one("copy"))
    catalog = Catalog(ws)
    assert [f for f in check(catalog) if f.problem == Problem.ORPHAN_FILE] == []
    catalog.close()


def test_check_closes_runs_of_older_versions_and_notes_other_machines(catalog: Catalog) -> None:
    old = catalog.start_run("detect", "m", "1", {})
    elsewhere = catalog.start_run("register", "m", "1", {})
    with catalog.session() as s:
        s.get(Run, old).owner = None  # written before runs recorded their process
        s.get(Run, elsewhere).owner = "another-host.0.123.456"
    found = {f.subject: f for f in check(catalog)}
    assert found[f"run {old} (detect)"].open
    note = found[f"run {elsewhere} (register)"]
    assert not note.open and "another-host" in note.line()
    repaired = {f.subject: f for f in check(catalog, repair=True)}
    assert repaired[f"run {old} (detect)"].repaired
    assert not any(f.open for f in check(catalog))
    with catalog.session() as s:
        assert s.get(Run, old).status == RunStatus.INTERRUPTED
        assert s.get(Run, elsewhere).status == RunStatus.RUNNING


def test_check_lists_the_runs_closed_when_the_catalog_was_opened(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    code = (
        "import os, signal, sys\n"
        "from sitewatch import Catalog\n"
        "Catalog(sys.argv[1]).start_run('monitor', 'm', '1', {})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    pg.prepare(ws)
    subprocess.run([PY, "-c", code, str(ws)], capture_output=True, timeout=60)
    proc = cli("check", workspace=ws)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "repaired: interrupted run: run 1: its process died; closed" in out


def test_a_folder_that_cannot_be_flushed_does_not_fail_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(22, "Invalid argument")  # as some FUSE and network file systems do
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_bytes_atomic(tmp_path / "a.json", b"{}")
    assert (tmp_path / "a.json").read_bytes() == b"{}"


def test_writing_an_output_again_removes_what_a_killed_writer_left_beside_it(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report.html"
    host, pid, _start = owner_tag().rsplit(".", 2)
    dead = tmp_path / f".tmp-{host}.{pid}.1-0123456789ab-report.html"
    dead.write_bytes(b"half a report")
    other = tmp_path / f".tmp-{host}.{pid}.1-0123456789ab-other.html"
    other.write_bytes(b"another output's leftover")
    write_bytes_atomic(target, b"<html>")
    assert not dead.exists() and other.exists()
