"""A throwaway PostgreSQL + PostGIS cluster for the suite's PostgreSQL run.

``SITEWATCH_TEST_BACKEND=postgresql`` (``make test`` sets it for its second pass) starts one
cluster per test session: initdb in a temporary folder, ``pg_ctl`` on 127.0.0.1 with a free
port, durability off (fsync, full-page writes: a test cluster never outlives its session),
stopped and deleted at the end. A template database holds the PostGIS extension and the
migrated schema; every workspace a test opens gets a database of its own copied from it and
named in the workspace's ``catalog.url``, so that in-process catalogs, CLI subprocesses and
copies of a workspace all reach the right one, exactly as a user's workspace does.

PostgreSQL refuses to run as root: as root (CI), the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

BACKEND = os.environ.get("SITEWATCH_TEST_BACKEND", "sqlite")
TEMPLATE = "sw_template"  # PostGIS and the migrated schema
EMPTY = "sw_empty"  # PostGIS only: a database before its first migration
USER = "sitewatch"
PREFIX = "sitewatch-pg-"
ACTIVE: Cluster | None = None  # the running cluster, while a session holds one


def enabled() -> bool:
    return BACKEND == "postgresql"


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise RuntimeError(
        "SITEWATCH_TEST_BACKEND=postgresql but no PostgreSQL server is installed "
        "(make test installs postgresql-15 and postgresql-15-postgis-3)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One running server; ``url(db)`` for a database in it."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        # as root (CI), the server runs as the postgres user: it refuses to run as root
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._stop_orphans()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.root / "owner").write_text(str(os.getpid()))
        self.data = self.root / "data"
        self.port = _free_port()
        if self.as_user:
            pg = pwd.getpwnam("postgres")
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8",
                 "--locale=C", "--no-sync")  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off "
            "-c synchronous_commit=off -c max_connections=300"
        )
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                 "-o", options, "start")  # fmt: skip
        self.admin(f"CREATE DATABASE {EMPTY}")
        self.run_sql(EMPTY, "CREATE EXTENSION postgis")
        self.admin(f"CREATE DATABASE {TEMPLATE} TEMPLATE {EMPTY}")
        from sitewatch import Catalog

        Catalog(self.root / "template-workspace", db_url=self.url(TEMPLATE)).close()

    def _stop_orphans(self) -> None:
        """Stop and remove the clusters of test sessions that were killed (a kill -9 skips
        their clean-up and would leave servers running)."""
        for root in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
            try:
                owner = int((root / "owner").read_text())
                os.kill(owner, 0)
                continue  # its session is still running
            except ProcessLookupError:
                pass
            except (OSError, ValueError):
                continue  # not ours to judge
            if (root / "data" / "postmaster.pid").exists():
                with contextlib.suppress(subprocess.CalledProcessError):
                    self._pg("pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w", "stop")
            shutil.rmtree(root, ignore_errors=True)

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bindir / tool), *args], check=True,
                       capture_output=True, cwd="/")  # fmt: skip

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def run_sql(self, database: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname={database}",
                             autocommit=True) as conn:  # fmt: skip
            conn.execute(sql)

    def admin(self, sql: str) -> None:
        self.run_sql("postgres", sql)

    def provide(self, workspace: Path, template: str = TEMPLATE) -> str:
        """The database of ``workspace`` (created from ``template`` and named in its
        ``catalog.url`` the first time)."""
        from sitewatch.config import URL_FILE, workspace_url

        workspace = workspace.expanduser().resolve()
        url = workspace_url(workspace)
        if url:
            return url
        name = "sw_" + hashlib.sha1(str(workspace).encode()).hexdigest()[:24]
        self.admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        workspace.mkdir(parents=True, exist_ok=True)
        url = self.url(name)
        (workspace / URL_FILE).write_text(url + "\n", encoding="utf-8")
        return url

    def database_of(self, workspace: Path) -> str:
        from sitewatch.config import workspace_url

        url = workspace_url(workspace.resolve())
        assert url, f"{workspace} has no catalog.url"
        return url.rsplit("/", 1)[1]

    def restart(self) -> None:
        """Stop the server (fast: open sessions are cut off) and start it again."""
        # -l as at start: the server must not keep this call's output pipes open
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-m", "fast",
                 "-w", "restart")  # fmt: skip

    def disconnect(self, database: str) -> None:
        """End every session on ``database`` (other catalogs of the workspace: their pools
        reconnect), so that it can serve as a template."""
        self.admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def prepare(workspace: Path) -> None:
    """Give ``workspace`` its database before a subprocess opens it (no-op on SQLite)."""
    if ACTIVE is not None:
        ACTIVE.provide(workspace)


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    global ACTIVE
    c = ACTIVE = Cluster()
    try:
        yield c
    finally:
        ACTIVE = None
        c.stop()
