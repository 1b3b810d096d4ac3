"""What a file says about itself, against the provenance given at ingest.

Read: EXIF (capture and file times, time-zone offsets, software, GPS, the embedded
thumbnail), XMP (create, modify and metadata dates, creator tool, the editing history's
software agents) and TIFF/GeoTIFF tags (the acquisition-time tags ingest reads, the file's
own time stamp, software). Compared, one line per mismatch with both values:

- any time the file gives that falls *before* the acquisition claimed is a contradiction
  (no picture is taken, and no copy made, before the acquisition);
- an acquisition time (GeoTIFF tags) that differs from the claimed one is a contradiction;
  a capture or file time *after* it is a later copy (products, re-saves, screenshots and
  photographs of a screen are made later) and is only noted;
- a pixel size stated at ingest far (> 25 %) from the one the file's georeference gives is a
  contradiction;
- editing software named in Software, CreatorTool or the editing history says the pixels
  were edited;
- an embedded thumbnail that shows another picture, or another shape, than the image says
  it was changed after the thumbnail was written;
- EXIF GPS far from the image's footprint is a contradiction.

Metadata is easy to strip or rewrite: agreement is weak evidence, a mismatch a question to
put to the source. A file with none (social media and screenshots strip it) says nothing.
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.dates import day_only, file_stamp, iso
from sitewatch.store.catalog import Catalog

METHOD = "metadata-1"  # recorded with every finding: change it when a rule below changes
# editing, painting and screen-capture software: their name in Software, CreatorTool or an
# editing history says the pixels passed through them
EDITORS = re.compile(
    r"\b(photoshop|lightroom|gimp|affinity|pixelmator|paint\.net|snapseed|canva|picsart|"
    r"facetune|acdsee|corel|paintshop|capture one|darktable|rawtherapee|luminar|photopea|"
    r"fotor|befunky|polarr|vsco|snipping tool|screenshot|greenshot|sharex|lightshot|"
    r"screencapture|skitch)\b",
    re.IGNORECASE,
)
UNKNOWN_ZONE = timedelta(hours=14)  # the widest UTC offset: a time without zone is this loose
SAME_TIME = timedelta(minutes=1)
THUMB_CORRELATION = 0.80  # below: the thumbnail shows another picture
THUMB_ASPECT = 0.05  # relative difference of shape beyond which it was cropped after
GPS_FAR_KM = 5.0  # beyond the footprint's radius plus this: another place
MAX_XMP = 1 << 20  # XMP packets beyond this are not read (absurd sizes)
MAX_THUMBNAIL = 1024  # px on a side: an EXIF thumbnail is 160 px or so
GSD_TOLERANCE = 0.25  # a stated pixel size this far from the georeference's is another one


class MetaVerdict(StrEnum):
    """What one line of the metadata check says about the image."""

    CONTRADICTS = "contradicts its provenance"
    EDITED = "edited"
    LATER_COPY = "a copy made later"
    AGREES = "no mismatch found"
    NONE = "no metadata to check"


class StampKind(StrEnum):
    """What a time a file gives is the time of."""

    ACQUISITION = "acquisition"  # the satellite's (GeoTIFF acquisition tags)
    CAPTURE = "capture"  # a camera's or screen grab's (EXIF DateTimeOriginal, …)
    FILE = "file"  # the file's making or last change


@dataclass(frozen=True)
class Stamp:
    """A time the file gives, what it is the time of, and how precise it is."""

    source: str  # e.g. "EXIF DateTimeOriginal"
    value: datetime  # UTC (read as UTC when the zone is unknown)
    zone_known: bool
    kind: StampKind
    day_only: bool = False  # a date with no time of day: the whole day

    def span(self) -> tuple[datetime, datetime]:
        """The earliest and latest UTC time it may mean."""
        slack = timedelta(0) if self.zone_known else UNKNOWN_ZONE
        end = self.value + (timedelta(days=1) if self.day_only else timedelta(0))
        return self.value - slack, end + slack


@dataclass
class FileMetadata:
    """What a file says about itself."""

    stamps: list[Stamp] = field(default_factory=list)
    software: dict[str, str] = field(default_factory=dict)  # where → value
    thumbnail: bytes | None = None
    gps: tuple[float, float] | None = None  # lat, lon
    fields: int = 0  # EXIF, XMP and TIFF fields read (0: none at all)
    unreadable: list[str] = field(default_factory=list)  # parts too malformed to read


@dataclass(frozen=True)
class Line:
    """One finding of the check: a verdict and one line with both values."""

    verdict: MetaVerdict
    text: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Claimed:
    """The provenance given at ingest that the metadata is checked against."""

    acquired_at: datetime | None
    acquired_source: str | None  # where the date came from ("exif": from this very file)
    illustrative: bool
    centre: tuple[float, float] | None = None  # lat, lon of the footprint's centre
    radius_km: float = 0.0  # of the footprint
    gsd_m: float | None = None  # the pixel size the file's georeference gives
    gsd_source: str | None = None
    stated_gsd_m: float | None = None  # the pixel size the provenance stated beside it


# -- reading ------------------------------------------------------------------------------
def read_metadata(path: Path) -> FileMetadata:
    """The file's EXIF, XMP and TIFF tags (pixels are not decoded). Each part is read on its
    own: a malformed one is skipped without hiding the others."""
    from PIL import Image, UnidentifiedImageError

    meta = FileMetadata()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings about odd tags and large images
        try:
            with Image.open(path) as im:
                for part in (_exif, _xmp_of, _gps_of):
                    try:
                        part(im, meta)
                    except (ValueError, TypeError, KeyError, OSError, SyntaxError,
                            struct.error, OverflowError):  # fmt: skip
                        meta.unreadable.append(part.__name__.strip("_").removesuffix("_of"))
                if im.format == "JPEG":
                    meta.thumbnail = _jpeg_thumbnail(path)
        except Image.DecompressionBombError:
            meta.unreadable.append("EXIF and XMP (too large for Pillow to open)")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            pass  # a format Pillow cannot open (JPEG 2000 without its codec): tags below
    _raster_tags(path, meta)
    meta.stamps = _unique(meta.stamps)
    return meta


_EXIF_TIMES = {  # tag → (name, offset tag, kind)
    36867: ("EXIF DateTimeOriginal", 36881, StampKind.CAPTURE),
    36868: ("EXIF DateTimeDigitized", 36882, StampKind.CAPTURE),
    306: ("EXIF DateTime", 36880, StampKind.FILE),
}
# where software is named: free text (descriptions, artists) is not searched for editors
_SOFTWARE = {305: "EXIF Software"}


def _exif(im: Any, meta: FileMetadata) -> None:
    from PIL import ExifTags

    exif = im.getexif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    tags = {**dict(exif), **dict(sub)}
    meta.fields += len(tags)
    for tag, (name, offset_tag, kind) in _EXIF_TIMES.items():
        stamp = _stamp(tags.get(tag), name, kind, tags.get(offset_tag))
        if stamp is not None:
            meta.stamps.append(stamp)
    for tag, name in _SOFTWARE.items():
        value = _text(tags.get(tag))
        if value:
            meta.software[name] = value


def _gps_of(im: Any, meta: FileMetadata) -> None:
    from PIL import ExifTags

    gps = im.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    meta.gps = _gps(gps) if gps else None


def _stamp(raw: Any, name: str, kind: StampKind, offset: Any = None) -> Stamp | None:
    """A time from a tag (EXIF's or ISO-8601 text), or None if it is none or unreadable."""
    text = _text(raw)
    if not text:
        return None
    try:
        value, zoned = file_stamp(text, _text(offset), what=name)
    except ValueError:
        return None  # unreadable or implausible: nothing to compare
    return Stamp(name, value, zoned, kind, day_only=bool(_DAY_ONLY.fullmatch(text)))


_DAY_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}|\d{4}:\d{2}:\d{2}")


def _gps(gps: dict) -> tuple[float, float] | None:
    try:
        lat = _dms(gps[2]) * (-1 if str(gps.get(1, "N")).upper().startswith("S") else 1)
        lon = _dms(gps[4]) * (-1 if str(gps.get(3, "E")).upper().startswith("W") else 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (0.0, 0.0):
        return None
    return lat, lon


def _dms(parts: Any) -> float:
    d, m, s = (float(p) for p in parts)
    return d + m / 60 + s / 3600


_XMP_DATES = {
    "exif:DateTimeOriginal": StampKind.CAPTURE,
    "photoshop:DateCreated": StampKind.CAPTURE,
    "xmp:CreateDate": StampKind.FILE,
    "xmp:ModifyDate": StampKind.FILE,
    "xmp:MetadataDate": StampKind.FILE,
}
_XMP_TOOLS = ("xmp:CreatorTool", "stEvt:softwareAgent")


def _xmp_of(im: Any, meta: FileMetadata) -> None:
    xmp = im.info.get("xmp") or _tiff_xmp(im)
    if xmp:
        _xmp(xmp if isinstance(xmp, bytes) else str(xmp).encode(), meta)


def _xmp(packet: bytes, meta: FileMetadata) -> None:
    """Dates and tools from an XMP packet, as attributes or elements (read with patterns: no
    XML parser meets a hostile file's entities)."""
    text = packet[:MAX_XMP].decode("utf-8", "replace")
    for name, kind in _XMP_DATES.items():
        for raw in _xmp_values(text, name):
            meta.fields += 1
            stamp = _stamp(raw, f"XMP {name}", kind)
            if stamp is not None:
                meta.stamps.append(stamp)
    for name in _XMP_TOOLS:
        values = list(dict.fromkeys(_xmp_values(text, name)))
        meta.fields += len(values)
        if values:
            meta.software[f"XMP {name}"] = "; ".join(values)


def _xmp_values(text: str, name: str) -> list[str]:
    key = re.escape(name)
    found = re.findall(rf'{key}\s*=\s*"([^"]{{1,200}})"', text)
    found += re.findall(rf"<{key}>([^<]{{1,200}})</{key}>", text)
    return [v.strip() for v in found if v.strip()]


def _tiff_xmp(im: Any) -> bytes | None:
    tag = getattr(im, "tag_v2", None)
    value = tag.get(700) if tag is not None else None
    return value if isinstance(value, bytes) else None


def _raster_tags(path: Path, meta: FileMetadata) -> None:
    """TIFF/GeoTIFF (and JPEG 2000) tags as GDAL reads them: the acquisition-time tags
    ingest reads, and the file's own time stamp and software."""
    import rasterio
    from rasterio.errors import RasterioError

    from sitewatch.ingest import TIME_TAGS

    if path.suffix.lower() not in (".tif", ".tiff", ".jp2", ".j2k", ".ntf", ".nitf"):
        return
    try:
        with rasterio.open(path) as ds:
            tags = ds.tags()
    except (RasterioError, OSError):
        meta.unreadable.append("GeoTIFF tags")
        return
    meta.fields += len(tags)
    for key in TIME_TAGS:
        kind = StampKind.FILE if key == "TIFFTAG_DATETIME" else StampKind.ACQUISITION
        stamp = _stamp(tags.get(key), f"tag {key}", kind)
        if stamp is not None:
            meta.stamps.append(stamp)
    if tags.get("TIFFTAG_SOFTWARE"):
        meta.software["TIFF Software"] = tags["TIFFTAG_SOFTWARE"].strip()


def _jpeg_thumbnail(path: Path) -> bytes | None:
    """The JPEG thumbnail in the EXIF block's second directory (IFD1), if any."""
    from PIL import ExifTags, Image

    with path.open("rb") as f:
        head = f.read(1 << 17)  # APP1 is at most 64 KiB, near the start
    start = head.find(b"Exif\x00\x00")
    if start < 0:
        return None
    tiff = head[start + 6 :]
    exif = Image.Exif()
    try:
        exif.load(head[start:])
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    except (KeyError, ValueError, SyntaxError, OSError, struct.error):
        return None
    offset, length = ifd1.get(513), ifd1.get(514)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        return None
    thumb = tiff[offset : offset + length]
    return thumb if len(thumb) == length and thumb.startswith(b"\xff\xd8") else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip().rstrip("\x00").strip()
    return text or None


def _unique(stamps: list[Stamp]) -> list[Stamp]:
    seen: dict[tuple[str, datetime], Stamp] = {}
    for s in stamps:
        seen.setdefault((s.source, s.value), s)
    return list(seen.values())


# -- checking -----------------------------------------------------------------------------
def check_metadata(
    meta: FileMetadata, claimed: Claimed, gray: np.ndarray | None = None
) -> list[Line]:
    """Each mismatch between ``meta`` and the ``claimed`` provenance as one line; one line
    saying none was found (naming what was compared), or that there is nothing to compare,
    when none. ``gray`` is the image (any size) to compare an embedded thumbnail with."""
    unreadable = [
        Line(MetaVerdict.NONE, f"{part} too malformed to read: skipped", {"part": part})
        for part in meta.unreadable
    ]
    if meta.fields == 0 and meta.thumbnail is None and not _gsd(claimed):
        return unreadable or [Line(
            MetaVerdict.NONE, "no EXIF, XMP or TIFF tags: none written (provider products "
            "often carry none) or stripped (as social media and screenshots do), so nothing "
            "to compare")]  # fmt: skip
    lines = _dates(meta, claimed) + _editing(meta) + _gps_line(meta, claimed) + _gsd(claimed)
    if meta.thumbnail is not None and gray is not None:
        lines += _thumbnail(meta.thumbnail, gray)
    if not lines:
        compared = [s.source for s in meta.stamps] if _dated(claimed) else []
        compared += list(meta.software)
        if meta.gps is not None and claimed.centre is not None:
            compared.append("EXIF GPS")
        if meta.thumbnail is not None and gray is not None:
            compared.append("the embedded thumbnail")
        what = ", ".join(dict.fromkeys(compared)) or "nothing: no dates, software or place " \
            "to compare with the provenance"  # fmt: skip
        own = _dated(claimed) and (claimed.acquired_source or "").lower().startswith(
            ("exif", "tag"))  # fmt: skip
        note = f"; the claimed time was read from this file ({claimed.acquired_source}), so " \
            "its times agree with it by construction" if own else ""  # fmt: skip
        lines.append(Line(MetaVerdict.AGREES, f"no mismatch found (compared: {what}){note}",
                          {"compared": compared, "date_from_file": own}))  # fmt: skip
    return unreadable + lines


def _dated(claimed: Claimed) -> bool:
    return claimed.acquired_at is not None and not claimed.illustrative


def _dates(meta: FileMetadata, claimed: Claimed) -> list[Line]:
    """The file's times against the claimed acquisition, each as the span it may mean (a
    zone unknown: 14 h either way; a day alone: the whole day)."""
    at = claimed.acquired_at
    if at is None or claimed.illustrative:
        return []  # an illustrative date claims nothing to contradict
    first = at
    last = at + timedelta(days=1) - SAME_TIME if day_only(at) else at
    want = f"the acquisition claimed, {_claimed(at)}"
    lines = []
    for s in meta.stamps:
        early, late = s.span()
        said = f"{s.source} {_show(s)}"
        details = {"field": s.source, "kind": s.kind.value, "file": iso(s.value),
                   "claimed": iso(at), "zone_known": s.zone_known,
                   "day_only": s.day_only}  # fmt: skip
        if late < first - SAME_TIME:
            what = {StampKind.FILE: "was written", StampKind.CAPTURE: "was taken"}.get(
                s.kind, "was acquired"
            )
            lines.append(Line(MetaVerdict.CONTRADICTS, f"{said}: the file says it {what} "
                              f"before {want}", details))  # fmt: skip
        elif early > last + SAME_TIME:
            if s.kind == StampKind.ACQUISITION:
                lines.append(Line(MetaVerdict.CONTRADICTS, f"{said}: an acquisition time "
                                  f"after {want}", details))  # fmt: skip
            elif s.kind == StampKind.CAPTURE or early > last + timedelta(days=1):
                made = "captured (a photograph or screenshot of it?)" if \
                    s.kind == StampKind.CAPTURE else "made"  # fmt: skip
                lines.append(Line(MetaVerdict.LATER_COPY, f"{said}: the file was {made} "
                                  f"after {want}, as copies are", details))  # fmt: skip
    return lines


# editing software names its product in these fields (free text elsewhere is not searched)
_TOOL_FIELDS = ("EXIF Software", "XMP xmp:CreatorTool", "XMP stEvt:softwareAgent",
                "TIFF Software")  # fmt: skip


def _editing(meta: FileMetadata) -> list[Line]:
    return [
        Line(MetaVerdict.EDITED, f"{where} says {value!r}: editing or screen-capture software",
             {"field": where, "value": value})
        for where, value in meta.software.items()
        if where in _TOOL_FIELDS and EDITORS.search(value)
    ]  # fmt: skip


def _gps_line(meta: FileMetadata, claimed: Claimed) -> list[Line]:
    if meta.gps is None or claimed.centre is None:
        return []
    km = _distance_km(meta.gps, claimed.centre)
    if km <= claimed.radius_km + GPS_FAR_KM:
        return []
    lat, lon = meta.gps
    return [
        Line(
            MetaVerdict.CONTRADICTS,
            f"EXIF GPS {lat:.5f}, {lon:.5f} lies {km:,.0f} km "
            f"from the image's footprint (centre {claimed.centre[0]:.5f}, "
            f"{claimed.centre[1]:.5f})",
            {"gps": [lat, lon], "km": round(km, 1)},
        )
    ]


def _gsd(claimed: Claimed) -> list[Line]:
    """The pixel size stated at ingest against the one the file's georeference gives."""
    stated, own = claimed.stated_gsd_m, claimed.gsd_m
    if stated is None or own is None or own <= 0:
        return []
    if abs(stated / own - 1) <= GSD_TOLERANCE:
        return []
    return [Line(MetaVerdict.CONTRADICTS, f"the provenance states a {stated:g} m pixel; the "
                 f"file's georeference ({claimed.gsd_source or 'its own'}) gives {own:.2f} m",
                 {"stated_gsd_m": stated, "file_gsd_m": round(own, 4)})]  # fmt: skip


def _thumbnail(thumb: bytes, gray: np.ndarray) -> list[Line]:
    import cv2
    from PIL import Image, UnidentifiedImageError

    try:  # the size it declares first: a small file may claim a huge picture
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(thumb)) as im:
                size = im.size
    except Image.DecompressionBombError:
        size = (MAX_THUMBNAIL + 1, MAX_THUMBNAIL + 1)  # beyond Pillow's guard: a bomb
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return []
    if max(size) > MAX_THUMBNAIL:
        return [
            Line(
                MetaVerdict.NONE,
                "the embedded thumbnail claims more than "
                f"{MAX_THUMBNAIL} px on a side, too large to be one: not compared",
            )
        ]
    small = cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_GRAYSCALE)
    if small is None or min(small.shape) < 8:
        return []
    # thumbnails are often letterboxed, and images have no-data borders: both trimmed
    small, gray = _trim(small), _trim(gray)
    h, w = small.shape
    gh, gw = gray.shape[:2]
    aspect = abs((w / h) / (gw / gh) - 1)
    if aspect > THUMB_ASPECT:
        return [Line(MetaVerdict.EDITED, f"the embedded thumbnail is {w}×{h} px, a shape "
                     f"{aspect:.0%} unlike the image's {gw}×{gh}: cropped after it was written",
                     {"thumbnail": [w, h], "image": [gw, gh]})]  # fmt: skip
    shown = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA).astype(np.float64)
    a, b = small.astype(np.float64), shown
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    r = float((a * b).sum() / denom) if denom > 0 else 0.0
    if r >= THUMB_CORRELATION:
        return []
    return [Line(MetaVerdict.EDITED, f"the embedded thumbnail shows another picture "
                 f"(correlation {r:.2f} with the image): changed after it was written",
                 {"correlation": round(r, 3)})]  # fmt: skip


def _trim(img: np.ndarray) -> np.ndarray:
    """Cut uniform bars (black, white, no data) off a picture's edges."""
    rows = np.where(img.std(axis=1) > 2)[0]
    cols = np.where(img.std(axis=0) > 2)[0]
    if len(rows) < 8 or len(cols) < 8:
        return img
    return img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    from pyproj import Geod

    _f, _b, metres = Geod(ellps="WGS84").inv(a[1], a[0], b[1], b[0])
    return float(metres) / 1000


def _show(s: Stamp) -> str:
    return s.value.strftime("%Y-%m-%d %H:%M:%S UTC") if s.zone_known else (
        s.value.strftime("%Y-%m-%d %H:%M:%S") + " (no time zone)"
    )  # fmt: skip


def _claimed(at: datetime) -> str:
    return at.strftime("%Y-%m-%d") if day_only(at) else at.strftime("%Y-%m-%d %H:%M UTC")


# -- the catalog's images -----------------------------------------------------------------
@dataclass(frozen=True)
class ImageMetadata:
    """One image's metadata check: its lines, as stored with it."""

    sha256: str
    name: str
    lines: list[Line]

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "name": self.name, "findings": [
            {"verdict": line.verdict.value, "summary": line.text, "details": line.details}
            for line in self.lines]}  # fmt: skip


def verify_metadata(
    catalog: Catalog, refs: list[str] | None = None, site: str | None = None
) -> list[ImageMetadata]:
    """Check the images named (or of ``site``, or every image) against their provenance;
    each image's lines are stored as its findings, replacing those of an earlier run, all
    at once at the end (files are read outside the transaction). A file lost from the store
    is one line, not the end of the run, unless it was named."""
    from sitewatch import __version__
    from sitewatch.errors import SitewatchError
    from sitewatch.register import load_gray
    from sitewatch.store.models import VerifyCheck
    from sitewatch.verify.findings import NewFinding, checked_images, replace_findings

    params = {"images": refs or [], "site": site}
    with catalog.run("verify", METHOD, __version__, params) as run_id:
        todo: list[tuple[int, str, str, Path | None, Claimed]] = []
        with catalog.session() as s:
            for image in checked_images(catalog, s, refs, site):
                try:
                    path: Path | None = catalog.readable_path(image)
                except SitewatchError:
                    if refs:
                        raise  # an image asked about must be there
                    path = None
                todo.append((image.id, image.sha256, image.original_name, path,
                             _claimed_of(image)))  # fmt: skip
        out = []
        for image_id, sha, name, path, claimed in todo:
            if path is None:
                lines = [Line(MetaVerdict.NONE, "the file is missing from the store: run "
                              "`sitewatch check --repair`")]  # fmt: skip
            else:
                meta = read_metadata(path)
                gray = load_gray(path, 1024)[0] if meta.thumbnail is not None else None
                lines = check_metadata(meta, claimed, gray)
            out.append((image_id, ImageMetadata(sha, name, lines)))
        with catalog.session() as s:
            for image_id, checked in out:
                rows = [NewFinding(ln.verdict.value, ln.text, ln.details) for ln in checked.lines]
                replace_findings(s, image_id, VerifyCheck.METADATA, METHOD, run_id, rows)
    return [checked for _id, checked in out]


def _claimed_of(image: Any) -> Claimed:
    from sitewatch import geo

    centre, radius = None, 0.0
    if image.footprint_wgs84_wkt:
        lat, lon, radius = geo.footprint_place(image.footprint_wgs84_wkt)
        centre = (lat, lon)
    stated = (image.extra or {}).get("stated_gsd_m")
    own = image.gsd_m if image.gsd_source not in (None, "provenance") else None
    return Claimed(image.acquired_at, image.acquired_source, image.date_is_illustrative,
                   centre, radius, own, image.gsd_source,
                   float(stated) if isinstance(stated, int | float) else None)  # fmt: skip
