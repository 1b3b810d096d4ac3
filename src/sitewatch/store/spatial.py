"""Stored map geometry and the spatial questions asked of it, on both backends.

A map geometry (EPSG:4326) is WKT text on SQLite and a PostGIS ``geometry`` with a GiST
index on PostgreSQL. Either way the ORM attribute holds shapely's WKT (read back from WKB on
PostGIS, so the doubles survive exactly), and every spatial filter goes through this module:
on PostGIS it runs in the database, on SQLite it returns no SQL and the caller's exact
shapely test does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shapely
from sqlalchemy import ColumnElement, Text, func
from sqlalchemy.types import TypeEngine, UserDefinedType

SRID = 4326
POSTGIS_TABLES = frozenset({"spatial_ref_sys"})  # the extension's own, not the catalog's


class PostGISGeometry(UserDefinedType[str]):
    """``geometry(Geometry,4326)``: bound from WKT, read as WKB, handed to Python as WKT."""

    cache_ok = True

    def __init__(self, *_modifiers: Any, **_kw: Any) -> None:
        """Reflection passes the column's modifiers ("Geometry", "4326"): always these."""

    def get_col_spec(self, **_kw: Any) -> str:
        return f"geometry(Geometry,{SRID})"

    def bind_expression(self, bindvalue: Any) -> Any:
        return func.ST_GeomFromText(bindvalue, SRID, type_=self)

    def column_expression(self, colexpr: Any) -> Any:
        return func.ST_AsBinary(colexpr, type_=self)

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], str | None]:
        def process(value: Any) -> str | None:
            return None if value is None else shapely.from_wkb(bytes(value)).wkt

        return process


# the column type of every map geometry in the catalog
MAP_GEOMETRY: TypeEngine[str] = Text().with_variant(PostGISGeometry(), "postgresql")


def register_reflection() -> None:
    """Let SQLAlchemy's PostgreSQL reflection (Alembic's schema comparison) name the type."""
    from sqlalchemy.dialects.postgresql.base import ischema_names

    ischema_names.setdefault("geometry", PostGISGeometry)


def overlapping(column: Any, wkt: str, dialect: str) -> ColumnElement[bool] | None:
    """A filter for rows whose ``column`` geometry may share area with ``wkt``: on PostGIS
    the index-assisted ``ST_Intersects`` (candidates; touching edges included, so the
    caller keeps its exact area test), None on SQLite (no spatial SQL: test every row)."""
    if dialect != "postgresql":
        return None
    return func.ST_Intersects(column, func.ST_GeomFromText(wkt, SRID))
