"""Recognise a file's kind from its first bytes, not its name."""

from __future__ import annotations

import stat
from pathlib import Path

from sitewatch.errors import BadInputError
from sitewatch.values import file_kind, load_json, read_document

RASTER_SUFFIXES = {".tif", ".tiff", ".jp2", ".jpg", ".jpeg", ".png"}

_MAGIC = (
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"),
    (b"\xffO\xffQ", "jp2"),  # raw J2K codestream
)


def sniff(path: Path) -> str:
    """Return 'tiff', 'jpeg', 'png', 'jp2' or 'stac'; raise BadInputError for anything else."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # never open a FIFO or device: it may never end
            raise BadInputError(path, f"{file_kind(info.st_mode)}, not an image file")
        size = info.st_size
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise BadInputError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if size == 0:
        raise BadInputError(path, "file is empty (0 bytes)")
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.lstrip()[:1] == b"{":
        return _sniff_json(path)
    raise BadInputError(
        path,
        "not an image: expected GeoTIFF/COG, JPEG 2000, JPEG, PNG or a STAC Item JSON",
    )


def _sniff_json(path: Path) -> str:
    data = load_json(read_document(path, "JSON"), path)
    if isinstance(data, dict) and data.get("type") == "Feature" and "stac_version" in data:
        return "stac"
    raise BadInputError(
        path, "JSON file is not a STAC Item (needs type 'Feature' and 'stac_version')"
    )
