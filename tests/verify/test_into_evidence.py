"""A recycled image in the evidence, as `make demo` shows it: the demo's edited copy of the
2024-03-04 airport scene, ingested as "2024-05-27" from a new source. Once `verify recycled`
finds it, monitoring, the claims ledger, the report and its JSON leave it out as a view of
its date and say why, whichever of monitoring and verifying ran first."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from sitewatch import Catalog, monitor_site
from sitewatch.claims import claimreview, claims_csv, import_claims, review
from sitewatch.detect import run_detector, select_images
from sitewatch.ingest import IngestOptions, ingest
from sitewatch.monitor.stored import load_monitoring
from sitewatch.register import register_site
from sitewatch.report.render import write_report
from sitewatch.verify import find_recycled
from tests.conftest import DEMO_REF, EXAMPLES, copy_catalog

REPOST = "repost-2024-05-27.jpg"
A2, A3 = "78400c58-1a7c-4342-a1fb-2117cb7cbc8b.jpg", "7c2da441-819f-4ddd-8293-f4be5213d69e.jpg"


def _script() -> ModuleType:
    path = EXAMPLES / "recycled" / "make_repost.py"
    spec = importlib.util.spec_from_file_location("make_repost", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reposted(monitored, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The monitored demo plus the repost, monitored first (it counts as a new date), then
    verified; the counts before verifying are kept to compare."""
    tmp = tmp_path_factory.mktemp("repost")
    catalog = copy_catalog(monitored[0], tmp / "ws")
    made = _script().main(str(tmp / "in"))
    report = ingest(catalog, [made], IngestOptions(site="apt"))
    assert report.ok, report.outcomes
    run_detector(catalog, select_images(catalog, [str(made)], None))
    register_site(catalog, "apt")
    before = monitor_site(catalog, "apt", write_chips=False)
    found = find_recycled(catalog, site="apt")
    claims = tmp / "claims.yaml"
    claims.write_text(
        (EXAMPLES / "claims" / "demo-airport-claims.yaml")
        .read_text()
        .replace("site: demo-airport", "site: apt")
    )
    import_claims(catalog, claims)
    yield {"catalog": catalog, "before": before, "found": found, "tmp": tmp}
    catalog.close()


def test_the_demo_repost_is_made_the_same_way_every_time(tmp_path: Path) -> None:
    script = _script()
    a, b = script.main(str(tmp_path / "a")), script.main(str(tmp_path / "b"))
    assert a.read_bytes() == b.read_bytes()
    sidecar = json.loads(a.with_suffix(".json").read_text())
    assert sidecar["acquired"] == "2024-05-27" and sidecar["date_is_illustrative"] is False
    assert script.SOURCE == DEMO_REF  # the 2024-03-04 scene


def test_verify_finds_the_repost_and_the_crops_of_one_acquisition(reposted: dict) -> None:
    by_name = {r.image.name: r for r in reposted["found"].images}
    assert [m.image.name for m in by_name[REPOST].reuses] == [DEMO_REF.name]
    assert [m.image.name for m in by_name[A3].reuses] == [A2]
    assert sum(bool(r.reuses) for r in by_name.values()) == 2


def test_monitoring_leaves_reused_images_out_whichever_ran_first(reposted: dict) -> None:
    catalog: Catalog = reposted["catalog"]
    counted_then = {c.name for c in reposted["before"].counts if c.used}
    assert REPOST in counted_then and A3 in counted_then  # monitored before verifying
    stored = load_monitoring(catalog, "apt")  # findings made since apply on reading
    again = monitor_site(catalog, "apt", write_chips=False)  # and to monitoring again
    for m in (stored, again):
        out = {c.name: c for c in m.counts if c.name in (REPOST, A3)}
        assert not any(c.used for c in out.values())
        assert f"the same acquisition as {DEMO_REF.name} (2024-03-04" in out[REPOST].reason
        assert f"the same acquisition as {A2}" in out[A3].reason
        used = [c for c in m.counts if c.used]
        assert {c.name for c in used} == counted_then - {REPOST, A3}
    # no object change or alert step is left resting on them
    shas = {c.sha256 for c in stored.counts if c.name in (REPOST, A3)}
    assert not any(set(pair) & shas for pair in stored.changes)
    assert not any(set(pair) & shas for pair in (
        (p.before, p.after) for p in again.pairs))  # fmt: skip
    times = {c.acquired_at for c in stored.counts if c.name == REPOST}
    assert not any(s.t in times for steps in stored.steps.values() for s in steps)


def test_claims_resting_on_the_repost_are_not_supported_by_it(reposted: dict) -> None:
    catalog: Catalog = reposted["catalog"]
    verdicts = {c.text[:20]: v for c, v in review(catalog, "apt")}
    new_image = verdicts["A new satellite imag"]
    assert new_image.status == "not_observable"
    assert REPOST in new_image.reasons[0] and "verify recycled" in new_image.reasons[0]
    assert [r["image"] for r in new_image.recycled] == [REPOST]
    may = verdicts["Satellite images sho"]  # a May window holds the repost too
    assert [(r["image"], r["reuses"]) for r in may.recycled] == [(REPOST, DEMO_REF.name)]
    assert any(r.startswith(f"left out: {REPOST}, dated 2024-05-27") for r in may.reasons)
    assert all(e["image"] != REPOST for e in may.evidence)
    assert verdicts["Aircraft were moved "].recycled == []  # June: nothing reused
    rows = list(csv.DictReader(io.StringIO(claims_csv(review(catalog, "apt")))))
    sha = next(r.image.sha256 for r in reposted["found"].images if r.image.name == REPOST)
    assert [r["reused_images"] for r in rows if r["text"].startswith("A new")] == [sha]
    graph = claimreview(review(catalog, "apt"))["@graph"]
    flagged = [g for g in graph if "sitewatch:reusedImages" in g]
    assert {g["claimReviewed"][:20] for g in flagged} == {
        "Satellite images sho", "Convoys of vehicles ", "A new satellite imag"}  # fmt: skip


def test_the_report_shows_every_finding_in_its_verification_section(reposted: dict) -> None:
    catalog: Catalog = reposted["catalog"]
    files = write_report(catalog, "apt", reposted["tmp"] / "report.html")
    data = json.loads(files.json.read_text())
    checks = {c["check"]: c for c in data["verification"]["checks"]}
    recycled = checks["recycled"]
    assert recycled["images_checked"] == recycled["images"] == 6 and not recycled["unchecked"]
    assert len(recycled["findings"]) == 6  # one per image: reused, or none found
    reused = {f["image"]: f["related_name"] for f in recycled["findings"] if f["related_name"]}
    assert reused == {REPOST: DEMO_REF.name, A3: A2}
    assert checks["sun"]["images_checked"] == 0 and len(checks["sun"]["unchecked"]) == 6
    html = files.html.read_text()
    section = html[html.index('id="verification"') : html.index('id="provenance"')]
    for f in recycled["findings"]:
        assert f["image"] in section and f["verdict"] in section
    for words in ("Checked:", "Shows:", "Cannot show:", "Only this catalog is searched"):
        assert words in section
    provenance = html[html.index('id="provenance"') : html.index('id="method"')]
    row = provenance[provenance.index(REPOST) :].split("</tr>")[0]
    assert "verify recycled: reuses an earlier image" in row and "no: the same acquisition" in row
    claims = html[html.index('id="claims"') : html.index('id="verification"')]
    assert f"Left out: {REPOST}" in claims  # each reason a sentence


def test_a_view_whose_own_metadata_contradicts_its_date_decides_no_claim(
    monitored, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from sitewatch.store.models import CONTRADICTING, Finding, Image, VerifyCheck
    from sitewatch.verify import Verdict
    from sitewatch.verify.metadata import MetaVerdict

    # the store's list of contradicting verdicts is the checks' own
    own = {VerifyCheck.SUN: Verdict.INCONSISTENT.value,
           VerifyCheck.METADATA: MetaVerdict.CONTRADICTS.value}  # fmt: skip
    assert own == CONTRADICTING
    catalog = copy_catalog(monitored[0], tmp_path / "ws")
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        (EXAMPLES / "claims" / "demo-airport-claims.yaml")
        .read_text()
        .replace("site: demo-airport", "site: apt")
    )
    import_claims(catalog, claims)
    rise = next(v for c, v in review(catalog, "apt") if c.text.startswith("Satellite images"))
    assert rise.status == "supported"  # 2024-04-22 → 2024-05-13, before any finding
    later = next(e for e in rise.evidence if e["date"] == "2024-05-13")
    with catalog.session() as s:
        image = s.scalars(select(Image).where(Image.sha256 == later["sha256"])).one()
        s.add(Finding(image_id=image.id, check=VerifyCheck.METADATA, method="metadata-1",
                      verdict=MetaVerdict.CONTRADICTS.value,
                      summary="EXIF DateTimeOriginal 2023-01-02 10:00:00 UTC: the file says it "
                      "was taken before the acquisition claimed, 2024-05-13"))  # fmt: skip
    rise = next(v for c, v in review(catalog, "apt") if c.text.startswith("Satellite images"))
    assert rise.status == "consistent"
    assert rise.reasons[0].startswith(
        "the imagery would have supported it, but the claimed "
        f"time or place of {later['image']} is contradicted"
    )
    assert any("EXIF DateTimeOriginal 2023-01-02" in c for c in rise.caveats)
    catalog.close()
