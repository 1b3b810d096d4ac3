"""Verify the imagery itself: sun and shadows against the claimed time (``sun``,
``sunchecks``), earlier images reused (``recycled``, ``reuse``), what each file says about
itself (``metadata``). Each check stores its findings with the image (``findings``)."""

from sitewatch.verify.metadata import verify_metadata
from sitewatch.verify.reuse import RecycledReport, find_recycled
from sitewatch.verify.sun import (
    Place,
    Shadow,
    Sun,
    SunCheck,
    Verdict,
    Window,
    check_shadow,
    check_stated,
    fitting_times,
    solve_shadow,
    sun_position,
)

__all__ = [
    "Place",
    "RecycledReport",
    "Shadow",
    "Sun",
    "SunCheck",
    "Verdict",
    "Window",
    "check_shadow",
    "check_stated",
    "find_recycled",
    "fitting_times",
    "solve_shadow",
    "sun_position",
    "verify_metadata",
]
