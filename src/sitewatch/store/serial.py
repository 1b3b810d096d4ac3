"""Serialising writers that read before they write, on a catalog several processes share.

SQLite has one writer at a time: a transaction that read and then writes fails ("database
is locked") rather than acting on a stale read. PostgreSQL lets such transactions run side by
side (READ COMMITTED), so two that each read "no link yet" or "no observations yet" would both
write. ``serialise`` takes a transaction-scoped advisory lock there: the second waits for the
first to commit and then reads what it wrote.
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session


class Lock(IntEnum):
    """What is being serialised (the advisory lock's first key)."""

    LINKS = 7746001  # image ↔ site links (ingest, site add, explicit links)
    SITE = 7746002  # one site's derived rows (monitoring), keyed by site id


def serialise(session: Session, what: Lock, key: int = 0) -> None:
    """Until this transaction ends, be the only writer of ``what`` (``key``) on PostgreSQL;
    a no-op on SQLite, whose single writer already is."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(int(what), key)))
