"""Dates and times, one way: parse what users and files write, format what sitewatch writes.

Times are aware UTC everywhere inside sitewatch. ``parse_datetime`` reads acquisition
times (ISO-8601 date or date-time, ``YYYYMMDD``; no zone means UTC); ``parse_day`` reads
the days of claims and CLI options; ``iso`` writes a time as ``2024-04-17T09:30:00Z`` and
``day`` a time or date as ``2024-04-17``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sitewatch.errors import BadInputError
from sitewatch.values import kind_of, shown

_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}(T|$)")


def parse_datetime(text: str, *, what: str = "date") -> datetime:
    """Parse ISO-8601 (date, or date-time with Z/offset; no zone means UTC) to aware UTC.

    Raises ValueError naming ``what``: callers add the file or field it came from."""
    raw = text.strip()
    compact = _COMPACT.match(raw)
    if compact:
        raw = "-".join(compact.groups())
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"unparseable {what} {shown(text, 40)}: "
            "use ISO-8601 such as 2024-04-17 or 2024-04-17T09:30Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if not 1960 <= value.year <= datetime.now(UTC).year + 1:
        raise ValueError(
            f"implausible {what} {shown(text, 40)}: satellite imagery starts in the 1960s"
        )
    return value


def parse_day(value: str | date | None, where: str) -> date | None:
    """A day from ISO text (YYYY-MM-DD, or a date-time whose date is taken); None or ""
    stay None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise BadInputError(where, f"{kind_of(value)} is not a date (use YYYY-MM-DD)")
    day_ = value.strip()
    if _DAY.match(day_):  # a day, or a day with its time
        try:
            return datetime.fromisoformat(day_.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise BadInputError(where, f"{shown(value, 40)} is not a date (use YYYY-MM-DD)")


def iso(value: datetime | None) -> str:
    """ISO-8601 in UTC with a Z, or an empty string."""
    if value is None:
        return ""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if value.tzinfo
        else (value.strftime("%Y-%m-%dT%H:%M:%SZ"))
    )


def day(value: datetime | date | None, empty: str = "") -> str:
    """The ISO day (YYYY-MM-DD) of a time or date, or ``empty``."""
    if value is None:
        return empty
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def day_or_none(value: datetime | date | None) -> str | None:
    """The ISO day, or None (for JSON fields that are null when unknown)."""
    return day(value) if value is not None else None
