"""Recycled imagery across a catalog: for each image, the earlier images it reuses.

Fingerprints are kept beside the catalog (``verify/fingerprints/<sha256>.npz``, made once,
re-made when the method changes) so a search reads no image but the query and its few
candidates. "Earlier" is by the acquisition time each image claims; with no claimed time or
the same one, by the order of ingest: the image that reached the catalog first is the one
that was reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select

from sitewatch import __version__
from sitewatch.dates import day_only
from sitewatch.errors import SitewatchError
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Image, VerifyCheck
from sitewatch.verify import recycled as rc
from sitewatch.verify.findings import NewFinding, checked_images, replace_findings

CACHE = 64  # images' grey levels and keypoints kept in memory during one search


@dataclass(frozen=True)
class ImageRef:
    sha256: str
    name: str
    acquired_at: datetime | None
    ingested_at: datetime
    image_id: int
    date_is_illustrative: bool = False

    @property
    def _claimed(self) -> datetime | None:
        return None if self.date_is_illustrative else self.acquired_at

    def before(self, other: ImageRef) -> bool:
        """Whether this image counts as earlier than ``other``: by claimed acquisition time
        (illustrative dates claim nothing; a day with no time of day ties with any time
        that day), else by ingest order."""
        a, b = self._claimed, other._claimed
        if (
            a is not None
            and b is not None
            and a != b
            and not ((day_only(a) or day_only(b)) and a.date() == b.date())
        ):
            return a < b
        return (self.ingested_at, self.image_id) < (other.ingested_at, other.image_id)


@dataclass(frozen=True)
class Match:
    image: ImageRef
    evidence: rc.Evidence


@dataclass(frozen=True)
class ImageReuse:
    """One image's verdict: the earlier images whose pixels it reuses, later ones that reuse
    its pixels, and images of the same place from other acquisitions."""

    image: ImageRef
    reuses: list[Match] = field(default_factory=list)
    reused_by: list[Match] = field(default_factory=list)
    same_place: list[Match] = field(default_factory=list)
    undecided: list[Match] = field(default_factory=list)  # matched; too little to compare
    candidates: int = 0  # images verified (the best-voted of the index)

    @property
    def recycled(self) -> bool:
        return bool(self.reuses)


@dataclass(frozen=True)
class RecycledReport:
    method: str
    searched: int  # images in the index
    images: list[ImageReuse]
    missing: list[str] = field(default_factory=list)  # catalog images whose file is gone

    def to_dict(self) -> dict[str, object]:
        from sitewatch.dates import iso

        def ref(m: Match) -> dict[str, object]:
            return {"sha256": m.image.sha256, "name": m.image.name,
                    "acquired_at": iso(m.image.acquired_at) if m.image.acquired_at else None,
                    **m.evidence.to_dict()}  # fmt: skip

        return {
            "method": self.method,
            "searched": self.searched,
            "missing_files": self.missing,
            "images": [{
                "sha256": r.image.sha256, "name": r.image.name,
                "acquired_at": iso(r.image.acquired_at) if r.image.acquired_at else None,
                "verdict": "reuses an earlier image" if r.recycled else "no earlier image reused",
                "reuses": [ref(m) for m in r.reuses],
                "reused_by": [ref(m) for m in r.reused_by],
                "same_place": [ref(m) for m in r.same_place],
                "undecided": [ref(m) for m in r.undecided],
                "candidates_checked": r.candidates,
            } for r in self.images],
        }  # fmt: skip


def _ref(image: Image) -> ImageRef:
    return ImageRef(image.sha256, image.original_name, image.acquired_at, image.ingested_at,
                    image.id, image.date_is_illustrative)  # fmt: skip


def fingerprint_path(catalog: Catalog, sha256: str) -> Path:
    return catalog.workspace / "verify" / "fingerprints" / f"{sha256}.npz"


def _fingerprint(catalog: Catalog, image: Image) -> rc.Fingerprint:
    path = fingerprint_path(catalog, image.sha256)
    stored = rc.Fingerprint.load(path) if path.is_file() else None
    if stored is not None:
        return stored
    gray, scale = rc.working_gray(catalog.readable_path(image))
    made = rc.fingerprint(gray, scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    made.save(path)
    return made


def find_recycled(
    catalog: Catalog,
    refs: list[str] | None = None,
    site: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> RecycledReport:
    """For each image named (or of ``site``, or every image), the catalog images that
    share its acquisition, split into the earlier ones it reuses and the later ones that
    reuse it, plus other acquisitions of the same place. Each image's findings are stored
    with it (``Finding``), replacing those of an earlier run."""
    params = {"images": refs or [], "site": site}
    with catalog.run("verify", rc.METHOD, __version__, params) as run_id:
        report = _search(catalog, refs, site, progress)
        _store(catalog, report, run_id)
    return report


def _store(catalog: Catalog, report: RecycledReport, run_id: int) -> None:
    """One finding per earlier image reused, or one saying none was found; the image's
    earlier recycled findings go (a check run again replaces what it found)."""
    with catalog.session() as s:
        for r in report.images:
            rows = [
                NewFinding(
                    "reuses an earlier image",
                    f"the same acquisition as {m.image.name}, ingested or dated earlier "
                    f"({_evidence_line(m.evidence)})",
                    m.evidence.to_dict(),
                    m.image.image_id,
                )
                for m in r.reuses
            ] or [
                NewFinding(
                    "no earlier image reused",
                    f"none of the {r.candidates} images most like it (of {report.searched} in "
                    f"the catalog) is an earlier image with its pixels ({len(r.same_place)} of "
                    "the same place from other acquisitions"
                    + (f", {len(r.undecided)} matched but too little to compare)"
                       if r.undecided else ")"),
                    {"same_place": [m.image.sha256 for m in r.same_place]},
                )
            ]  # fmt: skip
            replace_findings(s, r.image.image_id, VerifyCheck.RECYCLED, report.method, run_id,
                             rows)  # fmt: skip


def _evidence_line(e: rc.Evidence) -> str:
    parts = [f"pixel agreement {e.agreement:.2f}" if e.agreement is not None else "",
             f"{e.inliers} keypoints on one similarity to {e.rms_px:.2f} px"
             if e.rms_px is not None else "",
             f"scale {e.scale:.2f}" if e.scale is not None else "",
             f"turned {e.rotation_deg:.1f}°" if e.rotation_deg is not None else "",
             "mirrored" if e.mirrored else ""]  # fmt: skip
    return ", ".join(p for p in parts if p)


def _search(
    catalog: Catalog,
    refs: list[str] | None,
    site: str | None,
    progress: Callable[[str], None] | None,
) -> RecycledReport:
    with catalog.session() as s:
        everything = list(s.scalars(select(Image).order_by(Image.id)))
        queries = checked_images(catalog, s, refs, site) if refs or site else everything
        rows = {im.sha256: im for im in everything}
        refs_by_sha = {im.sha256: _ref(im) for im in everything}
        prints = {}
        missing = []
        for im in everything:
            if progress:
                progress(im.original_name)
            try:
                prints[im.sha256] = _fingerprint(catalog, im)
            except SitewatchError:  # a file gone from the store: search the others
                if im in queries:
                    raise
                missing.append(im.original_name)
        # a fingerprint stored before its file was lost still finds candidates; the file is
        # read only to verify one, and a lost one is skipped, named in ``missing``
        paths = {sha: catalog.image_path(rows[sha]) for sha in prints}
        for im in queries:
            catalog.readable_path(im)  # the images asked about must be there
        query_shas = list(dict.fromkeys(im.sha256 for im in queries))
    index = rc.Index(prints.items())
    grays: dict[str, tuple[np.ndarray, float]] = {}
    dense: dict[tuple[str, bool], rc.Fingerprint] = {}

    def gray(sha: str) -> np.ndarray:
        if sha not in grays:
            if len(grays) >= CACHE:  # bounded memory on a catalog-wide run
                grays.clear()
                dense.clear()
            grays[sha] = rc.working_gray(paths[sha])
        return grays[sha][0]

    def verifying(sha: str, mirrored: bool = False) -> rc.Fingerprint:
        """Many keypoints of an image (or its mirror image), for verifying a candidate."""
        if (sha, mirrored) not in dense:
            g = rc.mirrored(gray(sha)) if mirrored else gray(sha)
            dense[sha, mirrored] = rc.fingerprint(g, grays[sha][1], keep=rc.DENSE)
        return dense[sha, mirrored]

    out = []
    for sha in query_shas:
        me = refs_by_sha[sha]
        q = prints[sha]
        qm = rc.fingerprint(rc.mirrored(gray(sha)), grays[sha][1])
        found = index.search(q, qm, exclude=sha)
        result = ImageReuse(me, candidates=len(found))
        for c in found:
            if not paths[c.key].is_file():
                missing.append(refs_by_sha[c.key].name)
                continue
            g = rc.mirrored(gray(sha)) if c.mirrored else gray(sha)
            ev = rc.compare(g, verifying(sha, c.mirrored), gray(c.key), verifying(c.key),
                            c.mirrored)  # fmt: skip
            other = refs_by_sha[c.key]
            if ev.verdict == rc.Reuse.SAME_ACQUISITION:
                (result.reuses if other.before(me) else result.reused_by).append(Match(other, ev))
            elif ev.verdict == rc.Reuse.SAME_PLACE:
                result.same_place.append(Match(other, ev))
            elif ev.verdict == rc.Reuse.CANNOT_TELL:
                result.undecided.append(Match(other, ev))
        out.append(result)
    return RecycledReport(rc.METHOD, len(index), out, sorted(set(missing)))
