"""Where sitewatch keeps its catalog: a workspace folder and a database URL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sitewatch.errors import BadInputError

DEFAULT_WORKSPACE = "sitewatch-data"
# a workspace whose catalog is not its own SQLite file names its database here (one line), so
# that every process and host opening the workspace reaches the same catalog
URL_FILE = "catalog.url"


@dataclass(frozen=True)
class Settings:
    """Resolved locations. ``db_url`` defaults to a SQLite file inside the workspace."""

    workspace: Path
    db_url: str

    @classmethod
    def resolve(cls, workspace: str | Path | None = None, db_url: str | None = None) -> Settings:
        """Explicit arguments win, then ``SITEWATCH_HOME`` / ``SITEWATCH_DB``, then the
        workspace's ``catalog.url``, then defaults."""
        ws = Path(workspace or os.environ.get("SITEWATCH_HOME") or DEFAULT_WORKSPACE)
        ws = ws.expanduser().resolve()
        url = (
            db_url
            or os.environ.get("SITEWATCH_DB")
            or workspace_url(ws)
            or f"sqlite:///{ws / 'catalog.sqlite'}"
        )
        return cls(workspace=ws, db_url=url)

    @property
    def image_store(self) -> Path:
        """Content-addressed copies of ingested imagery."""
        return self.workspace / "images"


def workspace_url(workspace: Path) -> str | None:
    """The database URL a workspace names in its ``catalog.url`` (None without one)."""
    path = workspace / URL_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(
            path, f"cannot read it ({type(exc).__name__})", "write the catalog's URL in it as text"
        ) from exc
    if text.startswith("sqlite:///") and not text.startswith("sqlite:////"):
        raise BadInputError(  # relative to the current folder: each process would differ
            path, "a relative SQLite path names a different file from each folder",
            "give an absolute one (sqlite:////abs/path.sqlite), or remove catalog.url",
        )  # fmt: skip
    return text or None
