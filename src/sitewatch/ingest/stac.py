"""STAC Items with local assets: provenance from the item, pixels from the asset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pystac

from sitewatch.dates import parse_datetime
from sitewatch.errors import BadInputError
from sitewatch.ingest.provenance import Dated, Provenance, parse_gsd
from sitewatch.values import MAX_NAME, http_url, text

RASTER_TYPES = ("image/tiff", "image/jp2", "image/jpeg", "image/png")
SKIP_ROLES = {"thumbnail", "overview", "metadata"}


@dataclass(frozen=True)
class StacAsset:
    """One raster asset of an item, resolved to a local file, with the item's provenance."""

    item_path: Path
    key: str
    path: Path
    provenance: Provenance


def read_item(path: Path, asset_key: str | None = None) -> StacAsset:
    """Pick the item's raster asset (``visual`` first) and read its provenance."""
    try:
        item = pystac.Item.from_file(str(path))
    except Exception as exc:  # pystac raises many kinds for malformed items
        raise BadInputError(path, f"invalid STAC Item ({exc})") from None
    key, asset = _choose_asset(path, item, asset_key)
    href = asset.get_absolute_href() or asset.href
    parsed = urlparse(href)
    if parsed.scheme not in ("", "file"):
        raise BadInputError(
            path,
            f"asset {key!r} is remote ({href}); sitewatch does not download",
            "download it and point the asset href at the local file",
        )
    local = Path(unquote(parsed.path))
    if not local.is_absolute():
        local = (path.parent / local).resolve()
    if not local.is_file():
        raise BadInputError(path, f"asset {key!r} file {local} does not exist")
    return StacAsset(path, key, local, _provenance(path, item, asset))


def _choose_asset(path: Path, item: pystac.Item, wanted: str | None) -> tuple[str, pystac.Asset]:
    if wanted is not None:
        if wanted not in item.assets:
            raise BadInputError(
                path, f"no asset {wanted!r}; assets: {', '.join(item.assets) or 'none'}"
            )
        return wanted, item.assets[wanted]
    rasters = {
        k: a
        for k, a in item.assets.items()
        if not SKIP_ROLES & set(a.roles or [])
        and (
            (a.media_type or "").startswith(RASTER_TYPES)
            or a.href.lower().endswith((".tif", ".tiff", ".jp2", ".jpg", ".jpeg", ".png"))
        )
    }
    for k, a in rasters.items():
        if k == "visual" or "visual" in (a.roles or []):
            return k, a
    if len(rasters) == 1:
        return next(iter(rasters.items()))
    if not rasters:
        raise BadInputError(path, "STAC Item has no raster asset (GeoTIFF, JP2, JPEG or PNG)")
    raise BadInputError(
        path, f"several raster assets ({', '.join(rasters)})", "choose one with --asset KEY"
    )


def _provenance(path: Path, item: pystac.Item, asset: pystac.Asset) -> Provenance:
    props = item.properties
    acquired = _acquired(path, item)
    gsd = asset.extra_fields.get("gsd", props.get("gsd"))
    collection = _collection(item)
    providers = props.get("providers") or []
    if not providers and collection is not None:
        providers = [p.to_dict() for p in (collection.providers or [])]
    if not isinstance(providers, list):
        raise BadInputError(path, "STAC 'providers' must be a list")
    names = [
        text(p.get("name"), str(path), "provider name", MAX_NAME)
        for p in providers
        if isinstance(p, dict) and p.get("name")
    ]
    provider = text(", ".join(n for n in names if n), str(path), "providers", MAX_NAME)
    licence = props.get("license")
    if licence is None and collection is not None:
        licence = collection.license
    credit = props.get("sitewatch:credit")
    return Provenance(
        acquired=acquired,
        provider=provider,
        credit=text(credit, str(path), "sitewatch:credit", MAX_NAME) or provider,
        licence=text(licence, str(path), "license", MAX_NAME),
        source_url=_source_url(path, item),
        gsd_m=parse_gsd(gsd, str(path)) if gsd is not None else None,
        extra={"stac_item": item.id, "stac_collection": item.collection_id, **_view(path, props)},
    )


VIEW = ("view:sun_azimuth", "view:sun_elevation", "view:off_nadir", "view:azimuth",
        "view:incidence_angle")  # fmt: skip
_VIEW_RANGE = {"view:sun_elevation": (-90.0, 90.0), "view:off_nadir": (0.0, 90.0),
               "view:incidence_angle": (0.0, 90.0)}  # fmt: skip


def _view(path: Path, props: dict[str, object]) -> dict[str, float]:
    """The STAC view extension's angles (sun and satellite), checked: what the imagery says
    about its own light, for ``sitewatch verify sun``."""
    out = {}
    for key in VIEW:
        value = props.get(key)
        if value is None:
            continue
        lo, hi = _VIEW_RANGE.get(key, (0.0, 360.0))
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise BadInputError(path, f"STAC {key} {value!r} is not an angle in {lo:g}…{hi:g}°")
        out[key] = float(value)
    return out


def _acquired(path: Path, item: pystac.Item) -> Dated | None:
    when = item.datetime
    start = item.properties.get("start_datetime")
    try:
        if when is None and start:
            if not isinstance(start, str):
                raise ValueError(f"start_datetime {start!r} is not an ISO-8601 text")
            when = parse_datetime(start, what="STAC start_datetime")
        if when is None:
            return None
        if when.tzinfo is None:
            raise ValueError("STAC datetime has no time zone")
        return Dated(parse_datetime(when.isoformat(), what="STAC datetime"), "stac datetime")
    except ValueError as exc:
        raise BadInputError(path, str(exc)) from None


def _source_url(path: Path, item: pystac.Item) -> str | None:
    """The item's own web page, when it links one over http(s); other links are not kept."""
    for link in item.links:
        if link.rel in ("self", "canonical", "via", "alternate"):
            try:
                return http_url(link.href, str(path))
            except BadInputError:
                continue
    return None


def _collection(item: pystac.Item) -> pystac.Collection | None:
    """The item's collection when its link resolves locally; provenance may come from it."""
    try:
        return item.get_collection()
    except Exception:  # a missing or remote collection file is not an error for the item
        return None
