"""Who may do what: reads are open on a loopback address, everything else needs the token.

The token reaches the server as ``Authorization: Bearer …``, an ``X-Sitewatch-Token`` header,
or the ``sitewatch_token`` cookie that opening any page with ``?token=…`` sets (HttpOnly,
SameSite=Strict). Writes are checked before the request body is read, so an unauthenticated
upload costs the server nothing.

SameSite does not separate ports: a page served by any other program on 127.0.0.1 is
"same-site" and its requests carry the cookie. So a browser request from another origin
(its ``Origin``, else ``Sec-Fetch-Site``) is refused on every write and every ``/api/`` read
(reports and exports cost seconds of CPU); scripts that send neither header are not browsers
and need the token as before. Every response carries a Content-Security-Policy without inline
script, and headers against framing and MIME sniffing.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from starlette.datastructures import URL, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "sitewatch_token"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    token: str
    open_reads: bool  # reads need no token (the server listens on loopback only)
    max_upload_bytes: int = 2 * 1024**3

    @classmethod
    def for_host(cls, host: str, token: str | None = None, max_upload_mb: int = 2048) -> Access:
        """A random token unless one is given; reads open only on a loopback address."""
        return cls(token or secrets.token_urlsafe(24), is_loopback(host), max_upload_mb * 1024**2)

    def check(self, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(
            presented.encode("utf-8", "replace"), self.token.encode()
        )

    def allows(self, method: str) -> bool:
        """Whether a request with this method may go without the token."""
        return self.open_reads and method in READ_METHODS


def presented_token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries, from whichever place it was put."""
    get = headers.get
    auth = get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return get("x-sitewatch-token") or cookies.get(COOKIE)


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    return scheme, (host or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def cross_origin(headers: Mapping[str, str], own: URL) -> str | None:
    """Why a browser request from another origin than ``own`` (the address it was sent to)
    is refused, or None to let it through.

    ``Origin`` must be this server's own scheme, host and port; without it, ``Sec-Fetch-Site``
    must not name another site. A request with neither is not a browser's (curl, a script)
    and passes; the token check still applies to it.
    """
    here = _origin(own.scheme, own.hostname, own.port)
    origin = headers.get("origin")
    if origin is not None:
        try:
            parts = urlsplit(origin)
            theirs = _origin(parts.scheme, parts.hostname, parts.port)
        except ValueError:
            theirs = None
        if theirs == here:
            return None
        return (
            f"cross-origin request refused: Origin {origin[:100]!r} is not this server's "
            f"({own.scheme}://{own.netloc}); use the dashboard's own pages"
        )
    site = headers.get("sec-fetch-site")
    if site in ("cross-site", "same-site"):
        return f"cross-origin request refused: sent by a page of another origin ({site})"
    return None


def local_target(path: str, query: Iterable[tuple[str, str]]) -> str:
    """A redirect target on this server: ``path`` without leading slashes, backslashes or
    control characters (``//host``, ``/\\host`` would leave it), percent-encoded, plus
    ``query``."""
    clean = "/" + re.sub(r"^[/\\\x00-\x20]+", "", path)
    items = list(query)
    return quote(clean, safe="/:@!$&'()*+,;=~") + (f"?{urlencode(items)}" if items else "")


class SecurityHeaders:
    """ASGI middleware: :data:`HEADERS` on every HTTP response (unless a route set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
