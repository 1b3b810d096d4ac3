"""The object classes sitewatch names, and what other datasets call them.

Labels keep the class their source file gave (``Airplane`` in the Airbus set); exports and
evaluation compare classes by their canonical name, so labels and detections meet.
"""

from __future__ import annotations

from enum import StrEnum


class ObjectClass(StrEnum):
    """Classes with a fixed name (and a fixed COCO category id: their order here, from 1)."""

    AIRCRAFT = "aircraft"
    VEHICLE = "vehicle"
    SHIP = "ship"

    @property
    def coco_id(self) -> int:
        return list(ObjectClass).index(self) + 1


ALIASES: dict[str, ObjectClass] = {
    "airplane": ObjectClass.AIRCRAFT,
    "aeroplane": ObjectClass.AIRCRAFT,
    "plane": ObjectClass.AIRCRAFT,
    # Airbus labels an aircraft cut by the image edge apart; it is still an aircraft, and
    # `sitewatch eval` scores it as one
    "truncated_airplane": ObjectClass.AIRCRAFT,
    "car": ObjectClass.VEHICLE,
    "small-vehicle": ObjectClass.VEHICLE,
    "small vehicle": ObjectClass.VEHICLE,
    "vessel": ObjectClass.SHIP,
    "boat": ObjectClass.SHIP,
}


def canonical(name: str) -> str:
    """The canonical name of a class: its ``ObjectClass`` value when known, else the name
    itself in lower case."""
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key].value
    return key
