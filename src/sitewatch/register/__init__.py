"""Register: map every image of a site into one frame (features, map coordinates, chains)."""

from sitewatch.register.features import Features, MatchConfig
from sitewatch.register.features import extract as extract_features
from sitewatch.register.imagery import load_gray
from sitewatch.register.site import (
    ImageRegistration,
    RegisterConfig,
    RegisterReport,
    frame_matrix,
    image_to_frame,
    register_site,
    registrations,
    site_polygon,
)

__all__ = [
    "Features",
    "ImageRegistration",
    "MatchConfig",
    "RegisterConfig",
    "RegisterReport",
    "extract_features",
    "frame_matrix",
    "image_to_frame",
    "load_gray",
    "register_site",
    "registrations",
    "site_polygon",
]
