"""Plain JPEG / PNG (no georeference): shape, full decode check, EXIF time."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

from sitewatch.dates import file_stamp
from sitewatch.errors import BadInputError
from sitewatch.ingest.facts import MAX_PLAIN_PIXELS, ImageFacts, check_dimensions
from sitewatch.ingest.provenance import Dated

_MODES = {
    "1": (1, "bool"),
    "L": (1, "uint8"),
    "LA": (2, "uint8"),
    "P": (1, "uint8"),
    "RGB": (3, "uint8"),
    "RGBA": (4, "uint8"),
    "CMYK": (4, "uint8"),
    "YCbCr": (3, "uint8"),
    "I;16": (1, "uint16"),
    "I": (1, "int32"),
    "F": (1, "float32"),
}


def read_plain(path: Path) -> ImageFacts:
    """Open with Pillow and decode every byte (JPEG at 1/8 scale, which still reads them all)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                bands, dtype = _MODES.get(im.mode, (len(im.getbands()), "uint8"))
                check_dimensions(path, width, height, bands)
                if width * height > MAX_PLAIN_PIXELS:
                    raise BadInputError(
                        path,
                        f"{width}×{height} px is too large for a {im.format} file",
                        "convert it to a tiled GeoTIFF/COG so it can be read by windows",
                    )
                fmt = im.format or "unknown"
                exif_time = _exif_time(path, im)
                if fmt == "JPEG":
                    im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
                im.load()
    except UnidentifiedImageError:
        raise BadInputError(path, "not a readable image (unrecognised or corrupt header)") from None
    except Image.DecompressionBombError as exc:
        raise BadInputError(path, f"absurd dimensions ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, BadInputError):
            raise
        raise BadInputError(path, f"image data is truncated or corrupt ({exc})") from None
    return ImageFacts(
        format=fmt, width=width, height=height, bands=bands, dtype=dtype, embedded_time=exif_time
    )


def _exif_time(path: Path, im: Image.Image) -> Dated | None:
    exif = im.getexif()
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    original = ifd.get(ExifTags.Base.DateTimeOriginal)
    raw = original or exif.get(ExifTags.Base.DateTime)
    if not raw:
        return None
    offset = ifd.get(ExifTags.Base.OffsetTimeOriginal if original else ExifTags.Base.OffsetTime)
    try:
        value, zoned = file_stamp(str(raw), str(offset) if offset else None, what="EXIF time")
    except ValueError as exc:
        raise BadInputError(path, str(exc), "override it with --acquired") from None
    return Dated(value, "exif" if zoned else "exif (no time zone; UTC assumed)")
