"""Who may do what: reads are open on a loopback address, everything else needs the token.

The token reaches the server as ``Authorization: Bearer …``, an ``X-Sitewatch-Token`` header,
or the ``sitewatch_token`` cookie that opening any page with ``?token=…`` sets (HttpOnly,
SameSite=Strict, so another site cannot send it). Writes are checked before the request body
is read, so an unauthenticated upload costs the server nothing.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

COOKIE = "sitewatch_token"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def presented_token(headers: dict[str, str] | object, cookies: dict[str, str]) -> str | None:
    """The token a request carries, from whichever place it was put."""
    get = headers.get  # type: ignore[attr-defined]
    auth = get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return get("x-sitewatch-token") or cookies.get(COOKIE)
