"""One error hierarchy for sitewatch.

Every error says what failed and how to fix it. Each class also inherits the built-in
exception a Python user would expect (``ValueError``, ``LookupError``, …) so generic
``except`` clauses keep working.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any


class SitewatchError(Exception):
    """Base of every error sitewatch raises on purpose."""


class BadInputError(SitewatchError, ValueError):
    """An input file cannot be used; the message names the file and the cause."""

    def __init__(self, path: str | Path, cause: str, fix: str | None = None) -> None:
        self.path = str(path)
        self.cause = cause
        self.fix = fix
        message = f"{self.path}: {cause}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its own arguments (the default passes the message alone), so an
        # error raised in a worker process reaches the caller as itself
        return type(self), (self.path, self.cause, self.fix)


class MissingDateError(BadInputError):
    """No acquisition time could be found or parsed for an image."""


class CRSError(BadInputError):
    """An image's coordinate reference system is missing or cannot be used."""


class DatasetNotFoundError(SitewatchError, FileNotFoundError):
    """A file or folder the command needs does not exist."""


class NotFoundError(SitewatchError, LookupError):
    """A site, image or record named by the user is not in the catalog."""


class ConflictError(SitewatchError, ValueError):
    """The request contradicts what the catalog already holds."""


class RowConflictError(ConflictError):
    """Another writer saved a row with the same unique key first (the catalog refused the
    second); the work that hit it may simply be run again."""


class StoreError(SitewatchError, RuntimeError):
    """The catalog database cannot be opened, migrated or written."""


class OutputError(SitewatchError, OSError):
    """A file sitewatch writes (a report, an export, a stored image) cannot be written."""

    def __init__(self, path: str | Path, cause: str, fix: str | None = None) -> None:
        self.path = str(path)
        self.cause = cause
        self.fix = fix
        message = f"cannot write {self.path}: {cause}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.path, self.cause, self.fix)

    @classmethod
    def from_os(cls, path: str | Path, exc: OSError) -> OutputError:
        """Name the path and the cause of an OSError; a full disk says so, with free space."""
        return cls(path, *describe_os_error(path, exc))


LOW_SPACE = 16 << 20  # below this, SQLite's "disk I/O error" is a full disk in practice


def describe_os_error(path: str | Path | None, exc: BaseException) -> tuple[str, str | None]:
    """(cause, fix) for an OS-level failure to write ``path`` (None: unknown)."""
    if is_disk_full(exc, path):
        free = free_bytes(path) if path is not None else None
        left = "" if free is None else f" ({free / 1e6:.1f} MB free there)"
        return f"the disk is full{left}", "free some space and run it again"
    if isinstance(exc, PermissionError):
        return "permission denied", "choose a folder you can write to"
    if isinstance(exc, IsADirectoryError):
        return "is a folder", "give a file name"
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)), None


def is_disk_full(exc: BaseException, path: str | Path | None = None) -> bool:
    """ENOSPC/EDQUOT/EFBIG, SQLite's "database or disk is full", or its "disk I/O error"
    (what it says when its journal cannot grow) with almost no space left at ``path``."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    if "database or disk is full" in text:
        return True
    if "disk i/o error" in text and path is not None:
        free = free_bytes(path)
        return free is not None and free < LOW_SPACE
    return False


def free_bytes(path: str | Path) -> int | None:
    """Free space on the disk that holds ``path`` (or its nearest existing parent)."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


class MissingDependencyError(SitewatchError, ImportError):
    """An optional extra or system library a feature needs is not installed."""

    def __init__(self, feature: str, cause: str, fix: str) -> None:
        self.feature, self.cause, self.fix = feature, cause, fix
        super().__init__(f"{feature}: {cause} ({fix})")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.feature, self.cause, self.fix)


class SitewatchWarning(UserWarning):
    """Base of sitewatch's named warnings."""


class NotGeoreferencedWarning(SitewatchWarning):
    """An image has no georeference; it can only join sites with a pixel reference frame."""
