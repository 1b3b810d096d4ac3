"""Catalog tables (SQLAlchemy 2 declarative).

Map geometries (``*_wgs84_wkt``) are WKT text on SQLite and GiST-indexed PostGIS geometries
on PostgreSQL (``store.spatial``); Python sees WKT on both. Geometries in pixels or in an
image's own CRS stay text. Times are stored as UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sitewatch.store.spatial import MAP_GEOMETRY, POSTGIS_TABLES

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns timezone-aware UTC (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: sitewatch stores only aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class RunStatus(StrEnum):
    """How a Run ended (or that it has not)."""

    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # some inputs failed, the rest landed
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process died (killed, crashed, power cut)


class SiteKind(StrEnum):
    """What a site's frame is."""

    GEO = "geo"  # an area on the map (AOI, EPSG:4326)
    FRAME = "frame"  # the pixels of a reference image


class LinkMethod(StrEnum):
    """How an image came to belong to a site."""

    EXPLICIT = "explicit"  # the user said so (ingest --site, upload)
    FOOTPRINT = "footprint"  # its footprint overlaps the site's AOI
    REFERENCE = "reference"  # it is the site's reference image


class RegistrationStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


class ChangeKind(StrEnum):
    """What became of an object between two dates."""

    STAYED = "stayed"
    APPEARED = "appeared"
    DEPARTED = "departed"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Run(Base):
    """One execution of a pipeline stage: what method/version/parameters produced rows."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    method: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING, index=True)
    message: Mapped[str | None] = mapped_column(Text)
    # host.pid.start of the process running it: a "running" run whose owner is gone was
    # killed, and is closed as "interrupted" the next time the catalog is opened
    owner: Mapped[str | None] = mapped_column(String(255))
    # Per-image stages (detect, register) run once per image, so reuse is a lookup.
    image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE", use_alter=True), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Image(Base):
    """One immutable imagery file, addressed by its SHA-256, with its provenance."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    stored_path: Mapped[str] = mapped_column(Text)  # relative to the workspace, or absolute
    original_path: Mapped[str] = mapped_column(Text)
    original_name: Mapped[str] = mapped_column(String(512), index=True)
    file_size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bands: Mapped[int] = mapped_column(Integer)
    dtype: Mapped[str] = mapped_column(String(16))
    # Georeference (all null for plain, ungeoreferenced images).
    crs_wkt: Mapped[str | None] = mapped_column(Text)
    crs_epsg: Mapped[int | None] = mapped_column(Integer)
    transform: Mapped[list[float] | None] = mapped_column(JSON)  # affine a, b, c, d, e, f
    footprint_native_wkt: Mapped[str | None] = mapped_column(Text)
    footprint_wgs84_wkt: Mapped[str | None] = mapped_column(MAP_GEOMETRY)
    gsd_m: Mapped[float | None] = mapped_column(Float)
    gsd_source: Mapped[str | None] = mapped_column(String(32))
    # Time and provenance.
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    acquired_source: Mapped[str | None] = mapped_column(String(64))
    date_is_illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    provider: Mapped[str | None] = mapped_column(String(256))
    credit: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(String(256))
    source_url: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ingest_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site_links: Mapped[list[ImageSite]] = relationship(
        back_populates="image", cascade="all, delete-orphan"
    )

    @property
    def georeferenced(self) -> bool:
        return self.crs_wkt is not None


class Site(Base):
    """A monitored place: a map AOI (`geo`) or a polygon in a reference image (`frame`)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # SiteKind
    aoi_wgs84_wkt: Mapped[str | None] = mapped_column(MAP_GEOMETRY)
    reference_image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id"))
    frame_polygon_wkt: Mapped[str | None] = mapped_column(Text)  # pixels of the reference
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reference_image: Mapped[Image | None] = relationship()
    image_links: Mapped[list[ImageSite]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="ImageSite.id"
    )


class ImageSite(Base):
    """Which images belong to which site, how the link was made, and the AOI coverage."""

    __tablename__ = "image_sites"
    __table_args__ = (UniqueConstraint("image_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # LinkMethod
    coverage: Mapped[float | None] = mapped_column(Float)  # fraction of the AOI imaged
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    image: Mapped[Image] = relationship(back_populates="site_links")
    site: Mapped[Site] = relationship(back_populates="image_links")


class LabelSet(Base):
    """One imported annotation file (ground truth for training and evaluation)."""

    __tablename__ = "label_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    format: Mapped[str] = mapped_column(String(16))
    source_path: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    licence: Mapped[str | None] = mapped_column(String(256))
    credit: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Label(Base):
    """A ground-truth box in image pixels."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    label_set_id: Mapped[int] = mapped_column(
        ForeignKey("label_sets.id", ondelete="CASCADE"), index=True
    )
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    class_name: Mapped[str] = mapped_column(String(64))
    x0: Mapped[float] = mapped_column(Float)
    y0: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    source_id: Mapped[str | None] = mapped_column(String(64))  # id in the source file
    # a near-copy of another box of the same image (IoU ≥ 0.6): kept, but not counted
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    label_set: Mapped[LabelSet] = relationship()


class Detection(Base):
    """A detected object: box in image pixels, and on the map when the image is georeferenced."""

    __tablename__ = "detections"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    class_name: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    x0: Mapped[float] = mapped_column(Float)
    y0: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    geometry_wgs84_wkt: Mapped[str | None] = mapped_column(MAP_GEOMETRY)


class Registration(Base):
    """How an image maps into its site's frame (the reference image's pixels), and how well."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("site_id", "image_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    # "reference" | "features" | "crs" | "crs+features" | "chain"
    method: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8))  # RegistrationStatus
    reason: Mapped[str | None] = mapped_column(Text)
    matrix: Mapped[list[float] | None] = mapped_column(JSON)  # 3×3 row-major, image → frame
    via_image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id"))
    matches: Mapped[int] = mapped_column(Integer, default=0)
    inliers: Mapped[int] = mapped_column(Integer, default=0)
    rmse_px: Mapped[float | None] = mapped_column(Float)  # inlier residual, frame pixels
    shift_m: Mapped[float | None] = mapped_column(Float)  # image refinement moved the map fit
    overlap: Mapped[float | None] = mapped_column(Float)  # fraction of the site polygon seen
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    image: Mapped[Image] = relationship(foreign_keys=[image_id])
    via: Mapped[Image | None] = relationship(foreign_keys=[via_image_id])


class Observation(Base):
    """One image's count of one class inside the site (or why the image was not counted)."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    class_name: Mapped[str | None] = mapped_column(String(64))  # None when not counted
    count: Mapped[int | None] = mapped_column(Integer)  # detections inside
    estimate: Mapped[float | None] = mapped_column(Float)  # corrected for detector P/R
    low: Mapped[float | None] = mapped_column(Float)  # 90 % interval of the true count
    high: Mapped[float | None] = mapped_column(Float)
    coverage: Mapped[float | None] = mapped_column(Float)
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    used: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str | None] = mapped_column(Text)  # why not used, or a caveat

    image: Mapped[Image] = relationship()


class ObjectChange(Base):
    """An object that stayed, appeared or departed between two dates, in the site frame."""

    __tablename__ = "object_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    before_image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    after_image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # ChangeKind
    class_name: Mapped[str] = mapped_column(String(64))
    x: Mapped[float] = mapped_column(Float)  # centre in frame pixels
    y: Mapped[float] = mapped_column(Float)
    before_detection_id: Mapped[int | None] = mapped_column(ForeignKey("detections.id"))
    after_detection_id: Mapped[int | None] = mapped_column(ForeignKey("detections.id"))
    distance_m: Mapped[float | None] = mapped_column(Float)
    chip_path: Mapped[str | None] = mapped_column(Text)  # relative to the workspace


class Episode(Base):
    """A period when a site's count stood above its baseline (an alert)."""

    __tablename__ = "episodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    class_name: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alarm_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None while ongoing
    baseline: Mapped[float] = mapped_column(Float)
    peak: Mapped[float] = mapped_column(Float)
    magnitude: Mapped[float] = mapped_column(Float)  # median excess over baseline, fraction
    confidence: Mapped[float] = mapped_column(Float)
    false_alarm_rate: Mapped[float] = mapped_column(Float)  # per site-year, of the threshold
    observations: Mapped[int] = mapped_column(Integer)


class ChangePair(Base):
    """Pixel change between two registered dates of a site, in its frame (``sitewatch
    change``); a later run over the same two images replaces it."""

    __tablename__ = "change_pairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    before_image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    after_image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))  # ChangeMethod
    compared_m2: Mapped[float | None] = mapped_column(Float)  # None: pixel size unknown
    compared_px: Mapped[float] = mapped_column(Float)  # site-frame pixels
    map_path: Mapped[str | None] = mapped_column(Text)  # the change map written, if any

    regions: Mapped[list[ChangedRegion]] = relationship(
        back_populates="pair", cascade="all, delete-orphan", order_by="ChangedRegion.id"
    )


class ChangedRegion(Base):
    """One changed region of a pair: appeared, removed or altered, with its area."""

    __tablename__ = "change_regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(
        ForeignKey("change_pairs.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # change.ChangeKind
    area_m2: Mapped[float | None] = mapped_column(Float)
    area_px: Mapped[float] = mapped_column(Float)  # site-frame pixels
    straight_before_px: Mapped[float] = mapped_column(Float)
    straight_after_px: Mapped[float] = mapped_column(Float)
    frame_wkt: Mapped[str] = mapped_column(Text)  # outline in site-frame pixels
    geometry_wgs84_wkt: Mapped[str | None] = mapped_column(MAP_GEOMETRY)  # on a map frame

    pair: Mapped[ChangePair] = relationship(back_populates="regions")


class VerifyCheck(StrEnum):
    """The checks of the imagery itself (``sitewatch verify``)."""

    RECYCLED = "recycled"  # an earlier acquisition reused
    SUN = "sun"  # the light against the claimed time
    METADATA = "metadata"  # what the file says about itself against its provenance


# the verdicts of a check that contradict an image's claimed time or provenance (the
# verify stage's own vocabularies: verify.Verdict, verify.metadata.MetaVerdict)
CONTRADICTING: dict[str, str] = {
    VerifyCheck.SUN: "inconsistent",
    VerifyCheck.METADATA: "contradicts its provenance",
}


class Finding(Base):
    """What one check of the imagery found about one image, re-derivable, with the method
    that found it; running the check on the image again replaces its findings."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    check: Mapped[str] = mapped_column(String(16))  # VerifyCheck
    method: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(48))
    summary: Mapped[str] = mapped_column(Text)  # one line a reader can quote
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the numbers
    # the other image the finding is about (the earlier acquisition reused), if any
    related_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL")
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    image: Mapped[Image] = relationship(foreign_keys=[image_id])
    related: Mapped[Image | None] = relationship(foreign_keys=[related_image_id])


class Claim(Base):
    """A public claim about a site, checked against the site's own imagery."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first day claimed
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last day claimed
    expects: Mapped[str | None] = mapped_column(String(16))  # increase | decrease | …
    class_name: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    review_url: Mapped[str | None] = mapped_column(Text)  # a published review of it, if any
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship()
    sources: Mapped[list[ClaimSource]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimSource.id"
    )


class ClaimSource(Base):
    """Who made or repeated a claim; ``origin`` groups sources that repeat one origin."""

    __tablename__ = "claim_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    outlet: Mapped[str | None] = mapped_column(String(256))
    author: Mapped[str | None] = mapped_column(String(256))
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(256))  # normalised: sources sharing it count once
    quote: Mapped[str | None] = mapped_column(Text)

    claim: Mapped[Claim] = relationship(back_populates="sources")


# spatial indexes of the map geometries: PostGIS only (SQLite tests geometry in Python)
for _column in (
    Image.footprint_wgs84_wkt,
    Site.aoi_wgs84_wkt,
    Detection.geometry_wgs84_wkt,
    ChangedRegion.geometry_wgs84_wkt,
):
    Index(
        f"gix_{_column.class_.__tablename__}_{_column.key}",
        _column,
        postgresql_using="gist",
    ).ddl_if(dialect="postgresql")


def schema_filter(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """What schema comparison (Alembic's ``include_object``) should look at on ``dialect``:
    the catalog's own tables, not the ones PostGIS keeps in the same schema, and the spatial
    indexes only where they exist (PostgreSQL)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and reflected and compare_to is None:
            return name not in POSTGIS_TABLES
        if type_ == "index" and (name or "").startswith("gix_"):
            return dialect == "postgresql"
        return True

    return include
