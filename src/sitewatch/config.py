"""Where sitewatch keeps its catalog: a workspace folder and a database URL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WORKSPACE = "sitewatch-data"


@dataclass(frozen=True)
class Settings:
    """Resolved locations. ``db_url`` defaults to a SQLite file inside the workspace."""

    workspace: Path
    db_url: str

    @classmethod
    def resolve(cls, workspace: str | Path | None = None, db_url: str | None = None) -> Settings:
        """Explicit arguments win, then ``SITEWATCH_HOME`` / ``SITEWATCH_DB``, then defaults."""
        ws = Path(workspace or os.environ.get("SITEWATCH_HOME") or DEFAULT_WORKSPACE)
        ws = ws.expanduser().resolve()
        url = db_url or os.environ.get("SITEWATCH_DB") or f"sqlite:///{ws / 'catalog.sqlite'}"
        return cls(workspace=ws, db_url=url)

    @property
    def image_store(self) -> Path:
        """Content-addressed copies of ingested imagery."""
        return self.workspace / "images"
