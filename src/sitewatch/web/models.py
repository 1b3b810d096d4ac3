"""The JSON the dashboard's API reads and answers, as pydantic models: /openapi.json names
every field, its type, whether it may be null and, for closed vocabularies, its values.

The models describe what ``web.data``, ``report.build.report_dict`` and ``claims`` already
return; they do not reshape it. A route answers with ``response_model_exclude_unset``, so a
key that the data leaves out (a claim's evidence ``reference``) stays out rather than
appearing as null, and tests/web/test_openapi.py checks that no key the data has is dropped.
(Validation does convert: a whole number in a ``float`` field is written as ``5.0``.)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sitewatch.report.language import Level
from sitewatch.web.jobs import STAGES

# -- values -------------------------------------------------------------------------------
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="full SHA-256 (hex)")]
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"})]
# a count's date: empty for an undated image (``Count.date``)
DayOrEmpty = Annotated[str, Field(pattern=r"^(\d{4}-\d{2}-\d{2})?$")]
# ``store.catalog.iso``: UTC to the second with a Z; empty for an undated image
Timestamp = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", json_schema_extra={"format": "date-time"}
    ),
]
TimestampOrEmpty = Annotated[str, Field(pattern=r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)?$")]
Point = Annotated[list[float], Field(min_length=2, max_length=2, description="x, y")]

# closed vocabularies, as Literal (enum in the schema): the code keeps them as plain strings
# (its only StrEnum, store.models.RunStatus, is in no answer); those the code lists in a tuple
# are checked against it in tests/web/test_openapi.py
SiteKind = Literal["geo", "frame"]
SiteState = Literal["alert", "warm-up", "normal", "unmonitored"]  # web.data.site_state
StepState = Literal["warm-up", "normal", "alert", "partial"]  # alerts.method.Step, or partial
LinkMethod = Literal["explicit", "footprint", "reference"]  # store.models.ImageSite.method
RegistrationStatus = Literal["ok", "failed"]
ChangeKind = Literal["stayed", "appeared", "departed"]
PixelChangeKind = Literal["appeared", "removed", "altered"]  # change.ChangeKind
AreaUnit = Literal["m2", "frame_px"]  # change.StoredChange.unit
Expectation = Literal[
    "increase", "decrease", "presence", "absence", "construction", "destruction"
]  # fmt: skip
SourceKind = Literal[
    "imagery_provider", "government", "media", "named_official", "anonymous_official",
    "own_imagery",
]  # fmt: skip
ClaimStatus = Literal["supported", "consistent", "contradicted", "not_observable"]
Stage = Literal["detect", "register", "monitor"]
JobStatus = Literal["queued", "running", "done", "failed"]
IngestStatus = Literal["ingested", "duplicate"]  # a failed ingest answers with an error
VerifyCheck = Literal["recycled", "sun", "metadata"]  # store.models.VerifyCheck
SunVerdict = Literal["consistent", "inconsistent", "cannot tell"]  # verify.Verdict


class Model(BaseModel):
    """Fields by their JSON names (``class``, ``from``, ``to`` are Python keywords)."""

    model_config = ConfigDict(populate_by_name=True)


# -- geometry -----------------------------------------------------------------------------
class Polygon(Model):
    """A GeoJSON Polygon: lon/lat for a map area, frame pixels for a site frame's area."""

    type: Literal["Polygon"]
    coordinates: list[list[Point]]


class MultiPolygon(Model):
    """A GeoJSON MultiPolygon (an area across the antimeridian, or in several parts)."""

    type: Literal["MultiPolygon"]
    coordinates: list[list[list[Point]]]


Area = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


# -- /api/health --------------------------------------------------------------------------
class Health(Model):
    sitewatch: str = Field(description="the server's version", examples=["0.1.0"])
    images: int = Field(ge=0, description="images in the catalog")


# -- /api/sites ---------------------------------------------------------------------------
class LatestCount(Model):
    """The newest full view of the site's leading class."""

    date: DayOrEmpty
    count: int
    estimate: float | None
    low: float | None
    high: float | None
    sha256: Sha256


class SparkPoint(Model):
    date: DayOrEmpty
    estimate: float | None


class SiteOverview(Model):
    """One line of the overview: where the site is, its latest count and its state."""

    name: str
    kind: SiteKind
    images: int
    first: Day | None = Field(description="the earliest acquisition date")
    last: Day | None
    class_name: str | None = Field(alias="class", description="the class the line counts")
    latest: LatestCount | None
    sparkline: list[SparkPoint]
    state: SiteState
    episodes: int = Field(description="alert episodes, all classes")
    aoi: Area | None = Field(description="the map area (lon/lat); null for a frame site")
    map_image: Sha256 | None = Field(description="the latest georeferenced image")
    note: str | None = Field(description="why nothing was counted, if so")


# -- /api/sites/{name}: the report's data ---------------------------------------------------
class Period(Model):
    start: Day | None = Field(alias="from")
    end: Day | None = Field(alias="to")


class Judgement(Model):
    """The key judgement for one class, in estimative language (ICD 203)."""

    text: str
    likelihood: float | None
    term: str | None
    term_range: tuple[float, float] | None
    confidence: Level
    confidence_reasons: list[str]


class SeriesRow(Model):
    """One image's count of one class, with the baseline it was judged against."""

    date: DayOrEmpty
    image: str = Field(description="the image's file name")
    sha256: Sha256
    count: int | None
    estimate: float | None = Field(description="corrected for the detector's precision/recall")
    low: float | None = Field(description="90 % interval")
    high: float | None
    coverage: float | None = Field(description="share of the site area the image sees")
    partial: bool
    baseline: float | None
    usual_low: float | None
    usual_high: float | None
    state: StepState | None


class Episode(Model):
    """An alert episode: a run of counts above the usual range."""

    start: Day
    alarm: Day
    end: Day | None = Field(description="null while ongoing")
    ongoing: bool
    baseline: float
    peak: float
    magnitude: float
    likelihood: float
    term: str
    observations: int


class DatedPair(Model):
    """Two images of a site compared, earlier first."""

    before: str = Field(description="the earlier image's file name")
    after: str
    before_sha256: Sha256
    after_sha256: Sha256
    before_date: Day | None
    after_date: Day | None


class ChangePair(DatedPair):
    """Objects matched between two consecutive compared images."""

    stayed: int
    appeared: int
    departed: int


class BeforeAfter(ChangePair):
    """A pair the report shows side by side, and why."""

    why: str


class PairChange(DatedPair):
    """The pixel change ``sitewatch change`` stored for two dates, by kind: where to look,
    not measurements, while the method's accuracy is unmeasured."""

    illustrative: bool = Field(description="either date is illustrative")
    method: str = Field(examples=["irmad"], description="the change method")
    unit: AreaUnit = Field(description="of the areas: m² when the frame's "
                                            "pixel size is known, else frame pixels")  # fmt: skip
    compared: float = Field(description="the area both dates saw")
    changed: float = Field(description="every kind")
    appeared: float = Field(description="more long straight edges after")
    removed: float = Field(description="fewer long straight edges after")
    altered: float
    regions: int = Field(description="changed regions stored")
    quiet_level_share: float | None = Field(
        description="the changed share a quiet pair of dates (seasons, light, no building) "
        "passes at the stated false-alarm rate; none where the method has no measured one"
    )
    false_alarm_per_pair: float | None = Field(description="the stated false-alarm rate")
    alert: bool | None = Field(
        description="changed more than quiet pairs at that rate (none: nothing to say it by)"
    )


class PixelChange(PairChange):
    """A pair's pixel change as the report gives it."""

    changed_share: float | None = Field(description="changed / compared")


class ImageRegistration(Model):
    method: str = Field(examples=["features"], description="how it was fitted to the frame")
    status: RegistrationStatus
    reason: str | None
    inliers: int | None
    rmse_px: float | None
    overlap: float | None


class ImageFinding(Model):
    """What one check of the imagery found about the image (``sitewatch verify``)."""

    check: VerifyCheck
    verdict: str = Field(examples=["reuses an earlier image"])
    summary: str = Field(description="one line a reader can quote, with the numbers")
    method: str = Field(examples=["recycled-sift-1"], description="the check's method version")
    related_sha256: Sha256 | None = Field(description="the other image it concerns (reused)")
    related_name: str | None
    related_acquired_at: TimestampOrEmpty = Field(
        description="the other image's acquisition time (empty: none, or undated)"
    )
    related_illustrative: bool
    contradicts: bool = Field(
        description="contradicts the image's claimed time or provenance (its sun or metadata)"
    )


class SiteImage(Model):
    """One image of the site with its provenance and whether it was counted."""

    sha256: Sha256
    name: str
    acquired_at: TimestampOrEmpty = Field(description="empty when undated")
    date_is_illustrative: bool
    provider: str | None
    credit: str | None
    licence: str | None
    source_url: str | None
    gsd_m: float | None
    width: int
    height: int
    georeferenced: bool
    link_method: LinkMethod
    coverage: float | None
    labels: int
    detected: int | None = Field(
        description="detections at their class's threshold, all classes (null: not detected)"
    )
    detected_by_class: dict[str, int] | None = Field(
        description="by class, each from the model that gives the site's series of it"
    )
    findings: list[ImageFinding] = Field(
        default_factory=list, description="what the checks of the imagery found (sitewatch verify)"
    )
    used: bool = Field(description="counted by the latest monitoring")
    registration: ImageRegistration | None
    reason: str | None = Field(description="why it was not counted")


class Detector(Model):
    """The model behind one class's series, and its held-out figures for that class."""

    name: str | None
    version: str | None
    threshold: float | None = Field(description="the class's operating threshold")
    experimental: bool
    accuracy_source: str | None
    precision: float | None
    recall: float | None
    ap50: float | None
    ap50_95: float | None
    count_error: float | None
    count_spread: float | None = Field(
        None,
        description="scene-to-scene relative spread of the true count beyond sampling, "
        "measured on held-out sites; widens the 90 % interval",
    )
    held_out: str | None


class AlertSettings(Model):
    method: str
    far_per_year: float = Field(description="stated false alarms per site and year")
    threshold_h: float
    min_baseline: int


class ClaimSource(Model):
    kind: SourceKind
    outlet: str | None
    author: str | None
    published: Day | None
    url: str | None
    origin: str = Field(description="what the source rests on; one origin counts once")
    quote: str | None


class EvidenceView(Model):
    """A view weighed for a claim."""

    date: DayOrEmpty
    image: str
    sha256: Sha256
    count: int | None
    estimate: float | None
    low: float | None
    high: float | None
    partial: bool
    illustrative: bool
    reference: bool = Field(False, description="the view a change is measured from")


class ChangeOutline(Model):
    area: float | None = Field(description="in the pair's unit")
    geometry: dict[str, Any] = Field(description="GeoJSON geometry, in the pair's coordinates")


class ChangeEvidence(PairChange):
    """A pair of dates whose pixel change was weighed for a construction or destruction
    claim."""

    before_date: Day
    after_date: Day
    kind: Literal["appeared", "removed"]
    kind_area: float = Field(description="changed area of the kind the claim expects")
    regions: int = Field(description="changed regions of that kind")
    coordinates: Literal["lonlat", "frame_px"]
    outlines: list[ChangeOutline] = Field(description="the largest regions of that kind")


class Claim(Model):
    """A public claim about a site and its status against the imagery."""

    id: int
    site: str
    text: str
    start: Day | None = Field(alias="from")
    end: Day | None = Field(alias="to")
    expects: Expectation | None
    class_name: str | None = Field(alias="class")
    notes: str | None
    sources: list[ClaimSource]
    status: ClaimStatus
    label: str
    reasons: list[str]
    caveats: list[str]
    evidence: list[EvidenceView]
    change_evidence: list[ChangeEvidence] = Field(
        default_factory=list, description="pixel change weighed (construction, destruction)"
    )
    origins: int = Field(description="independent origins among the sources")
    source_count: int
    recycled: list[ReusedImage] = Field(
        default_factory=list,
        description="images dated in the window that reuse an earlier acquisition: left out",
    )


class ReusedImage(Model):
    """An image dated in a claim's window found to reuse an earlier acquisition."""

    image: str
    sha256: Sha256
    date: DayOrEmpty
    provider: str | None
    illustrative: bool
    reuses: str | None = Field(description="the earlier image whose acquisition it reuses")
    reuses_sha256: Sha256 | None
    reuses_date: DayOrEmpty
    summary: str = Field(description="the finding, with its evidence")


class VerificationFinding(ImageFinding):
    """One finding of a check of the imagery, with the image it is about."""

    image: str
    sha256: Sha256
    date: DayOrEmpty
    illustrative: bool
    provider: str | None


class VerificationCheck(Model):
    """One check of the imagery (ICD 203): what was checked, shows, cannot show."""

    check: VerifyCheck
    title: str
    command: str = Field(description="the command that runs it")
    checked: str = Field(description="what was checked")
    shows: str = Field(description="what its findings show")
    cannot_show: str = Field(description="what no result of it can show")
    methods: list[str]
    images_checked: int
    images: int
    unchecked: list[str] = Field(description="images it never ran on")
    findings: list[VerificationFinding]


class Verification(Model):
    checks: list[VerificationCheck]


class ShadowRequest(BaseModel):
    """A shadow marked in the viewer: an object's base and its shadow's tip, in site-frame
    pixels of the image shown, checked against a claimed time (or days searched)."""

    base: Point = Field(description="the object's base on the ground, frame pixels")
    tip: Point = Field(description="the tip of its shadow, frame pixels")
    time: str | None = Field(
        None, max_length=40, examples=["2011-05-23T16:30Z"],
        description="the claimed time (ISO-8601; a day alone is searched); none: the "
        "image's own, unless illustrative",
    )  # fmt: skip
    start: Day | None = Field(None, alias="from", description="first day to search")
    end: Day | None = Field(None, alias="to", description="last day to search")
    height_m: float | None = Field(None, gt=0, lt=1000, description="the object's height")
    height_sigma_m: float = Field(0.0, ge=0, lt=1000)
    mark_m: float | None = Field(
        None, gt=0, lt=1000, description="how well each end is marked (1 σ; default 1 pixel)"
    )

    # NaN is no JSON number, but Python's parser reads it: refused, not projected to a corner
    model_config = ConfigDict(populate_by_name=True, allow_inf_nan=False)


class SunFit(Model):
    start: Timestamp
    end: Timestamp
    azimuth_deg: float
    elevation_deg: float


class SunAngles(Model):
    azimuth_deg: float | None
    elevation_deg: float | None


class MeasuredSun(Model):
    azimuth_deg: float | None
    azimuth_sigma_deg: float | None
    elevation_deg: float | None
    elevation_sigma_deg: float | None


class SunCheckAnswer(Model):
    check: str = Field(examples=["shadow"], description="shadow, or stated sun angles")
    verdict: SunVerdict
    reason: str
    method: str
    claimed: Timestamp | None
    computed: SunAngles | None = Field(description="the sun at the claimed time (NREL SPA)")
    measured: MeasuredSun
    difference: SunAngles
    fits: list[SunFit] = Field(description="the spans of the days searched that fit")


class LatLon(Model):
    lat: float
    lon: float


class SunAnswer(Model):
    """The sun checks of an image, as stored with it."""

    place: LatLon
    image: Sha256 | None
    stored: bool = Field(description="kept as the image's finding: a check of its own time")
    note: str | None = Field(description="why it was not stored")
    checks: list[SunCheckAnswer]


class ScaleTerm(Model):
    phrase: str
    low: float
    high: float


class FrameImage(Model):
    status: RegistrationStatus
    reason: str | None
    footprint: list[Point] | None = Field(description="the image's corners in frame pixels")


class Frame(Model):
    """The site frame: the reference image's pixels, tiled for Leaflet's CRS.Simple."""

    reference: Sha256
    width: int
    height: int
    zmax: int = Field(description="the zoom at which a tile pixel is a frame pixel")
    area: Area = Field(description="the site area in frame pixels")
    registered: dict[Sha256, FrameImage] = Field(description="by image SHA-256")


class SiteInfo(Model):
    name: str
    kind: SiteKind
    notes: str | None
    first: Day | None
    last: Day | None
    aoi: Area | None
    footprints: dict[Sha256, Area] = Field(description="georeferenced images' outlines, by SHA-256")
    map_image: Sha256 | None
    frame: Frame | None = Field(description="null until the site has a reference image")


class SiteDetail(Model):
    """The site's report data (``sitewatch report``'s JSON twin) plus its frame and map."""

    sitewatch: str
    generated_at: Timestamp
    site: str
    period: Period
    note: str | None
    classes: list[str]
    judgements: dict[str, Judgement] = Field(description="by class")
    series: dict[str, list[SeriesRow]] = Field(description="by class, in time order")
    episodes: dict[str, list[Episode]] = Field(description="by class")
    changes: list[ChangePair]
    before_after: list[BeforeAfter]
    pixel_change: list[PixelChange] = Field(description="stored pixel change, by pair of dates")
    pixel_change_figures: list[PixelChange] = Field(description="the pairs shown outlined")
    images: list[SiteImage]
    detectors: dict[str, Detector] = Field(description="by class")
    alerts: AlertSettings
    claims: list[Claim]
    verification: Verification = Field(description="the checks of the imagery itself")
    scale: list[ScaleTerm] = Field(description="the estimative-language scale")
    site_info: SiteInfo
    state: SiteState


# -- imagery ------------------------------------------------------------------------------
class FrameDetection(Model):
    class_name: str = Field(alias="class")
    score: float
    frame: list[Point] = Field(description="the box's corners in frame pixels")


class FrameDetections(Model):
    """The boxes that count on one image (each class from its series' model), every score."""

    image: Sha256
    registered: bool = Field(description="false: the boxes are in the image's own pixels")
    model: str | None = Field(description="the models (name version), null when never detected")
    threshold: float | None = Field(description="the lowest of the classes' thresholds")
    models: dict[str, str] = Field(description="by class: the model that counts it")
    thresholds: dict[str, float] = Field(description="by class: its operating threshold")
    classes: list[str]
    detections: list[FrameDetection]


class ChangedObject(Model):
    id: int
    kind: ChangeKind
    class_name: str = Field(alias="class")
    x: float = Field(description="frame pixels")
    y: float
    distance_m: float | None
    chip: bool = Field(description="a before|after chip exists (…/changes/{id}/chip.png)")


class FrameChanges(Model):
    before: Sha256
    after: Sha256
    compared: bool = Field(description="false when monitoring did not compare the pair")
    objects: list[ChangedObject]


class PixelRegion(Model):
    """One changed region of a pair: its kind by built structure, its area and outline."""

    kind: PixelChangeKind = Field(
        description="appeared (more long straight edges after), removed (fewer) or altered"
    )
    area: float | None = Field(description="in the pair's unit")
    area_px: float = Field(description="in site-frame pixels")
    outline: Area = Field(
        description="GeoJSON geometry in site-frame pixels (x right, y down from the reference "
        "image's corner: the frame tiles' and the viewer's coordinates)"
    )


class FramePixelPair(PairChange):
    """A pair's pixel change with its regions' outlines in the site frame."""

    outlined: int = Field(description="regions in outlines: the largest, at most the limit")
    outlines: list[PixelRegion] = Field(description="the largest regions first")


class FramePixelChange(Model):
    """A site's stored pixel change in the site frame: every pair, or the one asked for
    (none when those two dates were not compared)."""

    site: str
    limit: int = Field(description="outlines per pair at most (the largest regions)")
    pairs: list[FramePixelPair] = Field(description="in the order of their later date")


# -- writing ------------------------------------------------------------------------------
class SourceRecord(BaseModel):
    """A source as a claims file gives it (checked, with the claim, by ``claims.checked``)."""

    kind: str = Field(examples=["media"])
    outlet: str | None = None
    author: str | None = None
    date: str | None = Field(None, examples=["2024-05-20"])
    url: str | None = None
    origin: str | None = None
    quote: str | None = None


class ClaimRecord(BaseModel):
    """A claim as a claims file gives it. Unknown values answer 400 with the field named."""

    model_config = ConfigDict(populate_by_name=True)

    text: str
    site: str
    start: str | None = Field(None, alias="from", examples=["2024-05-01"])
    end: str | None = Field(None, alias="to", examples=["2024-05-31"])
    expects: str | None = Field(None, examples=["increase"])
    class_name: str | None = Field(None, alias="class", examples=["aircraft"])
    notes: str | None = None
    review_url: str | None = None
    sources: list[SourceRecord] = Field(default_factory=list)


class JobRequest(BaseModel):
    stages: list[str] = Field(default_factory=lambda: list(STAGES), examples=[list(STAGES)])


class Job(Model):
    """A background job's progress (kept in memory until the server stops)."""

    id: str = Field(pattern=r"^[0-9a-f]{12}$")
    site: str
    stages: list[Stage]
    status: JobStatus
    stage: Stage | None = Field(description="the stage running or last run")
    done: int = Field(description="units finished in the current stage")
    total: int
    message: str
    created_at: Timestamp
    finished_at: Timestamp | None


class Upload(Model):
    status: IngestStatus
    sha256: Sha256
    name: str = Field(description="the stored file name")
    sites: list[str] = Field(description="the sites it was linked to")
    message: str
