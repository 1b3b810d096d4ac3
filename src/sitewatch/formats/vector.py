"""Write layers in the format a file name asks for, all or nothing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from sitewatch.errors import BadInputError
from sitewatch.files import (
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
    write_with_atomic,
)
from sitewatch.formats.layers import Layer


class VectorFormat(StrEnum):
    """Map formats (features with lon/lat), plus a flat table."""

    GEOJSON = "geojson"
    GPKG = "gpkg"
    KML = "kml"
    KMZ = "kmz"
    CSV = "csv"

    @classmethod
    def of(cls, path: Path, given: str | None = None) -> VectorFormat:
        """The format named by ``given``, else by the file's suffix."""
        text = (given or path.suffix.lstrip(".")).lower()
        text = {"json": "geojson", "geopackage": "gpkg"}.get(text, text)
        try:
            return cls(text)
        except ValueError:
            raise BadInputError(
                path, f"unknown export format {text!r}", f"use one of {', '.join(cls)}"
            ) from None

    @property
    def one_layer(self) -> bool:
        """GeoJSON and CSV files hold one layer; the others hold several."""
        return self in (VectorFormat.GEOJSON, VectorFormat.CSV)


def write_layers(path: Path, layers: Sequence[Layer], fmt: VectorFormat, title: str) -> None:
    """Write ``layers`` to ``path``; one-layer formats take exactly one."""
    if fmt.one_layer and len(layers) != 1:
        raise BadInputError(path, f"a {fmt} file holds one layer; choose one with --layer")
    if fmt is VectorFormat.GEOJSON:
        from sitewatch.formats.geojson import feature_collection

        write_json_atomic(path, feature_collection(layers[0]))
    elif fmt is VectorFormat.CSV:
        from sitewatch.formats.table import layer_csv

        write_text_atomic(path, layer_csv(layers[0]))
    elif fmt in (VectorFormat.KML, VectorFormat.KMZ):
        from sitewatch.formats.kml import kml_document, kmz_archive

        if fmt is VectorFormat.KMZ:
            write_bytes_atomic(path, kmz_archive(layers, title))
        else:
            write_bytes_atomic(path, kml_document(layers, title))
    else:
        from sitewatch.formats.gpkg import write_gpkg

        def write(tmp: Path) -> None:
            # GDAL reopens the file between layers and picks its driver by the suffix:
            # write under .gpkg whatever the user called it, then take its place
            work = tmp.with_name(tmp.name + ".gpkg")
            try:
                write_gpkg(work, layers, shown=path)
                os.replace(work, tmp)
            finally:
                for side in ("", "-journal", "-wal", "-shm"):
                    work.with_name(work.name + side).unlink(missing_ok=True)

        write_with_atomic(path, write)
