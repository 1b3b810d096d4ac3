"""`sitewatch verify metadata`: what a file says about itself against its provenance, on
real demo files and on files written with the metadata real tools write (EXIF with and
without time zones, an EXIF thumbnail, XMP from an editor, GeoTIFF acquisition tags)."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from PIL import ExifTags
from PIL import Image as PILImage
from rasterio.transform import from_origin
from typer.testing import CliRunner

from sitewatch.cli import app
from sitewatch.verify.metadata import (
    Claimed,
    FileMetadata,
    MetaVerdict,
    _xmp,
    check_metadata,
    read_metadata,
)
from tests.conftest import AIRPORT, DEMO_REF, EXAMPLES

CLAIM = Claimed(datetime(2024, 5, 27, tzinfo=UTC), "sidecar", False)


def run(ws: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--workspace", str(ws), *args])


def _picture(seed: int, size: tuple[int, int] = (640, 480)) -> PILImage.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size[1] // 16, size[0] // 16, 3), np.uint8)
    return PILImage.fromarray(small).resize(size, PILImage.Resampling.BICUBIC)


def _thumb(im: PILImage.Image) -> bytes:
    buf = io.BytesIO()
    small = im.copy()
    small.thumbnail((160, 160))
    small.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _exif_with_thumbnail(thumb: bytes, software: str = "Camera firmware 1.0") -> bytes:
    """An EXIF block as cameras write it: IFD0 (Software) and IFD1 holding a JPEG thumbnail
    (Pillow writes no IFD1, so the bytes are laid out here, little-endian)."""
    sw = software.encode() + b"\x00"
    ifd0 = 8
    ifd0_size = 2 + 12 + 4
    sw_at = ifd0 + ifd0_size
    ifd1 = sw_at + len(sw)
    ifd1_size = 2 + 3 * 12 + 4
    thumb_at = ifd1 + ifd1_size
    out = b"II*\x00" + struct.pack("<I", ifd0)
    out += struct.pack("<H", 1) + struct.pack("<HHII", 305, 2, len(sw), sw_at)
    out += struct.pack("<I", ifd1) + sw
    out += struct.pack("<H", 3)
    out += struct.pack("<HHII", 259, 3, 1, 6)  # compression: JPEG
    out += struct.pack("<HHII", 513, 4, 1, thumb_at)
    out += struct.pack("<HHII", 514, 4, 1, len(thumb))
    out += struct.pack("<I", 0) + thumb
    return b"Exif\x00\x00" + out


def _save(im: PILImage.Image, path: Path, **kwargs) -> Path:  # type: ignore[no-untyped-def]
    im.save(path, "JPEG", quality=90, **kwargs)
    return path


def _verdicts(lines) -> list[str]:  # type: ignore[no-untyped-def]
    return [line.verdict for line in lines]


def test_the_demo_repost_says_it_was_edited_and_taken_before_its_date(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_repost", EXAMPLES / "recycled" / "make_repost.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    lines = check_metadata(read_metadata(script.main(str(tmp_path))), CLAIM)
    assert _verdicts(lines) == [MetaVerdict.CONTRADICTS, MetaVerdict.EDITED]
    assert lines[0].text.startswith("EXIF DateTimeOriginal 2024-03-04 10:41:00 (no time zone)")
    assert "before the acquisition claimed, 2024-05-27" in lines[0].text
    assert "Adobe Photoshop 25.1" in lines[1].text
    # an illustrative date claims nothing for the file's dates to contradict
    loose = Claimed(CLAIM.acquired_at, "sidecar", True)
    assert _verdicts(check_metadata(read_metadata(tmp_path / script.NAME), loose)) == [
        MetaVerdict.EDITED
    ]


def test_a_stripped_file_has_nothing_to_check() -> None:
    lines = check_metadata(read_metadata(DEMO_REF), CLAIM)
    assert _verdicts(lines) == [MetaVerdict.NONE] and "stripped" in lines[0].text


def test_time_zones_set_how_far_a_capture_time_may_lie(tmp_path: Path) -> None:
    def file(stamp: str, offset: str | None) -> Path:
        exif = PILImage.Exif()
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        sub[ExifTags.Base.DateTimeOriginal] = stamp
        if offset:
            sub[ExifTags.Base.OffsetTimeOriginal] = offset
        return _save(_picture(1), tmp_path / f"{stamp[:10]}{offset}.jpg", exif=exif.tobytes())

    at = Claimed(datetime(2024, 5, 27, 9, 30, tzinfo=UTC), "cli", False)
    # 18:30 at UTC+09:00 is 09:30 UTC: the same moment
    same = check_metadata(read_metadata(file("2024:05:27 18:30:00", "+09:00")), at)
    assert _verdicts(same) == [MetaVerdict.AGREES]
    # the same clock reading without a zone may be anything within 14 h of it: agrees too
    loose = check_metadata(read_metadata(file("2024:05:27 18:30:00", None)), at)
    assert _verdicts(loose) == [MetaVerdict.AGREES]
    # with its zone, two hours before is a contradiction: taken before the acquisition
    off = check_metadata(read_metadata(file("2024:05:27 16:30:00", "+09:00")), at)
    assert _verdicts(off) == [MetaVerdict.CONTRADICTS] and "07:30:00 UTC" in off[0].text
    assert off[0].details["zone_known"] is True
    # two hours after is a later capture: a photograph or screenshot of it, noted
    later = check_metadata(read_metadata(file("2024:05:27 20:30:00", "+09:00")), at)
    assert _verdicts(later) == [MetaVerdict.LATER_COPY] and "11:30:00 UTC" in later[0].text
    # a claimed day alone is the whole day, not a day either side of it
    day = Claimed(datetime(2024, 1, 17, tzinfo=UTC), "cli", False)
    eve = check_metadata(read_metadata(file("2024:01:16 12:00:00", "+00:00")), day)
    assert _verdicts(eve) == [MetaVerdict.CONTRADICTS]
    noon = check_metadata(read_metadata(file("2024:01:17 12:00:00", "+00:00")), day)
    assert _verdicts(noon) == [MetaVerdict.AGREES]


def test_an_embedded_thumbnail_of_another_picture_or_shape_is_found(tmp_path: Path) -> None:
    picture = _picture(2)
    own = _save(picture, tmp_path / "own.jpg", exif=_exif_with_thumbnail(_thumb(picture)))
    meta = read_metadata(own)
    assert meta.thumbnail is not None and meta.software == {"EXIF Software": "Camera firmware 1.0"}
    gray = np.asarray(picture.convert("L"))
    assert _verdicts(check_metadata(meta, CLAIM, gray)) == [MetaVerdict.AGREES]
    # the pixels were changed after the thumbnail was written: another picture inside
    other = _save(_picture(3), tmp_path / "other.jpg", exif=_exif_with_thumbnail(_thumb(picture)))
    lines = check_metadata(read_metadata(other), CLAIM, np.asarray(_picture(3).convert("L")))
    assert _verdicts(lines) == [MetaVerdict.EDITED] and "another picture" in lines[0].text
    # cropped after: the thumbnail keeps the old shape
    crop = picture.crop((0, 0, 320, 480))
    cut = _save(crop, tmp_path / "crop.jpg", exif=_exif_with_thumbnail(_thumb(picture)))
    lines = check_metadata(read_metadata(cut), CLAIM, np.asarray(crop.convert("L")))
    assert _verdicts(lines) == [MetaVerdict.EDITED] and "cropped after" in lines[0].text


def test_xmp_from_an_editor_is_read(tmp_path: Path) -> None:
    xmp = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
      xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
     <rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/"
       xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
       xmp:CreatorTool="GIMP 2.10" xmp:CreateDate="2023-11-02T08:15:00+01:00">
      <xmp:ModifyDate>2024-05-30T10:00:00Z</xmp:ModifyDate>
      <stEvt:softwareAgent>Gimp 2.10 (Linux)</stEvt:softwareAgent>
     </rdf:Description></rdf:RDF></x:xmpmeta>"""
    path = _save(_picture(4), tmp_path / "x.jpg", xmp=xmp)
    lines = check_metadata(read_metadata(path), CLAIM)
    texts = [line.text for line in lines]
    # written (created) half a year before the acquisition it claims
    assert lines[0].verdict == MetaVerdict.CONTRADICTS
    assert texts[0].startswith("XMP xmp:CreateDate 2023-11-02 07:15:00 UTC")
    # the modify date is a later copy, not a contradiction
    assert any(t.startswith("XMP xmp:ModifyDate 2024-05-30") for t in texts)
    assert MetaVerdict.LATER_COPY in _verdicts(lines)
    edited = [line for line in lines if line.verdict == MetaVerdict.EDITED]
    assert {line.details["field"] for line in edited} == {
        "XMP xmp:CreatorTool", "XMP stEvt:softwareAgent"}  # fmt: skip


def test_gps_far_from_the_footprint_is_a_contradiction() -> None:
    centre = (37.0687, -94.4907)  # Joplin
    near = FileMetadata(gps=(37.07, -94.49), fields=3)
    far = FileMetadata(gps=(48.8566, 2.3522), fields=3)  # Paris
    at = Claimed(None, None, False, centre, 0.3)
    assert _verdicts(check_metadata(near, at)) == [MetaVerdict.AGREES]
    lines = check_metadata(far, at)
    assert _verdicts(lines) == [MetaVerdict.CONTRADICTS]
    assert "48.85660, 2.35220" in lines[0].text and "7," in lines[0].text  # ~7,500 km


def test_a_file_date_without_a_time_of_day_is_the_whole_day(tmp_path: Path) -> None:
    xmp = b'<x:xmpmeta><rdf:Description photoshop:DateCreated="2024-05-27"/></x:xmpmeta>'
    path = _save(_picture(8), tmp_path / "d.jpg", xmp=xmp)
    at = Claimed(datetime(2024, 5, 27, 16, 0, tzinfo=UTC), "cli", False)
    lines = check_metadata(read_metadata(path), at)
    assert _verdicts(lines) == [MetaVerdict.AGREES]
    assert "XMP photoshop:DateCreated" in lines[0].text  # compared, and named
    before = Claimed(datetime(2024, 5, 29, 16, 0, tzinfo=UTC), "cli", False)
    assert _verdicts(check_metadata(read_metadata(path), before)) == [MetaVerdict.CONTRADICTS]


def test_editors_are_named_only_where_software_is(tmp_path: Path) -> None:
    exif = PILImage.Exif()
    exif[ExifTags.Base.ImageDescription] = "Canvas tents; screenshot of the apron"
    exif[ExifTags.Base.Software] = "WorldView-3 L1B processor"
    path = _save(_picture(9), tmp_path / "e.jpg", exif=exif.tobytes())
    assert _verdicts(check_metadata(read_metadata(path), CLAIM)) == [MetaVerdict.AGREES]


def test_hostile_metadata_is_refused_quietly(tmp_path: Path) -> None:
    # a broken EXIF block, an XMP bomb's entities, an absurd XMP packet: read, not crashed
    bad = tmp_path / "bad.jpg"
    _save(_picture(5), bad, exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + b"\x00" * 40)
    assert isinstance(read_metadata(bad), FileMetadata)
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>' \
           b'<x:xmpmeta xmp:CreatorTool="&b;"/>' + b" " * (2 << 20)  # fmt: skip
    path = _save(_picture(6), tmp_path / "bomb.jpg", xmp=bomb[:60000])
    meta = read_metadata(path)
    assert meta.software == {"XMP xmp:CreatorTool": "&b;"}  # not expanded
    # an impossible offset and a date past the calendar's end lose those fields only
    exif = PILImage.Exif()
    exif[ExifTags.Base.Software] = "Adobe Photoshop 25.1"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2024:05:01 10:00:00"
    sub[ExifTags.Base.OffsetTimeOriginal] = "+99:00"
    far = b'<x:xmpmeta xmp:CreateDate="9999-12-31T23:00-05:00"/>'
    odd = _save(_picture(7), tmp_path / "odd.jpg", exif=exif.tobytes(), xmp=far)
    lines = check_metadata(read_metadata(odd), CLAIM)
    assert _verdicts(lines) == [MetaVerdict.EDITED]  # the editor is still seen
    # an XMP packet's fields past its first MiB are not read
    huge = (
        b"<x:xmpmeta>" + b" " * (1 << 20) + b"<xmp:CreatorTool>GIMP</xmp:CreatorTool></x:xmpmeta>"
    )
    meta = FileMetadata()
    _xmp(huge, meta)
    assert meta.software == {}
    # a thumbnail that claims a huge picture is not decoded
    small = io.BytesIO()
    PILImage.new("L", (16, 16)).save(small, "JPEG")
    data = bytearray(small.getvalue())
    sof = data.index(b"\xff\xc0")  # its frame header: claim 30,000 × 30,000 px
    data[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)
    shot = _save(_picture(8), tmp_path / "big.jpg", exif=_exif_with_thumbnail(bytes(data)))
    meta = read_metadata(shot)
    lines = check_metadata(meta, CLAIM, np.asarray(_picture(8).convert("L")))
    assert any("too large to be one" in line.text for line in lines)


def test_geotiff_acquisition_tags_against_the_date_given(tmp_path: Path) -> None:
    path = tmp_path / "scene.tif"
    grid = from_origin(360000, 4105000, 0.5, 0.5)
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "uint8",
               "crs": "EPSG:32615", "transform": grid}  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.full((1, 64, 64), 90, np.uint8))
        ds.update_tags(ACQUISITION_DATETIME="2011-05-20T16:42:11Z", TIFFTAG_SOFTWARE="GDAL")
    given = Claimed(datetime(2011, 5, 23, tzinfo=UTC), "cli", False)
    lines = check_metadata(read_metadata(path), given)
    assert _verdicts(lines) == [MetaVerdict.CONTRADICTS]
    assert lines[0].text.startswith("tag ACQUISITION_DATETIME 2011-05-20 16:42:11 UTC")
    # a date taken from that very tag agrees with it
    own = Claimed(datetime(2011, 5, 20, 16, 42, 11, tzinfo=UTC), "tag ACQUISITION_DATETIME",
                  False)  # fmt: skip
    agrees = check_metadata(read_metadata(path), own)
    assert _verdicts(agrees) == [MetaVerdict.AGREES] and agrees[0].details["date_from_file"]
    assert "read from this file (tag ACQUISITION_DATETIME)" in agrees[0].text


def test_cli_checks_a_site_and_stores_each_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run(ws, "site", "add", "apt", "--reference", str(DEMO_REF)).exit_code == 0
    assert run(ws, "ingest", str(AIRPORT), "--site", "apt").exit_code == 0
    exif = PILImage.Exif()
    exif[ExifTags.Base.Software] = "Adobe Photoshop 25.1 (Windows)"
    edited = _save(_picture(7), tmp_path / "edited.jpg", exif=exif.tobytes())
    res = run(ws, "ingest", str(edited), "--site", "apt", "--acquired", "2024-05-27")
    assert res.exit_code == 0, res.output
    res = run(ws, "verify", "metadata", "--site", "apt", "--json", str(tmp_path / "m.json"))
    assert res.exit_code == 0, res.output
    assert "edited.jpg: edited — EXIF Software says 'Adobe Photoshop 25.1" in res.output
    assert res.output.count("no metadata to check") == 5  # the Airbus scenes carry none
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["method"] == "metadata-1" and len(data["images"]) == 6
    shown = run(ws, "site", "show", "apt").output
    assert "verify metadata: edited.jpg: edited" in shown
    # run again: the image's findings are replaced, not doubled
    assert run(ws, "verify", "metadata", str(edited)).exit_code == 0
    assert run(ws, "site", "show", "apt").output.count("verify metadata: edited.jpg") == 1
    for args, words in (
        (["--site", "apt", str(edited)], "given with images"),
        ([str(tmp_path / "nowhere.jpg")], "no such file"),
        (["--site", "apt", "--json", str(tmp_path)], "is a folder"),
    ):
        res = run(ws, "verify", "metadata", *args)
        assert res.exit_code != 0 and words in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1, res.output


# a metadata run killed (SIGKILL) inside its storing transaction, after the first image's
# findings were replaced and before the second's
KILLED_WHILE_STORING = """
import os, signal, sys
import sitewatch.verify.findings as findings
from sitewatch import Catalog
from sitewatch.verify import verify_metadata

original, calls = findings.replace_findings, []

def replace_then_die(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

findings.replace_findings = replace_then_die
verify_metadata(Catalog(sys.argv[1]), site="apt")
"""


def _stored(catalog) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from sitewatch.store.models import Finding, Image

    with catalog.session() as s:
        rows = s.execute(select(Image.original_name, Finding.check, Finding.verdict)
                         .join(Finding, Finding.image_id == Image.id)
                         .order_by(Image.original_name, Finding.id)).all()  # fmt: skip
    return [tuple(r) for r in rows]


def test_killed_or_concurrent_runs_leave_each_image_one_set_of_findings(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import threading

    from sitewatch import Catalog, add_frame_site
    from sitewatch.ingest import IngestOptions, ingest
    from sitewatch.verify import verify_metadata

    catalog = Catalog(tmp_path / "ws")
    add_frame_site(catalog, "apt", str(DEMO_REF))
    assert ingest(catalog, [AIRPORT], IngestOptions(site="apt")).ok
    verify_metadata(catalog, site="apt")
    kept = _stored(catalog)
    assert len(kept) == 5 and {v for _n, _c, v in kept} == {MetaVerdict.NONE.value}
    catalog.close()
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_STORING, str(tmp_path / "ws")],
                          capture_output=True, timeout=300)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    reopened = Catalog(tmp_path / "ws")  # closes the dead process's run
    assert _stored(reopened) == kept  # nothing half-replaced
    # two runs at once on one catalog: each image ends with one set, not two
    other = Catalog(tmp_path / "ws")
    errors: list[BaseException] = []

    def check(cat: Catalog) -> None:
        try:
            verify_metadata(cat, site="apt")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=check, args=(c,)) for c in (reopened, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert _stored(reopened) == kept
    other.close()
    reopened.close()


def test_a_pixel_size_stated_at_ingest_is_checked_against_the_georeference(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    grid = from_origin(360000, 4105000, 0.5, 0.5)  # 0.5 m pixels in UTM 15N
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "uint8",
               "crs": "EPSG:32615", "transform": grid}  # fmt: skip
    names = {}
    for stated, seed in (("1.0", 1), ("0.55", 2)):
        path = tmp_path / f"stated-{stated}.tif"
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(np.full((1, 64, 64), 80 + seed, np.uint8))
        res = run(ws, "ingest", str(path), "--acquired", "2024-05-27", "--gsd", stated)
        assert res.exit_code == 0, res.output
        names[stated] = path
    res = run(ws, "verify", "metadata", *map(str, names.values()))
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert ("stated-1.0.tif: contradicts its provenance — the provenance states a 1 m pixel; "
            "the file's georeference (geotransform) gives 0.50 m") in text  # fmt: skip
    assert "stated-0.55.tif: no mismatch found" in text  # within 25 %: the same pixel
