"""One error hierarchy for sitewatch.

Every error says what failed and how to fix it. Each class also inherits the built-in
exception a Python user would expect (``ValueError``, ``LookupError``, …) so generic
``except`` clauses keep working.
"""

from __future__ import annotations

from pathlib import Path


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


class StoreError(SitewatchError, RuntimeError):
    """The catalog database cannot be opened, migrated or written."""


class MissingDependencyError(SitewatchError, ImportError):
    """An optional extra or system library a feature needs is not installed."""

    def __init__(self, feature: str, cause: str, fix: str) -> None:
        super().__init__(f"{feature}: {cause} ({fix})")


class SitewatchWarning(UserWarning):
    """Base of sitewatch's named warnings."""


class NotGeoreferencedWarning(SitewatchWarning):
    """An image has no georeference; it can only join sites with a pixel reference frame."""
