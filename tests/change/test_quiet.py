"""False change on quiet pairs: the level a new quiet pair passes at a stated rate, read from
a change model's metadata, carried by each change run, and what alerts and construction or
destruction claims rest on (the real Joplin pair, the shipped change model)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

import sitewatch
from sitewatch.change import ChangeMethod, change_site, load_change
from sitewatch.change.model import DEFAULT_CHANGE_MODEL, ChangeModel, ChangeModelInfo
from sitewatch.change.quiet import QuietPairs
from sitewatch.claims import ClaimSpec, SourceSpec, add_claim, check_claim, get_claim
from sitewatch.monitor.stored import load_monitoring

SHARES = (0.002, 0.004, 0.001, 0.03, 0.05, 0.008, 0.0005, 0.012)


def test_the_level_is_a_prediction_bound_that_the_rate_inverts() -> None:
    quiet = QuietPairs.of(list(SHARES), "made up")
    one, five = quiet.level(0.01), quiet.level(0.05)
    assert max(SHARES) < one <= 1 and five < one  # rarer alarms need more change
    assert quiet.false_alarm(one) == pytest.approx(0.01, rel=1e-6)
    assert quiet.false_alarm(five) == pytest.approx(0.05, rel=1e-6)
    assert quiet.passes(one * 1.01, 0.01) and not quiet.passes(one * 0.99, 0.01)
    # the same spread measured on more pairs bounds a new pair more tightly
    assert QuietPairs.of(list(SHARES) * 4, "made up").level(0.01) < one
    # a pair that called nothing changed is no evidence of a zero rate
    assert QuietPairs.of([0.0, 0.0, 0.0], "made up").level(0.01) > 0
    # kinds of place get a bound each, and the level is the highest: a quiet airport does not
    # make farmland's seasons look rare, nor one bimodal spread make both look wild
    farm, tarmac = [0.01, 0.02, 0.015, 0.024, 0.012], [0.0002, 0.0005, 0.0, 0.001, 0.0003]
    kinds = QuietPairs.of({"farmland": farm, "airports": tarmac}, "made up")
    assert kinds.level(0.01) == pytest.approx(QuietPairs.of(farm, "x").level(0.01))
    assert kinds.level(0.01) < QuietPairs.of(farm + tarmac, "x").level(0.01)
    assert kinds.false_alarm(kinds.level(0.01)) == pytest.approx(0.01, rel=1e-6)
    assert kinds.shares == tuple(farm + tarmac)
    assert QuietPairs.from_metrics({"quiet_pairs": kinds.to_metrics()}) == QuietPairs.of(
        {"farmland": farm, "airports": [round(v, 6) for v in tarmac]}, "made up"
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"shares": [0.1, 0.2], "source": "x"}, "at least 3"),
        ({"shares": [0.1, 0.2, 1.5], "source": "x"}, "not a fraction"),
        ({"shares": [0.1, 0.2, True], "source": "x"}, "not a fraction"),
        ({"shares": [0.1, 0.2, 0.3], "source": " "}, "needs a source"),
        ({"shares": "0.1"}, "must be"),
        (
            {"shares": {"farmland": [0.1, 0.2, 0.3], "airports": [0.1]}, "source": "x"},
            "of 'airports'",
        ),
        ({"shares": {"farmland": 0.1}, "source": "x"}, "must be"),
        ([0.1, 0.2, 0.3], "must be"),
    ],
)
def test_a_malformed_quiet_entry_is_refused_by_name(raw: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        QuietPairs.from_metrics({"quiet_pairs": raw})
    meta = {"name": "m", "version": "1", "task": "change", "gsd_m": [0.3, 1.0],
            "threshold": 0.5, "metrics": {"quiet_pairs": raw}}  # fmt: skip
    with pytest.raises(ValueError, match=says):
        ChangeModelInfo.from_json(json.dumps(meta))
    with pytest.raises(ValueError, match="false-alarm rate"):
        QuietPairs.of(list(SHARES), "made up").level(1.0)


shipped = pytest.mark.skipif(
    not DEFAULT_CHANGE_MODEL.is_file() or ChangeModel().info.quiet is None,
    reason="the shipped change model carries no quiet-pair figures",
)


def _claim(cat: sitewatch.Catalog, expects: str) -> int:
    source = SourceSpec("media", outlet="Example Wire")
    spec = ClaimSpec(f"{expects} at the site", "joplin", date(2011, 5, 1), date(2011, 5, 23),
                     expects, sources=(source,))  # fmt: skip
    return add_claim(cat, spec)


@shipped
def test_the_tornado_alerts_and_supports_destruction_beyond_quiet_pairs(
    joplin: sitewatch.Catalog, tmp_path: Path
) -> None:
    report = change_site(joplin, "joplin", method=ChangeMethod.MODEL, out=tmp_path)
    assert report.quiet is not None and report.quiet_level is not None
    [pair] = report.pairs
    assert pair.changed_share > report.quiet_level and report.alert(pair) is True
    # a rarer stated rate needs more change
    assert report.quiet.level(0.001) > report.quiet_level
    [row] = csv.DictReader((tmp_path / "change-series.csv").open())
    assert row["alert"] == "true" and float(row["quiet_level_share"]) == pytest.approx(
        report.quiet_level, abs=1e-5
    )
    # the run carries its figures: the stored pair says the same without the model file
    [stored] = load_change(joplin, "joplin")
    assert stored.alert is True and stored.quiet_level == pytest.approx(report.quiet_level)
    assert stored.summary()["false_alarm_per_pair"] == 0.01
    m = load_monitoring(joplin, "joplin")
    v = check_claim(get_claim(joplin, _claim(joplin, "destruction")), m)
    assert v.status == "supported", v.reasons
    assert "once in 100" in v.reasons[0] and "structure gone" in v.reasons[0]
    # the stated level rides with the run: a later release's arithmetic rewrites no alert
    assert stored.level == pytest.approx(report.quiet_level)
    removed, appeared = stored.area("removed"), stored.area("appeared")
    quiet_area = stored.quiet_level * stored.compared
    assert removed > quiet_area
    # construction over the same dates: what appeared is weighed against quiet pairs too
    v = check_claim(get_claim(joplin, _claim(joplin, "construction")), m)
    if appeared <= quiet_area:
        assert v.status == "consistent" and "not beyond what seasons" in " ".join(v.reasons)
    else:
        assert v.status == "supported"


def test_malformed_run_parameters_are_not_trusted(joplin: sitewatch.Catalog) -> None:
    """A catalog edited by hand, or by another release: change that the run's stored
    figures cannot back says nothing of alerts, and nothing fails."""
    from sitewatch.store.models import Run

    report = change_site(joplin, "joplin", method=ChangeMethod.CVA)
    for bad in (["a", "list"], "text", {"quiet_pairs": {"shares": 3}, "false_alarm_per_pair": 0.01},
                {"quiet_pairs": {"shares": [0.1, 0.2, 0.3], "source": "x"},
                 "false_alarm_per_pair": "often"}):  # fmt: skip
        with joplin.session() as s:
            run = s.get(Run, report.run_id)
            assert run is not None
            run.parameters = bad  # type: ignore[assignment]
        [stored] = load_change(joplin, "joplin")
        assert stored.quiet is None and stored.alert is None


def test_a_classic_method_states_no_alert_and_stays_inconclusive(
    joplin: sitewatch.Catalog,
) -> None:
    report = change_site(joplin, "joplin", method=ChangeMethod.CVA)
    assert report.quiet is None and report.alert(report.pairs[0]) is None
    [stored] = load_change(joplin, "joplin")
    assert stored.alert is None and stored.summary()["quiet_level_share"] is None
    v = check_claim(
        get_claim(joplin, _claim(joplin, "destruction")), load_monitoring(joplin, "joplin")
    )
    assert v.status == "consistent" and "not conclusive" in v.reasons[0]
