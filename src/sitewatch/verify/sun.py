"""Sun and shadows: does the light in a picture fit the date and time claimed for it?

The sun's position comes from NREL's Solar Position Algorithm (Reda & Andreas 2004,
±0.0003° for years −2000…6000) as pvlib implements it: topocentric azimuth (degrees
clockwise from true north) and apparent elevation (refraction included). Two checks rest on
it, each ending in a :class:`Verdict` with its numbers:

* **stated angles** — what imagery metadata says the sun was (STAC ``view:sun_azimuth`` /
  ``view:sun_elevation``) against the position computed for the claimed time and place; with
  a claimed day and no time, the times of that day (if any) at which the sun stood there;
* **a measured shadow** — an object's base and its shadow's tip marked on flat ground (and
  the object's height, if known) give the sun's azimuth (and elevation), compared with the
  claimed time, or solved for the times that fit (the shadow-finder approach).

Base and tip both lie on the ground, so an off-nadir view does not move them by parallax
(a roof edge would); the uncertainty is the marking's, propagated, with a floor for ground
that is not quite flat and objects not quite vertical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property

import numpy as np

from sitewatch.errors import BadInputError, MissingDependencyError

METHOD = "sun-spa-1"  # recorded with every finding: change it when a rule below changes
AZIMUTH_FLOOR_DEG = 1.0  # ground not quite flat, objects not quite vertical, base hidden
ELEVATION_FLOOR_DEG = 1.0
STATED_TOLERANCE_DEG = 0.5  # scene-centre angles, rounded, over a footprint of a few km
CONSISTENT_Z = 2.0  # within 2 σ: consistent (about 95 % of honest measurements)
INCONSISTENT_Z = 3.0  # beyond 3 σ: inconsistent; in between: cannot tell
MAX_SOLVE_DAYS = 3660  # a solve over more days than this is refused (absurd ranges)
SOLVE_STEP_S = 60


class Verdict(StrEnum):
    """What a check says about the claimed date and time."""

    CONSISTENT = "consistent"
    INCONSISTENT = "inconsistent"
    CANNOT_TELL = "cannot tell"


@dataclass(frozen=True)
class Place:
    """A point on the Earth (WGS84 degrees, metres above sea level)."""

    lat: float
    lon: float
    elevation_m: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90 <= self.lat <= 90):
            raise BadInputError("latitude", f"{self.lat} is outside −90…90°")
        if not (math.isfinite(self.lon) and -180 <= self.lon <= 180):
            raise BadInputError("longitude", f"{self.lon} is outside −180…180°")
        if not (math.isfinite(self.elevation_m) and -500 <= self.elevation_m <= 9000):
            raise BadInputError("elevation", f"{self.elevation_m} m is outside −500…9,000 m")


@dataclass(frozen=True)
class Sun:
    """Where the sun stands: azimuth clockwise from true north, apparent elevation (°)."""

    azimuth_deg: float
    elevation_deg: float


def _spa() -> object:
    try:
        from pvlib import spa
    except ImportError as exc:
        raise MissingDependencyError(
            "sun position", f"pvlib is not installed ({exc})", "pip install 'sitewatch[sun]'"
        ) from None
    return spa


def sun_at(
    place: Place,
    times: np.ndarray,
    *,
    pressure_hpa: float | None = None,
    temperature_c: float = 12.0,
    delta_t_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and apparent elevation (°) at ``times`` (UNIX seconds, UTC).

    ``pressure_hpa`` defaults to the standard atmosphere at the place's elevation; refraction
    hardly depends on it above a few degrees. ``delta_t_s`` (TT − UT1) defaults to NASA's
    polynomial for the year."""
    spa = _spa()
    t = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if not np.all(np.isfinite(t)):
        raise BadInputError("time", "a time to compute the sun for is not finite")
    if pressure_hpa is None:
        pressure_hpa = 1013.25 * (1 - 2.25577e-5 * place.elevation_m) ** 5.25588
    if delta_t_s is None:
        year = datetime.fromtimestamp(float(t[0]), UTC).year
        delta_t = spa.calculate_deltat(year, 6)  # type: ignore[attr-defined]
    else:
        delta_t = delta_t_s
    out = spa.solar_position(  # type: ignore[attr-defined]
        t, place.lat, place.lon, place.elevation_m, pressure_hpa, temperature_c,
        delta_t, 0.5667, numthreads=1,
    )  # fmt: skip
    # topocentric: theta (zenith), theta0, e (elevation, refracted), e0, phi (azimuth)
    elevation, azimuth = np.asarray(out[2]), np.asarray(out[4])
    return azimuth % 360.0, elevation


def sun_position(place: Place, when: datetime, **atmosphere: float) -> Sun:
    """The sun at ``place`` at ``when`` (an aware time; a naive one is taken as UTC)."""
    az, el = sun_at(place, np.array([_unix(when)]), **atmosphere)
    return Sun(float(az[0]), float(el[0]))


def _unix(when: datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def angle_between(a: float | np.ndarray, b: float | np.ndarray) -> np.ndarray:
    """Smallest difference of two azimuths, in degrees (0…180)."""
    d = np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)
    return np.asarray(d)


@dataclass(frozen=True)
class Shadow:
    """An object's base and its shadow's tip on flat ground (WGS84 lon, lat), each marked to
    within ``mark_m`` (1 σ, metres), and the object's height above its base if known."""

    base: tuple[float, float]
    tip: tuple[float, float]
    mark_m: float
    height_m: float | None = None
    height_sigma_m: float = 0.0

    def __post_init__(self) -> None:
        for lon, lat in (self.base, self.tip):
            Place(lat, lon)  # validates the range
        if not (math.isfinite(self.mark_m) and 0 < self.mark_m < 1000):
            raise BadInputError("marking uncertainty", f"{self.mark_m} m is not in (0, 1000) m")
        if self.height_m is not None and not (
            math.isfinite(self.height_m) and 0 < self.height_m < 1000
        ):
            raise BadInputError("height", f"{self.height_m} m is not in (0, 1000) m")
        if not (math.isfinite(self.height_sigma_m) and 0 <= self.height_sigma_m < 1000):
            raise BadInputError(
                "height uncertainty", f"{self.height_sigma_m} m is not in [0, 1000) m"
            )
        if self.length_m < 1e-3:
            raise BadInputError("shadow", "its base and tip are the same point", "mark both ends")

    @property
    def place(self) -> Place:
        return Place(self.base[1], self.base[0])

    @cached_property
    def _inverse(self) -> tuple[float, float]:
        from pyproj import Geod

        # from the tip back to the base: the direction towards the sun (computed once: the
        # properties below all read it)
        fwd, _back, dist = Geod(ellps="WGS84").inv(*self.tip, *self.base)
        return float(fwd) % 360.0, float(dist)

    @property
    def length_m(self) -> float:
        return self._inverse[1]

    @property
    def azimuth_deg(self) -> float:
        """The sun's azimuth the shadow shows (the shadow points away from the sun)."""
        return self._inverse[0]

    @property
    def azimuth_sigma_deg(self) -> float:
        # two marked ends, each ±mark_m across the shadow: ±√2·mark_m over its length
        across = math.degrees(math.atan2(math.sqrt(2) * self.mark_m, self.length_m))
        return math.hypot(across, AZIMUTH_FLOOR_DEG)

    @property
    def elevation_deg(self) -> float | None:
        if self.height_m is None:
            return None
        return math.degrees(math.atan2(self.height_m, self.length_m))

    @property
    def elevation_sigma_deg(self) -> float | None:
        if self.height_m is None:
            return None
        h, length = self.height_m, self.length_m
        # d/dh and d/dL of atan(h/L), with the length's error from two marked ends
        k = 1.0 / (length**2 + h**2)
        dh, dl = length * k * self.height_sigma_m, h * k * math.sqrt(2) * self.mark_m
        return math.hypot(math.degrees(math.hypot(dh, dl)), ELEVATION_FLOOR_DEG)


@dataclass(frozen=True)
class Window:
    """A span of time (UTC) during which the sun fits, with the angles at its middle."""

    start: datetime
    end: datetime
    azimuth_deg: float
    elevation_deg: float


@dataclass(frozen=True)
class SunCheck:
    """One sun check's outcome: the verdict, why, and every number behind it."""

    verdict: Verdict
    reason: str
    method: str = METHOD
    claimed: datetime | None = None
    computed: Sun | None = None
    measured_azimuth_deg: float | None = None
    measured_azimuth_sigma_deg: float | None = None
    measured_elevation_deg: float | None = None
    measured_elevation_sigma_deg: float | None = None
    azimuth_difference_deg: float | None = None
    elevation_difference_deg: float | None = None
    fits: list[Window] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        from sitewatch.dates import iso

        def r(x: float | None) -> float | None:
            return None if x is None else round(float(x), 4)

        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "method": self.method,
            "claimed": iso(self.claimed) if self.claimed else None,
            "computed": None if self.computed is None else {
                "azimuth_deg": r(self.computed.azimuth_deg),
                "elevation_deg": r(self.computed.elevation_deg),
            },
            "measured": {
                "azimuth_deg": r(self.measured_azimuth_deg),
                "azimuth_sigma_deg": r(self.measured_azimuth_sigma_deg),
                "elevation_deg": r(self.measured_elevation_deg),
                "elevation_sigma_deg": r(self.measured_elevation_sigma_deg),
            },
            "difference": {
                "azimuth_deg": r(self.azimuth_difference_deg),
                "elevation_deg": r(self.elevation_difference_deg),
            },
            "fits": [
                {"start": iso(w.start), "end": iso(w.end),
                 "azimuth_deg": r(w.azimuth_deg), "elevation_deg": r(w.elevation_deg)}
                for w in self.fits
            ],
        }  # fmt: skip


def _verdict(zs: list[float], below_horizon: bool) -> Verdict:
    if below_horizon or any(z > INCONSISTENT_Z for z in zs):
        return Verdict.INCONSISTENT
    if all(z <= CONSISTENT_Z for z in zs):
        return Verdict.CONSISTENT
    return Verdict.CANNOT_TELL


def check_shadow(shadow: Shadow, when: datetime) -> SunCheck:
    """The shadow's sun against the sun computed for ``when`` at the shadow's place."""
    sun = sun_position(shadow.place, when)
    az, az_sd = shadow.azimuth_deg, shadow.azimuth_sigma_deg
    el, el_sd = shadow.elevation_deg, shadow.elevation_sigma_deg
    d_az = float(angle_between(az, sun.azimuth_deg))
    d_el = None if el is None else el - sun.elevation_deg
    base = {
        "claimed": when, "computed": sun, "measured_azimuth_deg": az,
        "measured_azimuth_sigma_deg": az_sd, "measured_elevation_deg": el,
        "measured_elevation_sigma_deg": el_sd, "azimuth_difference_deg": d_az,
        "elevation_difference_deg": d_el,
    }  # fmt: skip
    if sun.elevation_deg <= 0:
        reason = (
            f"the sun was below the horizon then ({sun.elevation_deg:.1f}°): "
            "no sunlit shadow can have been photographed at that time"
        )
        return SunCheck(Verdict.INCONSISTENT, reason, **base)  # type: ignore[arg-type]
    if az_sd > 30:
        reason = (
            f"the shadow is too short for its direction to be read (±{az_sd:.0f}°): "
            "mark a longer one"
        )
        return SunCheck(Verdict.CANNOT_TELL, reason, **base)  # type: ignore[arg-type]
    zs = [d_az / az_sd]
    parts = [f"shadow azimuth {az:.1f}° ± {az_sd:.1f}° vs sun {sun.azimuth_deg:.1f}° "
             f"(off by {d_az:.1f}°)"]  # fmt: skip
    if el is not None and el_sd is not None and d_el is not None:
        zs.append(abs(d_el) / el_sd)
        parts.append(f"elevation {el:.1f}° ± {el_sd:.1f}° vs {sun.elevation_deg:.1f}°")
    verdict = _verdict(zs, below_horizon=False)
    return SunCheck(verdict, "; ".join(parts), **base)  # type: ignore[arg-type]


def check_stated(
    place: Place,
    when: datetime,
    azimuth_deg: float | None,
    elevation_deg: float | None,
    tolerance_deg: float = STATED_TOLERANCE_DEG,
) -> SunCheck:
    """Sun angles stated by imagery metadata against the sun computed for ``when``."""
    if azimuth_deg is None and elevation_deg is None:
        return SunCheck(Verdict.CANNOT_TELL, "no sun angles are stated", claimed=when)
    _check_angles(azimuth_deg, elevation_deg)
    sun = sun_position(place, when)
    d_az = None if azimuth_deg is None else float(angle_between(azimuth_deg, sun.azimuth_deg))
    d_el = None if elevation_deg is None else elevation_deg - sun.elevation_deg
    zs = [abs(d) / tolerance_deg for d in (d_az, d_el) if d is not None]
    verdict = _verdict(zs, below_horizon=sun.elevation_deg <= 0)
    reason = (
        f"stated sun azimuth {_deg(azimuth_deg)}, elevation {_deg(elevation_deg)}; computed for "
        f"the claimed time {sun.azimuth_deg:.2f}°, {sun.elevation_deg:.2f}° "
        f"(tolerance {tolerance_deg}°)"
    )
    return SunCheck(
        verdict, reason, claimed=when, computed=sun,
        measured_azimuth_deg=azimuth_deg, measured_azimuth_sigma_deg=tolerance_deg,
        measured_elevation_deg=elevation_deg, measured_elevation_sigma_deg=tolerance_deg,
        azimuth_difference_deg=d_az, elevation_difference_deg=d_el,
    )  # fmt: skip


def _deg(x: float | None) -> str:
    return "not stated" if x is None else f"{x:.2f}°"


def _check_angles(azimuth_deg: float | None, elevation_deg: float | None) -> None:
    if azimuth_deg is not None and not (math.isfinite(azimuth_deg) and 0 <= azimuth_deg <= 360):
        raise BadInputError("sun azimuth", f"{azimuth_deg}° is outside 0…360°")
    if elevation_deg is not None and not (
        math.isfinite(elevation_deg) and -90 <= elevation_deg <= 90
    ):
        raise BadInputError("sun elevation", f"{elevation_deg}° is outside −90…90°")


def fitting_times(
    place: Place,
    first: date,
    last: date,
    azimuth_deg: float | None,
    azimuth_sigma_deg: float,
    elevation_deg: float | None = None,
    elevation_sigma_deg: float | None = None,
    z: float = CONSISTENT_Z,
) -> list[Window]:
    """Every span of the UTC days ``first``…``last`` during which the sun, above the
    horizon, stands within ``z`` σ of the given azimuth (and elevation), to the minute."""
    if last < first:
        raise BadInputError("days", f"the last day {last} is before the first {first}")
    days = (last - first).days + 1
    if days > MAX_SOLVE_DAYS:
        raise BadInputError(
            "days", f"{days} days to search, at most {MAX_SOLVE_DAYS}", "narrow the range"
        )
    if azimuth_deg is None and elevation_deg is None:
        raise BadInputError(
            "sun", "nothing to solve for", "give a sun azimuth, an elevation or both"
        )
    _check_angles(azimuth_deg, elevation_deg)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    windows: list[Window] = []
    for d in range(days):  # a day at a time: bounded memory for long ranges
        t0 = (start + timedelta(days=d)).timestamp()
        t = t0 + np.arange(0, 86400, SOLVE_STEP_S, dtype=np.float64)
        az, el = sun_at(place, t)
        ok = el > 0
        if azimuth_deg is not None:
            ok &= angle_between(az, azimuth_deg) <= z * azimuth_sigma_deg
        if elevation_deg is not None and elevation_sigma_deg is not None:
            ok &= np.abs(el - elevation_deg) <= z * elevation_sigma_deg
        windows += _spans(t, ok, az, el)
    return windows


def _spans(t: np.ndarray, ok: np.ndarray, az: np.ndarray, el: np.ndarray) -> list[Window]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    out = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        mid = (a + b - 1) // 2
        out.append(Window(
            datetime.fromtimestamp(float(t[a]), UTC),
            datetime.fromtimestamp(float(t[b - 1]), UTC),
            float(az[mid]), float(el[mid]),
        ))  # fmt: skip
    return out


def solve_shadow(shadow: Shadow, first: date, last: date) -> SunCheck:
    """The times of ``first``…``last`` (UTC days) that the shadow fits within 2 σ; with
    none, *inconsistent* only if no time fits within 3 σ either (the thresholds of a
    check against one time), else *cannot tell*."""
    el_sd = shadow.elevation_sigma_deg
    numbers = {
        "computed": None, "measured_azimuth_deg": shadow.azimuth_deg,
        "measured_azimuth_sigma_deg": shadow.azimuth_sigma_deg,
        "measured_elevation_deg": shadow.elevation_deg, "measured_elevation_sigma_deg": el_sd,
    }  # fmt: skip
    span = f"{first}…{last}" if last != first else str(first)
    if shadow.azimuth_sigma_deg > 30:
        reason = (f"the shadow is too short for its direction to be read "
                  f"(±{shadow.azimuth_sigma_deg:.0f}°): mark a longer one")  # fmt: skip
        return SunCheck(Verdict.CANNOT_TELL, reason, **numbers)  # type: ignore[arg-type]

    def fits(z: float) -> list[Window]:
        return fitting_times(
            shadow.place, first, last, shadow.azimuth_deg, shadow.azimuth_sigma_deg,
            shadow.elevation_deg, el_sd, z=z,
        )  # fmt: skip

    close = fits(CONSISTENT_Z)
    if close:
        reason = f"the sun stands where the shadow says during {len(close)} span(s) of {span} (UTC)"
        return SunCheck(Verdict.CONSISTENT, reason, fits=close, **numbers)  # type: ignore[arg-type]
    if fits(INCONSISTENT_Z):
        reason = (f"no time of {span} fits the shadow within {CONSISTENT_Z:g} σ, some within "
                  f"{INCONSISTENT_Z:g} σ")  # fmt: skip
        return SunCheck(Verdict.CANNOT_TELL, reason, **numbers)  # type: ignore[arg-type]
    reason = f"at no time of {span} does the sun stand where the shadow says"
    return SunCheck(Verdict.INCONSISTENT, reason, **numbers)  # type: ignore[arg-type]
