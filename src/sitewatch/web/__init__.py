"""The web dashboard (``sitewatch serve``): needs the ``web`` extra (FastAPI, uvicorn,
rio-tiler); imported only when asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sitewatch.errors import MissingDependencyError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from sitewatch.store.catalog import Catalog
    from sitewatch.web.security import Access


def create_app(catalog: Catalog, access: Access, **kwargs: Any) -> FastAPI:
    """The dashboard app over ``catalog`` (see :mod:`sitewatch.web.app`)."""
    try:
        from sitewatch.web.app import create_app as make
    except ImportError as exc:
        raise MissingDependencyError(
            "sitewatch serve", f"a web dependency is missing ({exc.name})",
            "pip install 'sitewatch[web]'",
        ) from None  # fmt: skip
    return make(catalog, access, **kwargs)


__all__ = ["create_app"]
