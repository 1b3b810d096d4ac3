"""Pixel change is kept in the catalog (a later run over the same two dates replaces it)
and construction and destruction claims are checked against it, on the real Joplin pair."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

import sitewatch
from sitewatch.change import ChangeKind, ChangeMethod, change_site, load_change
from sitewatch.claims import ClaimSpec, SourceSpec, add_claim, check_claim, get_claim
from sitewatch.claims.check import MIN_STRUCTURE_M2
from sitewatch.monitor.stored import load_monitoring
from sitewatch.store.models import ChangedRegion, ChangePair, Run


def _claim(cat: sitewatch.Catalog, expects: str, start: date | None, end: date | None) -> int:
    source = SourceSpec("media", outlet="Example Wire")
    return add_claim(
        cat, ClaimSpec(f"{expects} at the site", "joplin", start, end, expects, sources=(source,))
    )


def test_change_is_stored_and_a_rerun_replaces_its_pair(
    joplin: sitewatch.Catalog, tmp_path: Path
) -> None:
    report = change_site(joplin, "joplin", out=tmp_path / "a")
    stored = load_change(joplin, "joplin")
    assert len(stored) == 1
    pair, made = stored[0], report.pairs[0]
    assert (pair.before, pair.after) == (made.before, made.after)
    assert pair.metric and pair.compared_m2 == pytest.approx(made.compared_m2)
    assert pair.area() == pytest.approx(made.changed_m2() or 0.0)
    assert pair.area("removed") == pytest.approx(made.changed_m2(ChangeKind.REMOVED) or 0.0)
    assert len(pair.regions) == len(made.regions) > 0
    assert all(r.wgs84_wkt and r.wgs84_wkt.startswith(("POLYGON", "MULTIPOLYGON"))
               for r in pair.regions)  # fmt: skip
    assert pair.map_path == str(made.map_path)
    with joplin.session() as s:
        run = s.get(Run, report.run_id)
        assert run is not None and (run.stage, run.method, run.status) == ("change", "irmad", "ok")
    # another method over the same two dates replaces the pair and its regions
    again = change_site(joplin, "joplin", method=ChangeMethod.CVA)
    stored = load_change(joplin, "joplin")
    assert [p.method for p in stored] == ["cva"]
    assert len(stored[0].regions) == len(again.pairs[0].regions)
    with joplin.session() as s:
        assert s.scalar(select(func.count(ChangePair.id))) == 1
        kept = s.scalar(select(func.count(ChangedRegion.id)))
        assert kept == len(again.pairs[0].regions)


def test_destruction_and_construction_claims_are_checked_against_the_change(
    joplin: sitewatch.Catalog,
) -> None:
    # before any change is stored the claim cannot be checked, and says how to fix that
    early = _claim(joplin, "destruction", date(2011, 5, 20), date(2011, 5, 25))
    v = check_claim(get_claim(joplin, early), load_monitoring(joplin, "joplin"))
    assert v.status == "not_observable" and "sitewatch change joplin" in v.reasons[0]
    change_site(joplin, "joplin")
    m = load_monitoring(joplin, "joplin")
    removed = m.pixel_change[0].area("removed")
    assert removed > 10 * MIN_STRUCTURE_M2  # the tornado's path
    v = check_claim(get_claim(joplin, early), m)
    # the rules would support it, but no change method has measured accuracy yet
    assert v.status == "consistent", v.reasons
    assert "would have supported it" in v.reasons[0] and "not conclusive" in v.reasons[0]
    assert f"{removed:,.0f} m² of structure gone" in v.reasons[1]
    assert any("outside the window" in c for c in v.caveats)  # the pair starts on 05-01
    [ev] = v.change
    dates = ("2011-05-01", "2011-05-23")
    assert (ev["before_date"], ev["after_date"], ev["kind"]) == (*dates, "removed")
    assert ev["unit"] == "m2" and ev["coordinates"] == "lonlat"
    assert 0 < len(ev["outlines"]) <= 50 and ev["outlines"][0]["geometry"]["type"] in (
        "Polygon", "MultiPolygon",
    )  # fmt: skip
    assert v.to_dict()["change_evidence"] == v.change
    # a window the compared dates do not reach is not observable
    later = _claim(joplin, "construction", date(2012, 1, 1), date(2012, 12, 31))
    v = check_claim(get_claim(joplin, later), m)
    assert v.status == "not_observable" and "2011-05-01→2011-05-23" in v.reasons[0]
    # construction over the same dates: weighed on the structure that appeared
    built = _claim(joplin, "construction", date(2011, 5, 1), date(2011, 5, 23))
    v = check_claim(get_claim(joplin, built), m)
    assert v.status == "consistent" and v.change[0]["kind"] == "appeared"
    appeared = m.pixel_change[0].area("appeared")
    assert f"{appeared:,.0f} m² of new structure" in " ".join(v.reasons)
    assert not any("outside the window" in c for c in v.caveats)  # the pair is the window


def test_the_report_outlines_the_tornado_and_its_numbers_are_the_twin(
    joplin: sitewatch.Catalog, tmp_path: Path
) -> None:
    import json
    import re

    from sitewatch.report.render import write_report
    from tests.report.test_report_data import _at, _Spans

    no_change = write_report(joplin, "joplin", tmp_path / "before.html").html.read_text()
    assert "No pixel change is stored for joplin" in no_change
    change_site(joplin, "joplin")
    _claim(joplin, "destruction", date(2011, 5, 22), date(2011, 5, 23))
    files = write_report(joplin, "joplin", tmp_path / "report.html")
    html, twin = files.html.read_text(), json.loads(files.json.read_text())
    [row] = twin["pixel_change"]
    stored = load_change(joplin, "joplin")[0]
    assert row["unit"] == "m2" and row["removed"] == round(stored.area("removed"))
    assert row["changed_share"] > 0.3 and twin["pixel_change_figures"] == [row]
    parser = _Spans()
    parser.feed(html)
    keys = [k for k, _ in parser.found if k.startswith("pixel_change.")]
    assert len(keys) == 7  # compared, changed, its share, three kinds, regions
    for key, text in parser.found:
        assert float(text) == pytest.approx(float(_at(twin, key)), abs=0), key
    # the two dates side by side, each an inline JPEG with the regions drawn in red/orange
    section = html[html.index('id="pixel-change"') : html.index('id="claims"')]
    jpegs = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', section)
    assert len(jpegs) == 2
    import base64
    import io

    import numpy as np
    from PIL import Image as PILImage

    before = np.asarray(PILImage.open(io.BytesIO(base64.b64decode(jpegs[0]))).convert("RGB"))
    red = (before[..., 0] > 200) & (before[..., 1] < 90) & (before[..., 2] < 90)
    assert red.mean() > 0.005  # removed regions outlined on the earlier date
    # the destruction claim is in the report with its verdict and reasons
    [claim] = twin["claims"]
    assert claim["status"] == "consistent" and claim["change_evidence"][0]["kind"] == "removed"
    assert "structure gone" in html


def test_axe_finds_nothing_to_fix_in_the_change_section(
    joplin: sitewatch.Catalog, tmp_path: Path
) -> None:
    from sitewatch.report.render import write_report
    from tests.accessibility import axe_violations
    from tests.report.test_report_formats import CHROMIUM

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra")
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    change_site(joplin, "joplin")
    _claim(joplin, "destruction", date(2011, 5, 22), date(2011, 5, 23))
    files = write_report(joplin, "joplin", tmp_path / "r.html")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(files.html.as_uri())
        assert page.locator("#pixel-change ~ section.pair img").count() == 2
        found = axe_violations(page, ("moderate", "serious", "critical"))
        browser.close()
    assert found == []


# a change run of the Joplin site killed (SIGKILL) inside its storing transaction, after the
# earlier run's rows of the same pair were deleted and the first new region was made
KILLED_WHILE_STORING = """
import os, signal, sys
import sitewatch.change.site as site
from sitewatch import Catalog
from sitewatch.change import ChangeMethod, change_site

def killed(*args):
    os.kill(os.getpid(), signal.SIGKILL)

site._row = killed
change_site(Catalog(sys.argv[1]), "joplin", method=ChangeMethod.CVA)
"""


def test_a_change_run_killed_while_storing_keeps_the_earlier_rows(
    joplin: sitewatch.Catalog,
) -> None:
    import signal
    import subprocess
    import sys

    from sitewatch.store.models import RunStatus

    first = change_site(joplin, "joplin")
    kept = load_change(joplin, "joplin")
    assert kept[0].method == "irmad" and kept[0].regions
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_STORING, str(joplin.workspace)],
        capture_output=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    reopened = sitewatch.Catalog(joplin.workspace)  # closes the dead process's run
    try:
        assert load_change(reopened, "joplin") == kept  # nothing half-replaced
        with reopened.session() as s:
            runs = s.scalars(select(Run).where(Run.stage == "change").order_by(Run.id)).all()
        assert runs[0].id == first.run_id
        assert [r.status for r in runs] == [RunStatus.OK, RunStatus.INTERRUPTED]
        again = change_site(reopened, "joplin", method=ChangeMethod.CVA)  # and it runs again
        assert [p.method for p in load_change(reopened, "joplin")] == ["cva"]
        assert again.run_id is not None
    finally:
        reopened.close()
