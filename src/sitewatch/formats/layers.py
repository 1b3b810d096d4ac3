"""A layer: named, typed fields and lon/lat geometries — what every vector format shares."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from sitewatch.errors import BadInputError

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
Value = str | int | float | bool | None


class FieldType(StrEnum):
    """Field types every target format has (GeoPackage, KML ExtendedData, CSV, GeoJSON)."""

    STRING = "string"
    INTEGER = "integer"
    REAL = "real"
    BOOLEAN = "boolean"


_PYTHON = {
    FieldType.STRING: (str,),
    FieldType.INTEGER: (int,),
    FieldType.REAL: (int, float),
    FieldType.BOOLEAN: (bool,),
}


@dataclass(frozen=True)
class Field:
    """A column; ``description`` says what it holds (KML carries it as the field's
    displayName). Units live in the names themselves (``_px``, ``_m``), which every format
    keeps."""

    name: str
    type: FieldType
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"field name {self.name!r}: lower-case letters, digits and _ only")

    def check(self, value: Value) -> None:
        if value is None:
            return
        ok = isinstance(value, _PYTHON[self.type]) and not (
            self.type is not FieldType.BOOLEAN and isinstance(value, bool)
        )
        if not ok:
            raise ValueError(f"field {self.name!r} ({self.type}) got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"field {self.name!r} got {value!r}: not a finite number")


@dataclass(frozen=True)
class Row:
    """One feature: a lon/lat (EPSG:4326, longitude first) geometry and its values."""

    geometry: BaseGeometry
    values: Mapping[str, Value]


@dataclass(frozen=True)
class Layer:
    """Features of one geometry kind under one schema; geometries are lon/lat degrees."""

    name: str
    title: str
    fields: tuple[Field, ...]
    shape: str = "Polygon"  # the declared OGC type: "Polygon" or "Point" (Multi* allowed)
    rows: list[Row] = field(default_factory=list)
    # features with no map coordinates (images neither georeferenced nor registered to a
    # georeferenced frame): only tables (CSV) carry them; map formats leave them out
    unplaced: list[Mapping[str, Value]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"layer name {self.name!r}: lower-case letters, digits and _ only")
        if self.shape not in ("Polygon", "Point"):
            raise ValueError(f"layer {self.name!r}: shape {self.shape!r} is not Polygon or Point")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"layer {self.name!r} repeats a field name")

    def add(self, geometry: BaseGeometry | None, **values: Value) -> None:
        """Add a feature after checking its geometry and values against the schema;
        ``geometry`` None keeps it for tables only."""
        unknown = set(values) - {f.name for f in self.fields}
        if unknown:
            raise ValueError(f"layer {self.name!r} has no field(s) {sorted(unknown)}")
        for f in self.fields:
            f.check(values.get(f.name))
        row = {f.name: values.get(f.name) for f in self.fields}
        if geometry is None:
            self.unplaced.append(row)
            return
        check_degrees(geometry, self.name)
        if geometry.geom_type.removeprefix("Multi") != self.shape:
            raise ValueError(f"layer {self.name!r} holds {self.shape}s, not {geometry.geom_type}")
        self.rows.append(Row(geometry, row))

    @property
    def geometry_type(self) -> str:
        """The layer's one OGC geometry type: Multi* once any feature has several parts
        (a polygon split at the antimeridian)."""
        multi = any(r.geometry.geom_type.startswith("Multi") for r in self.rows)
        return f"Multi{self.shape}" if multi else self.shape


def check_degrees(geometry: BaseGeometry, where: str) -> None:
    """Refuse geometries that are not finite lon/lat degrees within ±180/±90 (pixel
    coordinates, NaN). Stricter than ``geo.check_lonlat``, which reads user input that may
    use 0…360: what is written has been split at the antimeridian already."""
    if geometry.is_empty:
        raise BadInputError(where, "an empty geometry cannot be written")
    xy = shapely.get_coordinates(geometry)
    if not np.all(np.isfinite(xy)):
        raise BadInputError(where, "a geometry has non-finite coordinates")
    if (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
        raise BadInputError(
            where, "coordinates outside ±180° longitude / ±90° latitude: not lon/lat degrees"
        )
