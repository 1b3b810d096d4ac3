"""Monitored counts against ground truth, per airport and date, inside the same footprint.

    python bench/counts.py [--data ../shared/datasets/airbus-aircraft]

Every Airbus airport seen on two or more dates goes through the shipped pipeline (ingest one
annotated scene per acquisition with illustrative weekly dates, detect, register to a frame
site on the first scene, monitor). For each date the monitored count (objects whose centre
lies in site ∩ footprint) is compared with the shared labels' count in the same region
(duplicates dropped), and for each consecutive pair the net change inside their common
footprint with the labels' net change there. Airports the shipped detector never trained on
(its validation fold, where it has one) are reported apart: on the others its counts are
optimistic. The shipped v2 is trained on every airport: its held-out counts are the
cross-validated ones of ``bench/aircraft_model.py``.
Prints JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import select

from sitewatch import Catalog, add_frame_site, import_labels, monitor_site, register_site
from sitewatch.detect.stage import run_detector
from sitewatch.detect.train.data import read_sites, site_folds
from sitewatch.frame import project
from sitewatch.ingest import Dated, IngestOptions, Provenance, ingest
from sitewatch.register import features as ft
from sitewatch.register.georef import footprint_in
from sitewatch.register.imagery import load_gray
from sitewatch.register.site import frame_matrix, registrations, site_polygon
from sitewatch.store.models import Label

SHIPPED = Path(__file__).parents[1] / "src" / "sitewatch" / "models" / "aircraft.json"


def held_out_fold(sites: dict) -> dict[str, bool]:
    """Per airport, whether the shipped detector never trained on it: the airports of its
    training run's validation fold, none for a model trained on every airport (v2; its
    held-out figures come from cross-validation, ``bench/aircraft_model.py``)."""
    train = json.loads(SHIPPED.read_text()).get("train", {})
    fold = -1 if train.get("fold") is None else int(train["fold"])
    k = int(train.get("folds") or 5)
    folds = site_folds(sites, k)
    return {site: fold >= 0 and f == fold for site, f in folds.items()}


def truth_centres(s, image, matrix) -> np.ndarray:
    rows = s.scalars(select(Label).where(Label.image_id == image.id, ~Label.duplicate)).all()
    if not rows:
        return np.zeros((0, 2))
    centres = np.array([[(r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2] for r in rows])
    return project(matrix, centres)


def hub(scenes: list[Path]) -> int:
    """The scene that registers directly with most others: the airport's frame.

    (A frame site's reference is the analyst's choice; here it is made for them. Some
    acquisitions of an airport overlap none of the others.)
    """
    cfg = ft.MatchConfig()
    grays = [load_gray(p, cfg.max_side)[0] for p in scenes]
    feats = [ft.extract(g, cfg) for g in grays]
    links = [0] * len(scenes)
    for i, j in itertools.combinations(range(len(scenes)), 2):
        if ft.register(feats[i], feats[j], cfg, grays[i].shape).ok:
            links[i] += 1
            links[j] += 1
    return int(np.argmax(links))


def add_airport(cat: Catalog, name: str, scenes: list[Path]) -> None:
    """A frame site on the hub scene; one scene per acquisition, illustrative weekly dates."""
    t0 = datetime(2025, 1, 6, tzinfo=UTC)
    first = hub(scenes)
    order = [first, *(i for i in range(len(scenes)) if i != first)]  # the hub goes in first
    for i in order:
        path, day = scenes[i], t0 + timedelta(days=7 * i)
        when = Provenance(acquired=Dated(day, "bench"),
                          date_is_illustrative=True)  # fmt: skip
        ingest(cat, [path], IngestOptions(provenance=when))
        if i == first:
            add_frame_site(cat, name, str(path))
        else:
            ingest(cat, [path], IngestOptions(site=name))


def airport(cat: Catalog, name: str) -> list[dict]:
    with cat.session() as s:
        images = [ln.image for ln in cat.get_site(s, name).image_links]
    run_detector(cat, images)
    register_site(cat, name)
    result = monitor_site(cat, name, write_chips=False)
    rows = []
    with cat.session() as s:
        site = cat.get_site(s, name)
        polygon = site_polygon(site, site.reference_image)
        regs = registrations(s, site)
        views = {}
        for c in result.counts:
            if not c.used:
                rows.append({"site": name, "scene": c.name, "used": False, "reason": c.reason})
                continue
            image = cat.find_image(s, c.sha256)
            matrix = frame_matrix(regs[image.id])
            seen = polygon.intersection(footprint_in((image.width, image.height), matrix))
            truth = truth_centres(s, image, matrix)
            n_truth = int(shapely.contains_xy(seen, truth[:, 0], truth[:, 1]).sum())
            views[c.sha256] = (seen, truth, c)
            rows.append({"site": name, "scene": c.name, "used": True, "partial": c.partial,
                         "coverage": round(c.coverage, 3), "detected": c.count,
                         "estimate": round(c.estimate, 1), "low": round(c.low, 1),
                         "high": round(c.high, 1), "truth": n_truth})  # fmt: skip
        for p in result.pairs:
            a, b = views.get(p.before), views.get(p.after)
            if a is None or b is None:
                continue
            common = a[0].intersection(b[0])
            net_truth = int(shapely.contains_xy(common, b[1][:, 0], b[1][:, 1]).sum()) - int(
                shapely.contains_xy(common, a[1][:, 0], a[1][:, 1]).sum()
            )
            rows.append({"site": name, "pair": [a[2].name, b[2].name],
                         "net_detected": p.tally("appeared") - p.tally("departed"),
                         "net_truth": net_truth})  # fmt: skip
    return rows


def summary(rows: list[dict]) -> dict:
    counts = [r for r in rows if r.get("used")]
    full = [r for r in counts if not r["partial"]]
    err = np.array([r["detected"] - r["truth"] for r in full], float)
    rel = np.array([abs(r["detected"] - r["truth"]) / max(r["truth"], 1) for r in full])
    est = np.array([abs(r["estimate"] - r["truth"]) / max(r["truth"], 1) for r in full])
    inside = [r["low"] <= r["truth"] <= r["high"] for r in counts]
    pairs = [r for r in rows if "pair" in r]
    net = np.array([r["net_detected"] - r["net_truth"] for r in pairs], float)
    return {
        "airports": len({r["site"] for r in rows}),
        "dates_counted": len(counts),
        "dates_full_coverage": len(full),
        "dates_not_used": sum(1 for r in rows if "used" in r and not r["used"]),
        "count_mean_abs_error": float(np.abs(err).mean()) if len(err) else None,
        "count_mean_error": float(err.mean()) if len(err) else None,
        "count_mean_abs_rel_error": float(rel.mean()) if len(rel) else None,
        "estimate_mean_abs_rel_error": float(est.mean()) if len(est) else None,
        "truth_inside_90pct_interval": float(np.mean(inside)) if inside else None,
        "pairs": len(pairs),
        "net_change_mean_abs_error": float(np.abs(net).mean()) if len(net) else None,
        "net_change_exact": float((net == 0).mean()) if len(net) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/airbus-aircraft"))
    args = parser.parse_args()
    sites = read_sites(args.data)
    unseen = held_out_fold(sites)
    scenes: dict[str, dict[str, Path]] = defaultdict(dict)
    for image, (site, acquisition, annotated) in sorted(sites.items()):
        if annotated:
            scenes[site].setdefault(acquisition, args.data / "images" / image)
    rows: dict[str, list[dict]] = {"held_out": [], "trained_on": []}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp) / "ws")
        multi = {k: v for k, v in sorted(scenes.items()) if len(v) >= 2}
        for site, acqs in multi.items():
            add_airport(cat, site, [acqs[k] for k in sorted(acqs)])
        import_labels(cat, args.data / "annotations.csv", name="truth")
        for site in multi:
            part = "held_out" if unseen[site] else "trained_on"
            rows[part] += airport(cat, site)
    out = {k: {"summary": summary(v), "rows": v} for k, v in rows.items()}
    out["seconds"] = round(time.perf_counter() - start)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
