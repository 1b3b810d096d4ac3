"""GeoPackage through GDAL/OGR (pyogrio, the ``gis`` extra): one table per layer, EPSG:4326."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from sitewatch.errors import (
    LOW_SPACE,
    MissingDependencyError,
    OutputError,
    describe_os_error,
    free_bytes,
)
from sitewatch.formats.layers import FieldType, Layer

_DTYPE: dict[FieldType, Any] = {
    FieldType.STRING: object,
    FieldType.INTEGER: "int64",
    FieldType.REAL: "float64",
    FieldType.BOOLEAN: "bool",
}


def write_gpkg(path: Path, layers: Sequence[Layer], shown: Path | None = None) -> None:
    """Write every layer as a table of a new GeoPackage at ``path`` (which must not exist:
    the caller writes to a temporary name and renames it, so no half-file is left); errors
    name ``shown``, the file the user asked for."""
    shown = shown or path
    try:
        from pyogrio.raw import write
    except ImportError as exc:
        raise MissingDependencyError(
            "GeoPackage export", f"pyogrio is not installed ({exc})", "pip install 'sitewatch[gis]'"
        ) from None
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

    for i, layer in enumerate(layers):
        columns = [_column(layer, f.name, f.type) for f in layer.fields]
        try:
            write(
                str(path),
                shapely.to_wkb(np.array([r.geometry for r in layer.rows], dtype=object)),
                field_data=[c for c, _ in columns],
                field_mask=[m for _, m in columns],
                fields=[f.name for f in layer.fields],
                layer=layer.name,
                driver="GPKG",
                geometry_type=layer.geometry_type,
                crs="EPSG:4326",
                promote_to_multi=layer.geometry_type.startswith("Multi"),
                append=i > 0,
                layer_options={"DESCRIPTION": layer.title, "IDENTIFIER": layer.name},
                # GeoPackage 1.2: what GDAL before 3.7 (Debian 12, older QGIS) reads in full
                dataset_options={"VERSION": "1.2"},
            )
        except (DataSourceError, DataLayerError, FieldError, GeometryError) as exc:
            # GDAL says why (a full disk: "database or disk is full"); name the file with it
            cause, fix = describe_os_error(shown, exc)
            free = free_bytes(path)
            if free is not None and free < LOW_SPACE:  # SQLite inside GDAL says it vaguely
                cause, fix = (
                    f"the disk is full ({free / 1e6:.1f} MB free there)",
                    ("free some space and run it again"),
                )
            raise OutputError(shown, f"GDAL could not write layer {layer.name!r}: {cause}",
                              fix) from exc  # fmt: skip


_FILL = {FieldType.STRING: "", FieldType.INTEGER: 0, FieldType.REAL: 0.0, FieldType.BOOLEAN: False}


def _column(layer: Layer, name: str, kind: FieldType) -> tuple[np.ndarray, np.ndarray]:
    """A field's values and its null mask (OGR writes masked entries as NULL)."""
    values = [r.values[name] for r in layer.rows]
    mask = np.array([v is None for v in values], dtype=bool)
    filled = [_FILL[kind] if v is None else v for v in values]
    return np.array(filled, dtype=_DTYPE[kind]), mask
