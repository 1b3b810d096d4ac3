"""Where sitewatch keeps its catalog: a workspace folder and a database URL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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
    try:
        text = (workspace / URL_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return text or None
