"""Read xView labels: one GeoJSON FeatureCollection for many GeoTIFF chips.

Each feature's ``properties`` carry ``image_id`` (the chip's file name), ``type_id`` (a
number; ``XVIEW_CLASSES`` names them) and ``bounds_imcoords`` (``"x0,y0,x1,y1"`` in chip
pixels). The geometry is lon/lat (Polygon in most features, other types in some) and is not
used: the pixel bounds are what the chips were labelled in. The released file also holds
type ids outside the published 60 classes (75 and 82) and boxes with no area; both are
counted in ``skipped``, not trained on.
"""

from __future__ import annotations

import math
from pathlib import Path

from sitewatch.errors import BadInputError
from sitewatch.formats.annotations import AnnotatedSet, BoxRecord, ImageMeta, read_text
from sitewatch.values import load_json

# xView 1.0 class names by type_id (xview_class_labels.txt)
XVIEW_CLASSES: dict[int, str] = {
    11: "Fixed-wing Aircraft", 12: "Small Aircraft", 13: "Cargo Plane", 15: "Helicopter",
    17: "Passenger Vehicle", 18: "Small Car", 19: "Bus", 20: "Pickup Truck",
    21: "Utility Truck", 23: "Truck", 24: "Cargo Truck", 25: "Truck w/Box",
    26: "Truck Tractor", 27: "Trailer", 28: "Truck w/Flatbed", 29: "Truck w/Liquid",
    32: "Crane Truck", 33: "Railway Vehicle", 34: "Passenger Car", 35: "Cargo Car",
    36: "Flat Car", 37: "Tank car", 38: "Locomotive", 40: "Maritime Vessel", 41: "Motorboat",
    42: "Sailboat", 44: "Tugboat", 45: "Barge", 47: "Fishing Vessel", 49: "Ferry", 50: "Yacht",
    51: "Container Ship", 52: "Oil Tanker", 53: "Engineering Vehicle", 54: "Tower crane",
    55: "Container Crane", 56: "Reach Stacker", 57: "Straddle Carrier", 59: "Mobile Crane",
    60: "Dump Truck", 61: "Haul Truck", 62: "Scraper/Tractor", 63: "Front loader/Bulldozer",
    64: "Excavator", 65: "Cement Mixer", 66: "Ground Grader", 71: "Hut/Tent", 72: "Shed",
    73: "Building", 74: "Aircraft Hangar", 76: "Damaged Building", 77: "Facility",
    79: "Construction Site", 83: "Vehicle Lot", 84: "Helipad", 86: "Storage Tank",
    89: "Shipping container lot", 91: "Shipping Container", 93: "Pylon", 94: "Tower",
}  # fmt: skip


def read_xview(path: Path) -> AnnotatedSet:
    """Boxes of every chip named in the GeoJSON (chips with no valid box are kept, empty)."""
    data = load_json(read_text(path, "xView GeoJSON"), path, "xView GeoJSON")
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or data.get("type") != "FeatureCollection":
        raise BadInputError(path, "not a GeoJSON FeatureCollection with a 'features' list")
    out = AnnotatedSet({}, [])
    for i, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise BadInputError(path, f"feature {i} has no properties.image_id (no properties)")
        image = props.get("image_id")
        if not isinstance(image, str):
            raise BadInputError(path, f"feature {i} has no properties.image_id (a chip's name)")
        if not image.strip():
            raise BadInputError(path, f"feature {i}: properties.image_id is empty (a chip's name)")
        out.images.setdefault(image, ImageMeta(image))
        type_id = _type_id(path, i, props.get("type_id"))
        try:
            x0, y0, x1, y1 = (float(v) for v in str(props["bounds_imcoords"]).split(","))
        except (KeyError, ValueError):
            raise BadInputError(path, f"feature {i} needs bounds_imcoords 'x0,y0,x1,y1'") from None
        name = XVIEW_CLASSES.get(type_id)
        if name is None:
            out.skip(f"type_id {type_id} is not an xView class")
            continue
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 <= x0 or y1 <= y0:
            out.skip("box with no area")
            continue
        if x1 <= 0 or y1 <= 0:  # clipped to the chip, nothing would be left
            out.skip("box outside the chip")
            continue
        fid = props.get("feature_id")
        out.boxes.append(
            BoxRecord(
                image, name, max(x0, 0.0), max(y0, 0.0), x1, y1, None if fid is None else str(fid)
            )
        )
    return out


def _type_id(path: Path, i: int, value: object) -> int:
    """A feature's type_id: a whole number, or text holding one (true/false is no type)."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    elif isinstance(value, float) and value.is_integer():  # 18.0 yes, 11.5 and inf no
        return int(value)
    got = "missing" if value is None else repr(value)[:40]
    raise BadInputError(path, f"feature {i} needs a whole-number type_id (got {got})")
