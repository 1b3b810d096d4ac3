"""The report's Verification section: what the checks of the imagery itself found.

Each check is stated as an assessment should be (ICD 203): what was checked, what it shows,
and what it cannot show. Every stored finding of the site's images is listed; an image a
check never ran on is named as unchecked, never passed over.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sitewatch.dates import day, iso
from sitewatch.sites import ImageFinding, SiteImage
from sitewatch.store.models import VerifyCheck

# what each check looks at, and what no result of it can show
CHECKS: dict[str, dict[str, str]] = {
    VerifyCheck.RECYCLED: {
        "title": "Recycled imagery",
        "command": "sitewatch verify recycled --site {site}",
        "checked": "whether each image reuses the pixels of an image ingested or dated "
        "before it: a crop, resize, re-save, colour edit, small turn or mirror image of "
        "the same acquisition (local features searched across the whole catalog, the "
        "closest candidates compared pixel by pixel)",
        "cannot_show": "that an image is new. Only this catalog is searched, not the web "
        "or providers' archives: an image reused from elsewhere goes unseen. Copies edited "
        "beyond what was measured (under 20 % overlap, scaled outside 0.4–2.5 times, "
        "turned more than 5°) may be missed. Which of two copies came first rests on their "
        "claimed dates, or on the order of ingest where the dates are illustrative.",
    },
    VerifyCheck.SUN: {
        "title": "Sun and shadows",
        "command": "sitewatch verify sun IMAGE",
        "checked": "whether the sun's direction and height stated in the metadata, or "
        "measured from a shadow marked in the image, fit the sun computed for the claimed "
        "place and time (NREL SPA)",
        "cannot_show": "that the claimed date is right: the sun stands in the same place on "
        "other days of the year and other years, so a shadow that fits narrows the dates "
        "without proving one. A sloping ground, a leaning object or a badly marked shadow "
        "tip moves the measured direction.",
    },
    VerifyCheck.METADATA: {
        "title": "File metadata",
        "command": "sitewatch verify metadata --site {site}",
        "checked": "whether what each file says about itself (EXIF and XMP dates, editing "
        "software and history, GPS, the embedded thumbnail, GeoTIFF time tags) agrees with "
        "the provenance given at ingest",
        "cannot_show": "that a file is genuine: metadata is easily stripped or rewritten, so "
        "agreement is weak evidence and a mismatch is a question to put to the source. An "
        "illustrative date claims nothing for a file's dates to contradict.",
    },
}


def verification(site: str, images: list[SiteImage]) -> dict[str, Any]:
    """Every check's statement and findings over the site's ``images`` (report.json's
    ``verification``)."""
    checks = []
    for check, words in CHECKS.items():
        found = [(im, f) for im in images for f in im.findings if f.check == check]
        ran = {im.sha256 for im, _f in found}
        checks.append({
            "check": str(check), "title": words["title"],
            "command": words["command"].format(site=site),
            "checked": words["checked"], "cannot_show": words["cannot_show"],
            "methods": sorted({f.method for _im, f in found}),
            "images_checked": len(ran), "images": len(images),
            "unchecked": [im.name for im in images if im.sha256 not in ran],
            "shows": _shows(check, found, len(images)),
            "findings": [_finding(im, f) for im, f in found],
        })  # fmt: skip
    return {"checks": checks}


def _shows(check: str, found: list[tuple[SiteImage, ImageFinding]], total: int) -> str:
    """What the check's findings show, in one sentence."""
    if not found:
        return f"Not run on any of the {total} image(s)."
    ran = len({im.sha256 for im, _f in found})
    if check == VerifyCheck.RECYCLED:
        reused = sorted({im.name for im, f in found if f.reuses})
        if not reused:
            return (f"None of the {ran} image(s) checked reuses an earlier image in the "
                    "catalog.")  # fmt: skip
        return (f"{len(reused)} of the {ran} image(s) checked reuse an earlier acquisition "
                f"({', '.join(reused)}): they are no views of their own dates, so they are "
                "left out of the counts, the alerts and the claims.")  # fmt: skip
    verdicts: dict[str, int] = {}
    for _im, f in found:
        verdicts[f.verdict] = verdicts.get(f.verdict, 0) + 1
    tally = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
    against = sorted({im.name for im, f in found if f.contradicts})
    if against:
        return (f"{len(found)} finding(s) on {ran} image(s): {tally}. The claimed time or "
                f"provenance of {', '.join(against)} is contradicted by the image itself: no "
                "claim is decided on it.")  # fmt: skip
    return (f"{len(found)} finding(s) on {ran} image(s): {tally}. Nothing found contradicts "
            "an image's claimed time or provenance, which is weak evidence for them, not "
            "proof.")  # fmt: skip


def finding_dict(f: ImageFinding) -> dict[str, Any]:
    """A finding as JSON has it (the report's images and its Verification section)."""
    return {**asdict(f), "related_acquired_at": iso(f.related_acquired_at),
            "contradicts": f.contradicts}  # fmt: skip


def _finding(im: SiteImage, f: ImageFinding) -> dict[str, Any]:
    """A finding with the image it is about."""
    return {
        "image": im.name, "sha256": im.sha256, "date": day(im.acquired_at),
        "illustrative": im.date_is_illustrative, "provider": im.provider, **finding_dict(f),
    }  # fmt: skip
