"""Verify the imagery itself: sun and shadows against the claimed time (``sun``)."""

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
    "Shadow",
    "Sun",
    "SunCheck",
    "Verdict",
    "Window",
    "check_shadow",
    "check_stated",
    "fitting_times",
    "solve_shadow",
    "sun_position",
]
