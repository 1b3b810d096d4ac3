"""Sites: named places to monitor, as a map AOI or a reference-image pixel frame."""

from sitewatch.sites.aoi import parse_pixel_polygon, read_aoi
from sitewatch.sites.registry import (
    ImageFinding,
    SiteImage,
    SiteSummary,
    add_frame_site,
    add_geo_site,
    image_finding,
    list_sites,
    remove_site,
    site_summary,
)

__all__ = [
    "ImageFinding",
    "SiteImage",
    "SiteSummary",
    "add_frame_site",
    "add_geo_site",
    "image_finding",
    "list_sites",
    "parse_pixel_polygon",
    "read_aoi",
    "remove_site",
    "site_summary",
]
