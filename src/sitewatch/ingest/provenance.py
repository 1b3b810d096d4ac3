"""Where an image came from and when it was taken: flags, sidecars, and their precedence."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitewatch.errors import BadInputError

SIDECAR_KEYS = {
    "acquired": "acquired",
    "acquired_at": "acquired",
    "datetime": "acquired",
    "provider": "provider",
    "credit": "credit",
    "licence": "licence",
    "license": "licence",
    "source_url": "source_url",
    "gsd": "gsd_m",
    "gsd_m": "gsd_m",
    "date_is_illustrative": "date_is_illustrative",
    "notes": "notes",
}


@dataclass(frozen=True)
class Dated:
    """An acquisition time and where it came from (flag, sidecar, exif, tiff tag, stac…)."""

    value: datetime
    source: str


@dataclass(frozen=True)
class Provenance:
    """Provenance fields; ``None`` means 'not given here', so layers can be merged."""

    acquired: Dated | None = None
    provider: str | None = None
    credit: str | None = None
    licence: str | None = None
    source_url: str | None = None
    gsd_m: float | None = None
    date_is_illustrative: bool | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def over(self, lower: Provenance) -> Provenance:
        """This layer's fields win; missing ones are taken from ``lower``."""
        values = {
            f.name: getattr(self, f.name)
            if getattr(self, f.name) is not None
            else getattr(lower, f.name)
            for f in fields(self)
            if f.name != "extra"
        }
        return replace(self, **values, extra={**lower.extra, **self.extra})


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_datetime(text: str, *, what: str = "date") -> datetime:
    """Parse ISO-8601 (date, or date-time with Z/offset; no zone means UTC) to aware UTC."""
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
            f"unparseable {what} {text!r}: use ISO-8601 such as 2024-04-17 or 2024-04-17T09:30Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if not 1960 <= value.year <= datetime.now(UTC).year + 1:
        raise ValueError(f"implausible {what} {text!r}: satellite imagery starts in the 1960s")
    return value


def parse_gsd(value: Any, where: str) -> float:
    try:
        gsd = float(value)
    except (TypeError, ValueError):
        raise BadInputError(where, f"GSD {value!r} is not a number of metres") from None
    if not 0.01 <= gsd <= 10_000:
        raise BadInputError(where, f"GSD {gsd} m is outside 0.01…10000 m")
    return gsd


def given(
    acquired: str | None = None,
    illustrative: bool = False,
    provider: str | None = None,
    credit: str | None = None,
    licence: str | None = None,
    source_url: str | None = None,
    gsd: float | str | None = None,
    notes: str | None = None,
    prefix: str = "",
) -> Provenance:
    """Provenance typed in by the user (CLI flags, upload form): it wins over every source.
    Errors name the field as ``prefix`` + its name (``--acquired`` on the command line)."""
    field_ = f"{prefix}acquired"
    try:
        when = Dated(parse_datetime(acquired, what=field_), "flag") if acquired else None
    except ValueError as exc:
        raise BadInputError(field_, str(exc)) from None
    return Provenance(
        acquired=when,
        provider=provider or None,
        credit=credit or None,
        licence=licence or None,
        source_url=source_url or None,
        gsd_m=parse_gsd(gsd, f"{prefix}gsd") if gsd not in (None, "") else None,
        date_is_illustrative=True if illustrative else None,
        notes=notes or None,
    )


def load_sidecar(path: Path) -> Provenance:
    """Read a provenance sidecar JSON (keys: acquired, provider, credit, licence, …)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(path, f"cannot read sidecar ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise BadInputError(
            path, f"sidecar is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    if not isinstance(data, dict):
        raise BadInputError(path, "sidecar must be a JSON object")
    unknown = sorted(set(data) - set(SIDECAR_KEYS))
    if unknown:
        raise BadInputError(
            path,
            f"unknown sidecar key(s) {', '.join(unknown)}",
            f"allowed: {', '.join(sorted(SIDECAR_KEYS))}",
        )
    values: dict[str, Any] = {}
    for key, raw in data.items():
        name = SIDECAR_KEYS[key]
        if raw is None:
            continue
        if name == "acquired":
            try:
                values[name] = Dated(parse_datetime(str(raw), what="acquisition time"), "sidecar")
            except ValueError as exc:
                raise BadInputError(path, str(exc)) from None
        elif name == "gsd_m":
            values[name] = parse_gsd(raw, str(path))
        elif name == "date_is_illustrative":
            if not isinstance(raw, bool):
                raise BadInputError(path, "date_is_illustrative must be true or false")
            values[name] = raw
        else:
            values[name] = str(raw)
    return Provenance(**values)


def sidecar_for(image: Path) -> Path | None:
    """The automatic sidecar of an image: ``NAME.EXT.json`` or ``NAME.json`` beside it."""
    for candidate in (image.with_name(image.name + ".json"), image.with_suffix(".json")):
        if candidate.is_file() and candidate != image:
            return candidate
    return None


def date_from_name(path: Path, pattern: str) -> Dated | None:
    """Acquisition date from the file name with a regex holding a ``date`` group."""
    match = re.search(pattern, path.name)
    if not match or not match.groupdict().get("date"):
        return None
    try:
        return Dated(parse_datetime(match.group("date"), what="date in file name"), "file name")
    except ValueError as exc:
        raise BadInputError(path, str(exc)) from None
