"""Durable file writes shared by every stage.

A file sitewatch writes is either absent or complete, even across ``kill -9`` and power cuts:
it is written under a temporary name of its own (never a fixed one, so two writers cannot
clobber each other's half-written file), flushed to disk, renamed into place, and the
folder is flushed so the rename itself survives. A catalog row may refer to a file only
after that sequence has finished.

Temporary names carry an *owner tag* (host, process id, process start time) so that a
later run can tell the leftovers of a killed process from files another live process is
still writing, and remove only the former (``sitewatch check --repair``, ``serve``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, BinaryIO

from sitewatch.errors import ConflictError, OutputError
from sitewatch.hashing import CHUNK

# host (with its pid namespace), boot, pid, start time: see owner_tag
_TAG_TEXT = r"(?P<host>[A-Za-z0-9_-]+)\.(?P<boot>[0-9a-f]+)\.(?P<pid>\d+)\.(?P<start>\d+)"
_TAG = re.compile(_TAG_TEXT)


@cache
def _host() -> str:
    """This machine's name, plus its pid namespace where it has one: two containers that share
    a host name but not their process ids must not judge each other's processes."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
    try:
        return f"{name}-{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


@cache
def _boot() -> str:
    """This boot's id (Linux), so a tag from before a reboot is known dead; "0" elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12]
    except OSError:
        return "0"


def _start_time(pid: int) -> int | None:
    """Kernel start time of a process (clock ticks since boot), or None off Linux/if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def owner_tag() -> str:
    """``host.boot.pid.start`` of this process: unique among live processes, even after pid
    reuse or a reboot."""
    pid = os.getpid()
    return f"{_host()}.{_boot()}.{pid}.{_start_time(pid) or 0}"


def owner_alive(tag: str) -> bool | None:
    """Whether the process that wrote ``tag`` still runs; None when it cannot be told here
    (another host or container, or an unreadable tag): such files and runs are left alone."""
    m = _TAG.fullmatch(tag)
    if m is None or m["host"] != _host():
        return None
    if m["boot"] != _boot():
        return False  # written before this machine last started
    pid, start = int(m["pid"]), int(m["start"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    now = _start_time(pid)
    return now is None or start == 0 or now == start


def temp_name(final: Path, kind: str = "tmp") -> Path:
    """A fresh hidden name beside ``final`` tagged with this process as its owner."""
    return final.with_name(f".{kind}-{owner_tag()}-{uuid.uuid4().hex[:12]}-{final.name}")


_TEMP = re.compile(rf"\.[a-z]+-(?P<tag>{_TAG_TEXT})-[0-9a-f]{{12}}-(?P<final>.*)")


def leftover_owner(name: str) -> str | None:
    """The owner tag inside a temporary name made by :func:`temp_name`, else None."""
    m = _TEMP.match(name)
    return m["tag"] if m else None


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_file`` (created if needed) for the block.

    Processes on this machine (and NFSv4 clients) queue on it; where ``fcntl`` does not
    exist (Windows) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename is durable only once its folder is).

    Best effort, as SQLite does it: Windows cannot open folders, and some network and FUSE
    file systems refuse to flush one (EINVAL); the rename has happened either way."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _open_new(path: Path, mode: int = 0o666) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    return os.fdopen(fd, "wb")


def _publish(tmp: Path, final: Path, read_only: bool) -> None:
    if read_only:
        os.chmod(tmp, 0o444)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_with_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` create a file (a library that wants a path: GDAL, a zip writer) at a
    temporary name beside ``path``, then flush it and rename it into place: all or nothing.
    Side files the library left (SQLite journals) go with the temporary name."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise OutputError(path, "is a folder", "give a file name")
        if path.exists() and not path.is_file():
            # a device or a pipe: the rename would replace it with a plain file
            raise OutputError(path, "is not a regular file", "give the name of a file")
        _sweep_beside(path)
        tmp = temp_name(path)
        try:
            write(tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            _publish(tmp, path, read_only=False)
        finally:
            for leftover in (
                tmp,
                *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm")),
            ):
                leftover.unlink(missing_ok=True)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError.from_os(path, exc) from exc


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: complete or not at all, durable once this returns."""

    def write(tmp: Path) -> None:
        with _open_new(tmp) as fh:
            fh.write(data)

    write_with_atomic(path, write)


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8 text through :func:`write_bytes_atomic`."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    """JSON (indented, UTF-8) through :func:`write_bytes_atomic`."""
    write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False))


def copy_durable(source: Path, target: Path, expected_sha256: str) -> None:
    """Copy ``source`` to ``target`` read-only and durably, checking on the way that the
    bytes copied hash to ``expected_sha256`` (a file edited mid-ingest is refused)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target, "incoming")
    digest = hashlib.sha256()
    try:
        with _open_new(tmp) as out, open(source, "rb") as src:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected_sha256:
            raise ConflictError(f"{source}: file changed while it was being ingested; try again")
        _publish(tmp, target, read_only=True)
    except OSError as exc:
        if isinstance(exc, OutputError) or exc.filename == str(source):
            raise  # reading the source failed: the caller names it
        raise OutputError.from_os(target, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)  # only ever our own temporary file


def _sweep_beside(path: Path) -> None:
    """Remove what killed writers of ``path`` left beside it: outputs may live anywhere
    (a report in the home folder), so each write cleans up after its own earlier attempts."""
    for old in path.parent.glob(f".tmp-*-{glob_escape(path.name)}*"):
        m = _TEMP.match(old.name)
        if m is None:
            continue
        # the file itself, its journals, or formats.vector's GeoPackage work file
        rest = m["final"].removeprefix(path.name)
        if rest in ("", "-journal", "-wal", "-shm", ".gpkg", ".gpkg-journal") and (
            owner_alive(m["tag"]) is False
        ):
            old.unlink(missing_ok=True)


def leftovers(folder: Path) -> Iterator[Path]:
    """Temporary files and staging folders under ``folder`` whose owner process has died."""
    if not folder.is_dir():
        return
    for path in folder.rglob(".*-*"):
        tag = leftover_owner(path.name)
        if tag is not None and owner_alive(tag) is False:
            yield path


def remove(path: Path) -> None:
    """Remove a file or a folder tree; already gone is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
