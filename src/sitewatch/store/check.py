"""`sitewatch check`: find (and with ``repair``, mend) what crashes and hands leave behind.

- an image row whose stored file is missing (or, with ``deep``, no longer hashes to its
  SHA-256): restored from the original file when that is still there and intact;
- a file in the image store that no row refers to: removed (under the store folder's lock,
  which ingest holds from storing a file to committing its row);
- temporary files and upload staging folders of processes that died: removed;
- runs still "running" whose process cannot be checked from here (another host, or a
  catalog written before runs recorded their owner): reported, never guessed at.

Runs of processes that died on this host are closed as "interrupted" whenever a catalog is
opened (:meth:`Catalog.close_dead_runs`); ``check`` lists the ones it closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select

from sitewatch.errors import ConflictError
from sitewatch.files import copy_durable, leftovers, locked, owner_alive, remove
from sitewatch.hashing import sha256_file
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Image, Run, RunStatus


class Problem(StrEnum):
    MISSING_FILE = "missing file"
    CORRUPT_FILE = "corrupt file"
    ORPHAN_FILE = "orphan file"
    LEFTOVER = "leftover"
    INTERRUPTED_RUN = "interrupted run"
    UNKNOWN_RUN = "running elsewhere?"


@dataclass(frozen=True)
class Finding:
    problem: Problem
    subject: str
    detail: str
    repaired: bool = False
    needs_action: bool = True  # False: for information (a run another machine is doing)

    @property
    def open(self) -> bool:
        """Still wants someone's attention."""
        return self.needs_action and not self.repaired

    def line(self) -> str:
        mark = "repaired" if self.repaired else "found" if self.needs_action else "note"
        return f"{mark}: {self.problem}: {self.subject}: {self.detail}"


def check(catalog: Catalog, repair: bool = False, deep: bool = False) -> list[Finding]:
    """Every finding in the catalog and its workspace, mended where ``repair`` allows."""
    closed = catalog.closed_runs + catalog.close_dead_runs()
    found = [
        Finding(Problem.INTERRUPTED_RUN, f"run {rid}", "its process died; closed", True)
        for rid in closed
    ]
    found += list(_images(catalog, repair, deep))
    found += list(_orphans(catalog, repair))
    found += list(_leftovers(catalog, repair))
    found += list(_unknown_runs(catalog, repair))
    return found


def _images(catalog: Catalog, repair: bool, deep: bool) -> Iterator[Finding]:
    with catalog.session() as s:
        images = list(s.scalars(select(Image).order_by(Image.id)))
    for im in images:
        path = catalog.image_path(im)
        subject = f"image {im.sha256[:12]} ({im.original_name})"
        if not path.is_file():
            problem, detail = Problem.MISSING_FILE, f"{path} is missing"
        elif deep and sha256_file(path) != im.sha256:
            problem, detail = Problem.CORRUPT_FILE, f"{path} no longer matches its SHA-256"
        else:
            continue
        if not catalog.in_store(path):
            yield Finding(problem, subject, detail + "; ingest the file again from where it is now")
            continue
        if repair and _restore(im, path):
            yield Finding(problem, subject, f"{detail}; restored from {im.original_path}", True)
            continue
        yield Finding(
            problem, subject, f"{detail}; ingest the original again to restore it (or --repair)"
        )


def _restore(image: Image, target: Path) -> bool:
    """Copy the original back into the store when it is still there with the same bytes
    (``copy_durable`` hashes what it copies and publishes nothing on a mismatch)."""
    source = Path(image.original_path)
    if not source.is_file():
        return False
    remove(target)  # a corrupt copy is read-only: replace it
    try:
        copy_durable(source, target, image.sha256)
    except ConflictError:
        return False  # the original has changed since it was ingested
    return True


def _orphans(catalog: Catalog, repair: bool) -> Iterator[Finding]:
    store = catalog.settings.image_store
    if not store.is_dir():
        return
    with catalog.session() as s:
        known = {catalog.resolve_path(p) for p in s.scalars(select(Image.stored_path))}
    for path in sorted(store.glob("??/*")):
        if path in known or path.name.startswith(".") or not path.is_file():
            continue
        if not repair:
            yield Finding(Problem.ORPHAN_FILE, str(path), "no image row refers to it")
            continue
        # ingest holds this lock from storing a file to committing its row: under it, a
        # file without a row is not one that an ingest is about to commit
        with locked(catalog.store_lock(path.name)):
            with catalog.session() as s:
                stored = str(path.relative_to(catalog.workspace))
                if s.scalar(select(Image.id).where(Image.stored_path == stored)) is not None:
                    continue
            remove(path)
        yield Finding(Problem.ORPHAN_FILE, str(path), "no image row refers to it; removed", True)


def _leftovers(catalog: Catalog, repair: bool) -> Iterator[Finding]:
    for path in sorted(leftovers(catalog.workspace)):
        if repair:
            remove(path)
        yield Finding(
            Problem.LEFTOVER,
            str(path),
            "temporary file of a process that died" + ("; removed" if repair else ""),
            repair,
        )


def _unknown_runs(catalog: Catalog, repair: bool) -> Iterator[Finding]:
    with catalog.session() as s:
        runs = list(s.scalars(select(Run).where(Run.status == RunStatus.RUNNING)))
    for run in runs:
        subject = f"run {run.id} ({run.stage})"
        since = f"started {run.started_at:%Y-%m-%d %H:%M}Z"
        if run.owner is None:  # from before runs recorded their process
            if repair:
                catalog.finish_run(
                    run.id, RunStatus.INTERRUPTED, "closed by `sitewatch check --repair`"
                )
                yield Finding(Problem.UNKNOWN_RUN, subject, f"{since}, no owner; closed", True)
            else:
                yield Finding(
                    Problem.UNKNOWN_RUN,
                    subject,
                    f"still 'running' ({since}) by a process that recorded no owner: a "
                    "sitewatch older than this one; --repair closes it as interrupted",
                )
        elif owner_alive(run.owner) is None:  # another host or container: its own business
            yield Finding(
                Problem.UNKNOWN_RUN,
                subject,
                f"running on {run.owner.split('.')[0]} ({since}); check it there",
                needs_action=False,
            )
