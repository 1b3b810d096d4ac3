"""Register: map every image of a site into one frame (features, map coordinates, chains)."""

from sitewatch.register.features import MatchConfig
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
    "ImageRegistration",
    "MatchConfig",
    "RegisterConfig",
    "RegisterReport",
    "frame_matrix",
    "image_to_frame",
    "register_site",
    "registrations",
    "site_polygon",
]
