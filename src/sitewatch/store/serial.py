"""Serialising writers that read before they write, on a catalog several processes share.

Two writers that each read "no link yet", "no observations yet" or "no run yet" and then
write would both write. ``serialise`` makes the second wait until the first has committed,
and then read what it wrote: on PostgreSQL (READ COMMITTED) with a transaction-scoped
advisory lock; on SQLite by taking the database's write lock at once (its driver otherwise
reads outside any transaction until the first write, so a stale read goes unnoticed).
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session


class Lock(IntEnum):
    """What is being serialised (the advisory lock's first key)."""

    SCHEMA = 7746000  # migrations: two first opens of a catalog queue
    LINKS = 7746001  # image ↔ site links (ingest, site add, explicit links)
    SITE = 7746002  # one site's derived rows (registration, monitoring), keyed by site id
    IMAGE = 7746003  # one image's detect runs, keyed by image id
    FINDINGS = 7746004  # one image's findings of the checks of the imagery, keyed by image id


def serialise(session: Session, what: Lock, key: int = 0) -> None:
    """Until this transaction ends, be the only writer of ``what`` (``key``): call it before
    the reads the writes depend on. On SQLite the whole catalog's writers queue (busy
    timeout); on PostgreSQL only those of ``what`` and ``key``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(int(what), key)))
    else:  # a write that changes nothing: the driver begins, SQLite takes its write lock
        session.execute(text("UPDATE runs SET id = id WHERE 0 = 1"))
