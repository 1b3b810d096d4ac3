"""STAC Items with local assets: provenance from the item, pixels from the asset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pystac

from sitewatch.errors import BadInputError
from sitewatch.ingest.provenance import Dated, Provenance, parse_datetime, parse_gsd

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
    when = item.datetime
    if when is None and props.get("start_datetime"):
        when = parse_datetime(props["start_datetime"])
    acquired = None
    if when is not None:
        if when.tzinfo is None:
            raise BadInputError(path, "STAC datetime has no time zone")
        acquired = Dated(parse_datetime(when.isoformat()), "stac datetime")
    gsd = asset.extra_fields.get("gsd", props.get("gsd"))
    collection = _collection(item)
    providers = props.get("providers") or []
    if not providers and collection is not None:
        providers = [p.to_dict() for p in (collection.providers or [])]
    names = [p.get("name") for p in providers if isinstance(p, dict) and p.get("name")]
    licence = props.get("license")
    if licence is None and collection is not None:
        licence = collection.license
    source = next(
        (
            link.href
            for link in item.links
            if link.rel in ("self", "canonical", "via", "alternate")
            and str(link.href).startswith(("http://", "https://"))
        ),
        None,
    )
    return Provenance(
        acquired=acquired,
        provider=", ".join(names) or None,
        credit=props.get("sitewatch:credit") or (", ".join(names) or None),
        licence=licence,
        source_url=source,
        gsd_m=parse_gsd(gsd, str(path)) if gsd is not None else None,
        extra={"stac_item": item.id, "stac_collection": item.collection_id},
    )


def _collection(item: pystac.Item) -> pystac.Collection | None:
    """The item's collection when its link resolves locally; provenance may come from it."""
    try:
        return item.get_collection()
    except Exception:  # a missing or remote collection file is not an error for the item
        return None
