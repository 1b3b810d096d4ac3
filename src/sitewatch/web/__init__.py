"""The web dashboard (``sitewatch serve``): needs the ``web`` extra (FastAPI, uvicorn,
rio-tiler); imported only when asked for."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from sitewatch.errors import BadInputError, MissingDependencyError

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


def listen_port(host: str, port: str) -> int:
    """``port`` as a TCP port ``host`` can listen on now; else one line naming it and why."""
    text = port.strip()
    # isascii: str.isdigit() takes "²" and other digits int() refuses
    number = int(text) if text.isascii() and text.isdigit() else -1
    if not 1 <= number <= 65535:
        raise BadInputError(f"--port {port[:20]}", "not a TCP port (use a number, 1 to 65535)")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, number, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:  # in use, not allowed, or not an address of this machine
        cause = exc.strerror or str(exc)
        raise BadInputError(
            f"{host[:100]} port {number}", f"cannot listen there ({cause})"
        ) from None
    return number


__all__ = ["create_app", "listen_port"]
