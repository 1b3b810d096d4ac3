"""Where an image came from and when it was taken: flags, sidecars, and their precedence."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sitewatch.dates import parse_datetime
from sitewatch.errors import BadInputError
from sitewatch.values import (
    MAX_NAME,
    MAX_TEXT,
    http_url,
    kind_of,
    load_json,
    read_document,
    text,
)

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


GSD_RANGE_M = (0.01, 10_000.0)  # 1 cm (drone) … 10 km (weather satellites)


def parse_gsd(value: Any, where: str) -> float:
    if isinstance(value, bool):  # float(True) is 1.0, which nobody meant
        raise BadInputError(where, f"GSD {value!r} is not a number of metres")
    try:
        gsd = float(value)
    except (TypeError, ValueError):
        raise BadInputError(where, f"GSD {value!r} is not a number of metres") from None
    return check_gsd(gsd, where)


def check_gsd(gsd: float, where: str | Path, what: str = "GSD") -> float:
    """A ground sample distance in metres that can be real (finite, within GSD_RANGE_M)."""
    low, high = GSD_RANGE_M
    if not math.isfinite(gsd) or not low <= gsd <= high:
        raise BadInputError(where, f"{what} {gsd:g} m is outside {low:g}…{high:g} m")
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
    Errors name the field as ``prefix`` + its name: ``--source-url`` when the prefix is
    ``--`` (a command-line flag), else ``source_url`` (a form field)."""

    def named(field_: str) -> str:
        return prefix + (field_.replace("_", "-") if prefix.startswith("-") else field_)

    try:
        when = Dated(parse_datetime(acquired, what=named("acquired")), "flag") if acquired else None
    except ValueError as exc:
        raise BadInputError(named("acquired"), str(exc)) from None
    return Provenance(
        acquired=when,
        provider=text(provider, named("provider"), limit=MAX_NAME),
        credit=text(credit, named("credit"), limit=MAX_NAME),
        licence=text(licence, named("licence"), limit=MAX_NAME),
        source_url=http_url(source_url, named("source_url"), field=None),
        gsd_m=parse_gsd(gsd, named("gsd")) if gsd not in (None, "") else None,
        date_is_illustrative=True if illustrative else None,
        notes=text(notes, named("notes"), limit=MAX_TEXT),
    )


def load_sidecar(path: Path) -> Provenance:
    """Read a provenance sidecar JSON (keys: acquired, provider, credit, licence, …)."""
    data = load_json(read_document(path, "sidecar"), path)
    if not isinstance(data, dict):
        raise BadInputError(path, f"sidecar must be a JSON object, not {kind_of(data)}")
    unknown = sorted(set(data) - set(SIDECAR_KEYS))
    if unknown:
        raise BadInputError(
            path,
            f"unknown sidecar key(s) {', '.join(unknown)}",
            f"allowed: {', '.join(sorted(SIDECAR_KEYS))}",
        )
    given_as: dict[str, str] = {}
    for key in data:  # "acquired" and "acquired_at" both set one field: which one is meant?
        other = given_as.setdefault(SIDECAR_KEYS[key], key)
        if other != key:
            raise BadInputError(
                path, f"sidecar gives both {other!r} and {key!r} for one field", "keep one"
            )
    values: dict[str, Any] = {}
    for key, raw in data.items():
        name = SIDECAR_KEYS[key]
        if raw is None:
            continue
        if name == "acquired":
            if not isinstance(raw, str):
                raise BadInputError(
                    path, f'{key} must be text such as "2024-04-17", not {kind_of(raw)}'
                )
            try:
                values[name] = Dated(parse_datetime(raw, what="acquisition time"), "sidecar")
            except ValueError as exc:
                raise BadInputError(path, str(exc)) from None
        elif name == "gsd_m":
            values[name] = parse_gsd(raw, str(path))
        elif name == "date_is_illustrative":
            if not isinstance(raw, bool):
                raise BadInputError(path, "date_is_illustrative must be true or false")
            values[name] = raw
        elif name == "source_url":
            values[name] = http_url(raw, str(path), key)
        else:
            values[name] = text(raw, str(path), key, MAX_TEXT if name == "notes" else MAX_NAME)
    return Provenance(**values)


def sidecar_for(image: Path) -> Path | None:
    """The automatic sidecar of an image: ``NAME.EXT.json`` or ``NAME.json`` beside it."""
    for candidate in (image.with_name(image.name + ".json"), image.with_suffix(".json")):
        if candidate.is_file() and candidate != image:
            return candidate
    return None


def date_pattern(regex: str, where: str = "--date-regex") -> re.Pattern[str]:
    """Compile a file-name date regex; it must hold a ``(?P<date>…)`` group."""
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise BadInputError(where, f"{regex!r} is not a valid regular expression ({exc})") from None
    if "date" not in pattern.groupindex:
        raise BadInputError(
            where, f"{regex!r} has no (?P<date>…) group", r"e.g. '_(?P<date>\d{8})\.tif$'"
        )
    return pattern


def date_from_name(path: Path, pattern: str | re.Pattern[str]) -> Dated | None:
    """Acquisition date from the file name with a regex holding a ``date`` group."""
    match = re.search(pattern, path.name)
    if not match or not match.groupdict().get("date"):
        return None
    try:
        return Dated(parse_datetime(match.group("date"), what="date in file name"), "file name")
    except ValueError as exc:
        raise BadInputError(path, str(exc)) from None
