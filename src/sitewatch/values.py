"""The values people hand sitewatch, checked once at every entry point.

Text must be text and within a limit, URLs must be http(s), and JSON/YAML documents are read
without surprises: a regular file of bounded size, no duplicate keys, no NaN, no YAML aliases
(a "billion laughs" file expands from kilobytes to gigabytes), dates left as text for the
caller's own parser, and nesting too deep for Python's parsers refused instead of crashing.
Every refusal is a :class:`BadInputError` naming the thing and the cause.
"""

from __future__ import annotations

import json
import math
import stat
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sitewatch.errors import BadInputError, DatasetNotFoundError

MAX_NAME = 256  # provider, licence, credit, outlet, author, origin: the catalog's String(256)
MAX_TEXT = 10_000  # claim text, notes, quotes: a long article paragraph, not a dump
MAX_URL = 2_048  # what browsers and servers reliably keep
MAX_DOCUMENT_BYTES = 32 * 2**20  # a sidecar, AOI, STAC Item or claims file
_LINE_BREAKS = "\n\r\t"  # the only control characters long text may hold


def kind_of(value: object) -> str:
    """How a JSON/YAML value reads to a user ("a list", "a mapping", …)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def text(value: object, where: str, field: str | None = None, limit: int = MAX_TEXT) -> str | None:
    """``value`` as text within ``limit`` characters, or None when absent or blank.

    Non-strings are refused (a mapping must not be stored as its Python repr), and so are
    control characters; text limited to a name's length must be one line."""
    if value is None:
        return None
    label = f"{field} " if field else ""
    if not isinstance(value, str):
        raise BadInputError(where, f"{label}must be text, not {kind_of(value)}", "quote it")
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise BadInputError(
            where,
            f"{label}is {len(value):,} characters long; the limit is {limit:,}",
            "shorten it",
        )
    allowed = _LINE_BREAKS if limit > MAX_NAME else ""
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in allowed), None)
    if bad is not None:
        what = "a line break" if bad in _LINE_BREAKS else f"the control character {bad!r}"
        raise BadInputError(where, f"{label}holds {what}", "remove it")
    return value


def http_url(value: object, where: str, field: str | None = "URL") -> str | None:
    """An http(s) URL with a host, or None when absent: nothing else is stored as a link
    (a ``javascript:`` or ``data:`` URL would run in the dashboard and the report)."""
    url = text(value, where, field, MAX_URL)
    if url is None:
        return None
    label = f"{field} " if field else ""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise BadInputError(
            where,
            f"{label}{shown(url)} is not an http(s) URL",
            "give a web address starting with http:// or https://",
        )
    if any(c.isspace() for c in url):
        raise BadInputError(where, f"{label}{shown(url)} holds spaces", "encode them as %20")
    return url


def shown(value: str, width: int = 80) -> str:
    """A value as a message quotes it: its repr, cut to ``width`` characters."""
    return repr(value if len(value) <= width else value[: width - 1] + "…")


def read_document(path: Path, what: str, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """The UTF-8 text of a small input file (``what``: "sidecar", "AOI", …).

    Only regular files are opened: a FIFO or a device would block or never end."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: {what} file does not exist") from None
    except OSError as exc:
        raise BadInputError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise BadInputError(path, f"is {file_kind(info.st_mode)}, not a regular {what} file")
    if info.st_size > limit:
        raise BadInputError(
            path, f"is {_size(info.st_size)}; a {what} file may be {_size(limit)} at most"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(path, f"is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise BadInputError(path, f"cannot be read ({exc.strerror or exc})") from None


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n:,} bytes"


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


class _Refused(ValueError):
    """Raised inside a parser hook; turned into a BadInputError by the loader."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _Refused(f"key {key!r} appears twice in one object")
        data[key] = value
    return data


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows (numbers must be finite)")


MAX_DEPTH = 64  # GeoJSON needs 6 levels, a STAC Item about 10: deeper is an attack


def load_json(text_: str, where: str | Path, what: str = "JSON") -> Any:
    """Parse JSON strictly: no duplicate keys, no NaN/Infinity, at most MAX_DEPTH levels.
    ``what`` names the format in messages ("GeoJSON")."""
    try:
        data = json.loads(text_, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _Refused as exc:
        raise BadInputError(where, f"not valid {what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(where, f"not valid {what} ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:  # deeper than the parser's own stack
        raise _too_deep(where, what) from None
    return _shallow(data, where, what)


def load_yaml(text_: str, where: str | Path, what: str = "YAML") -> Any:
    """Parse YAML strictly: no aliases, no duplicate keys, dates kept as text, at most
    MAX_DEPTH levels."""
    import yaml

    try:
        data = yaml.load(text_, Loader=_strict_loader())  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}" if mark else ""
        raise BadInputError(where, f"not valid {what} ({exc.problem or exc.context}{at})") from None
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise BadInputError(where, f"not valid {what} ({' '.join(str(exc).split())})") from None
    except RecursionError:
        raise _too_deep(where, what) from None
    return _shallow(data, where, what)


def _shallow(data: Any, where: str | Path, what: str) -> Any:
    """``data`` if it nests at most MAX_DEPTH levels (recursive readers downstream, such as
    shapely's ``shape``, would otherwise blow Python's stack on a document the parser took)
    and every number in it is finite (JSON's 1e999 and YAML's .inf/.nan parse as such)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(where, what)
        if isinstance(value, float) and not math.isfinite(value):
            raise BadInputError(where, f"not valid {what}: {value} is not a finite number")
        if isinstance(value, dict | list):
            children = value.values() if isinstance(value, dict) else value
            stack.extend((c, depth + 1) for c in children)
    return data


def _too_deep(where: str | Path, what: str) -> BadInputError:
    return BadInputError(
        where, f"{what} is nested more than {MAX_DEPTH} levels deep: too deep to be data"
    )


_LOADER: type | None = None


def _strict_loader() -> type:
    """A SafeLoader that refuses aliases and repeated keys and keeps timestamps as text."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml
    from yaml.constructor import ConstructorError

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise ConstructorError(
                    None, None, "aliases (*name) are not accepted; write the value out",
                    event.start_mark,
                )  # fmt: skip
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = (key_node.tag, key_node.value) if key_node.id == "scalar" else None
                if key is not None and key in seen:
                    raise ConstructorError(
                        None, None, f"key {key_node.value!r} appears twice in one mapping",
                        key_node.start_mark,
                    )  # fmt: skip
                seen.add(key)
            return super().construct_mapping(node, deep)

    # an unquoted 2024-02-30 would crash the timestamp constructor: the caller parses dates
    StrictLoader.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    _LOADER = StrictLoader
    return _LOADER
