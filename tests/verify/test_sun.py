"""Sun position against published reference values, shadows made from the computed sun,
and `sitewatch verify sun` as a user drives it (its failures included)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod
from rasterio.transform import Affine
from typer.testing import CliRunner

from sitewatch.cli import app
from sitewatch.errors import BadInputError, MissingDependencyError
from sitewatch.verify import (
    Place,
    Shadow,
    Verdict,
    check_shadow,
    check_stated,
    fitting_times,
    solve_shadow,
    sun_position,
)
from sitewatch.verify.sun import sun_at
from tests.conftest import write_geotiff

GEOD = Geod(ellps="WGS84")
JOPLIN = Place(37.0842, -94.5133)


def run(ws: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--workspace", str(ws), *args])


def test_nrel_spa_reference_example() -> None:
    """Reda & Andreas (2004), table A5.1: 17 October 2003, 12:30:30 local (UTC−7), Golden,
    Colorado, 1,830.14 m, 820 mbar, 11 °C, ΔT 67 s → topocentric zenith 50.11162°,
    azimuth 194.34024°."""
    when = datetime(2003, 10, 17, 12, 30, 30, tzinfo=timezone(timedelta(hours=-7)))
    place = Place(39.742476, -105.1786, 1830.14)
    az, el = sun_at(place, np.array([when.timestamp()]), pressure_hpa=820, temperature_c=11,
                    delta_t_s=67)  # fmt: skip
    assert abs(az[0] - 194.34024) < 0.001 and abs((90 - el[0]) - 50.11162) < 0.001
    # with the defaults (standard atmosphere at that height, ΔT for the year): within 0.01°
    sun = sun_position(place, when)
    assert abs(sun.azimuth_deg - 194.34024) < 0.01 and abs(90 - sun.elevation_deg - 50.11162) < 0.01


def test_noon_on_the_june_solstice() -> None:
    """At local solar noon the sun stands due south of a northern mid-latitude place, at
    90° − latitude + declination (23.44° at the solstice; refraction adds ~0.01° here)."""
    place = Place(51.4769, 0.0)  # Greenwich
    times = datetime(2024, 6, 20, 11, 0, tzinfo=UTC).timestamp() + np.arange(0, 7200, 10.0)
    az, el = sun_at(place, times)
    noon = int(np.argmax(el))
    assert abs(az[noon] - 180) < 0.1
    assert abs(el[noon] - (90 - 51.4769 + 23.44)) < 0.05


def _shadow_of(place: Place, when: datetime, height: float, mark: float = 0.3) -> Shadow:
    """The shadow a ``height`` m pole casts at ``when``: its tip away from the sun."""
    sun = sun_position(place, when)
    length = height / np.tan(np.radians(sun.elevation_deg))
    lon, lat, _ = GEOD.fwd(place.lon, place.lat, (sun.azimuth_deg + 180) % 360, length)
    return Shadow((place.lon, place.lat), (lon, lat), mark, height, 0.2)


def test_a_shadow_fits_its_own_time_and_not_three_hours_later() -> None:
    when = datetime(2011, 5, 24, 15, 0, tzinfo=UTC)  # 10:00 in Joplin (UTC−5)
    shadow = _shadow_of(JOPLIN, when, height=12.0)
    ok = check_shadow(shadow, when)
    assert ok.verdict == Verdict.CONSISTENT, ok.reason
    assert ok.azimuth_difference_deg is not None and ok.azimuth_difference_deg < 0.01
    assert ok.elevation_difference_deg is not None and abs(ok.elevation_difference_deg) < 0.01
    assert shadow.azimuth_sigma_deg < 2.5  # a 12 m pole's shadow, ends marked to 0.3 m
    late = check_shadow(shadow, when + timedelta(hours=3))
    assert late.verdict == Verdict.INCONSISTENT, late.reason
    night = check_shadow(shadow, datetime(2011, 5, 24, 5, 0, tzinfo=UTC))
    assert night.verdict == Verdict.INCONSISTENT and "below the horizon" in night.reason


def test_solving_finds_the_true_time_and_no_time_in_winter() -> None:
    when = datetime(2011, 5, 24, 15, 0, tzinfo=UTC)
    shadow = _shadow_of(JOPLIN, when, height=12.0)
    found = solve_shadow(shadow, date(2011, 5, 24), date(2011, 5, 24))
    assert found.verdict == Verdict.CONSISTENT
    assert any(w.start <= when <= w.end for w in found.fits), found.fits
    # azimuth and elevation together pin the time to well under an hour
    assert all(w.end - w.start < timedelta(hours=1) for w in found.fits)
    # in December the sun never stands that high over Joplin
    winter = solve_shadow(shadow, date(2011, 12, 20), date(2011, 12, 22))
    assert winter.verdict == Verdict.INCONSISTENT and not winter.fits
    # without a height only the direction counts, and the sun passes that azimuth on other
    # days too (lower, early on a September morning), never in December (it rises further south)
    flat = Shadow(shadow.base, shadow.tip, shadow.mark_m)
    assert flat.elevation_deg is None
    september = fitting_times(JOPLIN, date(2011, 9, 1), date(2011, 9, 1), flat.azimuth_deg, 2.0)
    assert september and september[0].elevation_deg < 30
    assert not fitting_times(JOPLIN, date(2011, 12, 21), date(2011, 12, 21), flat.azimuth_deg, 2.0)


def test_a_short_shadow_cannot_tell() -> None:
    when = datetime(2011, 5, 24, 15, 0, tzinfo=UTC)
    shadow = _shadow_of(JOPLIN, when, height=0.5, mark=0.5)
    assert check_shadow(shadow, when).verdict == Verdict.CANNOT_TELL


def test_stated_angles_against_the_claimed_time() -> None:
    when = datetime(2020, 8, 31, 17, 12, tzinfo=UTC)
    sun = sun_position(JOPLIN, when)
    same = check_stated(JOPLIN, when, round(sun.azimuth_deg, 1), round(sun.elevation_deg, 1))
    assert same.verdict == Verdict.CONSISTENT, same.reason
    # the same metadata on an image said to be from two hours later
    later = check_stated(JOPLIN, when + timedelta(hours=2), sun.azimuth_deg, sun.elevation_deg)
    assert later.verdict == Verdict.INCONSISTENT
    assert check_stated(JOPLIN, when, None, None).verdict == Verdict.CANNOT_TELL
    with pytest.raises(BadInputError, match="sun azimuth"):
        check_stated(JOPLIN, when, 400.0, None)


def test_marks_in_utm_pixels_use_true_north(tmp_path: Path) -> None:
    """A shadow drawn straight up a UTM image far from its central meridian points to grid
    north, which is not true north: the azimuth must be the geodesic one."""
    from sitewatch.verify.marks import pixels_to_lonlat

    # UTM zone 15 N, 250 km east of the central meridian at ~37° N: convergence ≈ 1.7°
    transform = Affine(0.5, 0, 750_000, 0, -0.5, 4_110_000)
    path = write_geotiff(tmp_path / "utm.tif", transform=transform, width=256, height=256)
    import rasterio

    with rasterio.open(path) as ds:
        wkt, t = ds.crs.to_wkt(), list(ds.transform)[:6]
    base, tip = pixels_to_lonlat([(128, 200), (128, 100)], t, wkt, (256, 256))
    shadow = Shadow(base, tip, 0.5)
    expected, _back, dist = GEOD.inv(*tip, *base)
    assert abs(dist - 50.0) < 0.1
    assert abs(shadow.azimuth_deg - expected % 360) < 1e-6
    grid_south = 180.0  # from tip back to base, on the grid
    assert 1.0 < abs(shadow.azimuth_deg - grid_south) < 3.0


def test_cli_checks_a_shadow_and_writes_json(tmp_path: Path) -> None:
    when = datetime(2011, 5, 24, 15, 0, tzinfo=UTC)
    s = _shadow_of(JOPLIN, when, height=12.0)
    base, tip = f"{s.base[0]},{s.base[1]}", f"{s.tip[0]},{s.tip[1]}"
    out = tmp_path / "sun.json"
    args = ["--height", "12", "--mark", "0.3", "--time", "2011-05-24T15:00Z", "--json", str(out)]
    result = run(tmp_path / "ws", "verify", "sun", "--base", base, "--tip", tip, *args)
    assert result.exit_code == 0, result.output
    assert "shadow: consistent" in result.stdout
    data = json.loads(out.read_text())
    (check,) = data["checks"]
    assert check["verdict"] == "consistent" and check["method"] == "sun-spa-1"
    assert check["difference"]["azimuth_deg"] < 0.01
    result = run(tmp_path / "ws", "verify", "sun", "--base", base, "--tip", tip, "--height",
                 "12", "--time", "2011-05-24")  # a day alone: searched  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fits 2011-05-24 14:" in result.stdout or "fits 2011-05-24 15:" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "1,2", "--time", "2011-05-24T17:30Z"], "only one end"),
        (["--base", "1,x", "--tip", "1,2", "--time", "2011-05-24T17:30Z"], "is not X,Y"),
        (["--base", "1,2", "--tip", "1,2", "--time", "2011-05-24T17:30Z"], "same point"),
        (["--base", "-94.5,37.08", "--tip", "-94.5,37.0801"], "no claimed time"),
        (["--base", "-94.5,37.08", "--tip", "-94.5,37.0801", "--from", "1900-01-01", "--to",
          "2100-01-01"], "at most 3660"),
        (["--at", "95,3", "--time", "2011-05-24T17:30Z"], "latitude"),
        (["--at", "37,-94", "--time", "2011-05-24T17:30Z", "--from", "2011-05-01"],
         "one or the other"),
        (["--base", "0,0", "--tip", "10,10", "--crs", "EPSG:99999", "--time", "2011-05-24"],
         "--crs"),
        (["--at", "37,-94", "--stated-azimuth", "nan", "--time", "2011-05-24T17:30Z"],
         "sun azimuth"),
        (["--at", "37,-94"], "no time"),
        (["--at", "37,-94", "--time", "yesterday"], "unparseable --time"),
    ],
)  # fmt: skip
def test_cli_refuses_bad_input_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(tmp_path / "ws", "verify", "sun", *args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_an_image_without_georeference_has_no_north(tmp_path: Path) -> None:
    from tests.conftest import write_jpeg

    ws = tmp_path / "ws"
    jpeg = write_jpeg(tmp_path / "news.jpg", size=(200, 100), exif_time="2024:03:04 10:30:00")
    assert run(ws, "ingest", str(jpeg)).exit_code == 0
    result = run(ws, "verify", "sun", str(jpeg), "--base", "10,10", "--tip", "50,50")
    assert result.exit_code == 1 and "not georeferenced" in result.stderr, result.output


def test_a_georeferenced_image_gives_place_time_and_pixels(tmp_path: Path) -> None:
    """A shadow marked in the pixels of a north-up UTM scene (rows grow southward), drawn
    where the computed sun puts it at the image's own time: consistent, to a fraction of a
    degree; the same marks with rows and columns swapped are not."""
    from pyproj import Transformer

    ws = tmp_path / "ws"
    transform = Affine(0.5, 0, 360_000, 0, -0.5, 4_105_000)  # UTM 15 N, near Joplin
    tif = write_geotiff(tmp_path / "scene.tif", transform=transform, width=256, height=256,
                        tags={"TIFFTAG_DATETIME": "2011:05:24 15:00:00"})  # fmt: skip
    assert run(ws, "ingest", str(tif)).exit_code == 0
    to_lonlat = Transformer.from_crs("EPSG:32615", "EPSG:4326", always_xy=True)
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32615", always_xy=True)
    bx, by = 360_000 + 0.5 * 128, 4_105_000 - 0.5 * 128  # the base at pixel (128, 128)
    lon, lat = to_lonlat.transform(bx, by)
    pole = _shadow_of(Place(lat, lon), datetime(2011, 5, 24, 15, 0, tzinfo=UTC), height=20.0)
    tx, ty = to_utm.transform(*pole.tip)
    col, row = (tx - 360_000) / 0.5, (4_105_000 - ty) / 0.5
    marks = ["--base", "128,128", "--tip", f"{col:.2f},{row:.2f}", "--mark", "0.3"]
    result = run(ws, "verify", "sun", str(tif), *marks, "--json", str(tmp_path / "s.json"))
    assert result.exit_code == 0, result.output
    assert "shadow: consistent" in result.stdout, result.stdout
    (check,) = json.loads((tmp_path / "s.json").read_text())["checks"]
    assert check["difference"]["azimuth_deg"] < 0.1
    swapped = ["--base", "128,128", "--tip", f"{row:.2f},{col:.2f}", "--mark", "0.3"]
    result = run(ws, "verify", "sun", str(tif), *swapped)
    assert result.exit_code == 0 and "shadow: inconsistent" in result.stdout, result.stdout


def test_a_useless_shadow_solves_to_cannot_tell() -> None:
    """Too short to give a direction: every daylit minute would fit, which says nothing."""
    when = datetime(2011, 5, 24, 15, 0, tzinfo=UTC)
    stub = _shadow_of(JOPLIN, when, height=0.3, mark=0.5)
    assert solve_shadow(stub, date(2011, 5, 24), date(2011, 5, 24)).verdict == Verdict.CANNOT_TELL


def test_without_pvlib_one_line_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pvlib", None)
    with pytest.raises(MissingDependencyError, match=r"sitewatch\[sun\]"):
        sun_position(JOPLIN, datetime(2011, 5, 24, 17, 30, tzinfo=UTC))


def test_a_stac_item_stating_sun_angles_is_checked_against_its_time(tmp_path: Path) -> None:
    """The demo's Joplin after-scene as a STAC Item whose view extension states the sun of
    its datetime (computed here): consistent; the same angles with a datetime three hours
    later: inconsistent; an absurd angle: refused at ingest, in one line."""
    import shutil

    import pystac

    from tests.conftest import JOPLIN as JOPLIN_DEMO

    def item(folder: Path, when: datetime, azimuth: float, elevation: float) -> Path:
        folder.mkdir()
        shutil.copy(JOPLIN_DEMO / "joplin-post.tif", folder / "post.tif")
        it = pystac.Item(id=folder.name, geometry=None, bbox=None, datetime=when,
                         properties={"view:sun_azimuth": azimuth, "view:sun_elevation": elevation,
                                     "view:off_nadir": 12.5})  # fmt: skip
        it.add_asset("visual", pystac.Asset("./post.tif", media_type=pystac.MediaType.COG))
        path = folder / "item.json"
        path.write_text(json.dumps(it.to_dict(include_self_link=False)))
        return path

    when = datetime(2011, 5, 23, 16, 45, tzinfo=UTC)
    sun = sun_position(JOPLIN, when)
    az, el = round(sun.azimuth_deg, 2), round(sun.elevation_deg, 2)
    ws = tmp_path / "ws"
    good = item(tmp_path / "good", when, az, el)
    assert run(ws, "ingest", str(good)).exit_code == 0
    result = run(ws, "verify", "sun", str(tmp_path / "good" / "post.tif"))
    assert result.exit_code == 0, result.output
    assert "stated sun angles: consistent" in result.stdout, result.stdout
    ws2 = tmp_path / "ws2"
    late = item(tmp_path / "late", when + timedelta(hours=3), az, el)
    assert run(ws2, "ingest", str(late)).exit_code == 0
    result = run(ws2, "verify", "sun", str(tmp_path / "late" / "post.tif"))
    assert result.exit_code == 0 and "stated sun angles: inconsistent" in result.stdout
    bad = item(tmp_path / "bad", when, az, 95.0)
    result = run(tmp_path / "ws3", "ingest", str(bad))
    assert result.exit_code != 0 and "view:sun_elevation 95.0" in result.output, result.output
