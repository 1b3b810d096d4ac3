"""Write a site's layers to one file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sitewatch.errors import BadInputError, ConflictError
from sitewatch.export.layers import LAYER_NAMES, site_layers
from sitewatch.formats import Layer, VectorFormat, write_layers
from sitewatch.store.catalog import Catalog


@dataclass(frozen=True)
class ExportSummary:
    """What was written: per layer, features on the map and features left out of it."""

    path: Path
    format: VectorFormat
    placed: dict[str, int]
    unplaced: dict[str, int]

    def lines(self) -> list[str]:
        """One line per layer, for the CLI."""
        out = []
        for name, n in self.placed.items():
            left = self.unplaced.get(name, 0)
            if self.format is VectorFormat.CSV:
                out.append(f"{name}: {n + left} row(s), {left} without map coordinates")
            elif left:
                out.append(f"{name}: {n} feature(s); {left} left out: no map coordinates")
            else:
                out.append(f"{name}: {n} feature(s)")
        return out


def on_map(catalog: Catalog, name: str) -> bool:
    """Whether anything of the site has map coordinates (what map exports need): its area,
    else any image footprint (the dashboard asks this for every site page)."""
    return any(site_layers(catalog, name, {"site"})[0].rows) or any(
        site_layers(catalog, name, {"footprints"})[0].rows
    )


def export_site(
    catalog: Catalog,
    name: str,
    out: str | Path,
    fmt: str | None = None,
    layers: list[str] | None = None,
) -> ExportSummary:
    """Write site ``name``'s layers to ``out`` (format by ``fmt`` or the file's suffix).

    GeoPackage, KML and KMZ take every layer by default; GeoJSON and CSV take one
    (``detections`` by default). Nothing is written when nothing can be placed on a map.
    """
    out = catalog.output(out)
    kind = VectorFormat.of(out, fmt)
    chosen = list(layers) if layers else (["detections"] if kind.one_layer else list(LAYER_NAMES))
    unknown = [n for n in chosen if n not in LAYER_NAMES]
    if unknown:
        raise BadInputError(
            "--layer", f"unknown layer {unknown[0]!r}", f"choose from {', '.join(LAYER_NAMES)}"
        )
    built: list[Layer] = site_layers(catalog, name, set(chosen))
    placed = any(layer.rows for layer in built)
    if kind is not VectorFormat.CSV and not placed and any(layer.unplaced for layer in built):
        # features exist but none can be placed: pixels would be all the file could hold
        raise ConflictError(
            f"site {name!r} has nothing on the map: its images are not georeferenced and "
            "its frame's reference image is not either; export CSV (pixels) or COCO instead"
        )
    write_layers(out, built, kind, f"sitewatch: {name}")
    return ExportSummary(
        out,
        kind,
        {layer.name: len(layer.rows) for layer in built},
        {layer.name: len(layer.unplaced) for layer in built},
    )
