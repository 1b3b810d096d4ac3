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
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 lies past the calendar's end in UTC
        raise ValueError(f"implausible {what} {shown(text, 40)}: past year 9999") from None
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


def day_only(value: datetime) -> bool:
    """Whether a time carries a day alone: midnight to the microsecond is how a date with no
    time of day is stored (ingest keeps ``2024-04-17`` as 00:00:00 UTC)."""
    return (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0)


_EXIF_STAMP = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}:\d{2}:\d{2})")
_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


def file_stamp(
    text: str, offset: str | None = None, *, what: str = "time"
) -> tuple[datetime, bool]:
    """A time a file gives about itself, as UTC, and whether its zone was known: EXIF and
    TIFF's ``YYYY:MM:DD HH:MM:SS`` (with EXIF's ``OffsetTime…`` as ``offset``, ``+HH:MM``)
    or ISO-8601 (XMP, GeoTIFF metadata). No zone is read as UTC. Raises ValueError naming
    ``what`` for anything else, an impossible offset or an implausible year."""
    raw = text.strip().rstrip("\x00").strip()
    m = _EXIF_STAMP.match(raw)
    if m:
        raw = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}"
        if offset:
            zone = offset.strip().rstrip("\x00").strip()
            if not re.fullmatch(r"[+-](0\d|1[0-4]):[0-5]\d", zone):
                raise ValueError(f"unreadable time-zone offset {shown(offset, 20)} of {what}")
            raw += zone
    known = bool(_ZONE.search(raw)) and "T" in raw
    return parse_datetime(raw, what=what), known
