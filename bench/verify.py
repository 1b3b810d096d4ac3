"""Recycled imagery on the shared Airbus airports: found copies, false "same acquisition"
calls on other dates of one airport, and search speed.

Truth: the shared ``acquisition_id`` (crops of one acquisition are the same pixels) and
edited copies made here from each scene (crop to 20–100 % of it, rescale 0.4–2.5×, JPEG
quality 30–95, colour and contrast edits, rotation up to 5°, mirrored in a third, a border
and a caption in a third). Different acquisitions of one airport are the hard negatives.
Airports are split in two by number: rules are set on the odd ones (``--tune``) and
reported on the even ones (the default), so the figures are not on what set them.

    python bench/verify.py [--data ../shared/datasets] [--tune] [--copies 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from sitewatch.verify import recycled as rc


def edited(path: Path, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """An edited copy of the scene at ``path`` as grey working pixels, and the edits."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    share = rng.uniform(0.2, 1.0)  # of the scene's area kept
    aspect = rng.uniform(0.6, 1.6)
    cw = int(np.clip(np.sqrt(share * w * h * aspect), 64, w))
    ch = int(np.clip(share * w * h / cw, 64, h))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    im = im.crop((x0, y0, x0 + cw, y0 + ch))
    scale = float(np.exp(rng.uniform(np.log(0.4), np.log(2.5))))
    im = im.resize((max(32, round(cw * scale)), max(32, round(ch * scale))), Image.LANCZOS)
    angle = float(rng.uniform(-5, 5))
    im = im.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.3, 1.8))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.6, 1.5))
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.7, 1.3))
    mirror = bool(rng.random() < 1 / 3)
    if mirror:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    border = bool(rng.random() < 1 / 3)
    if border:  # a screenshot: a frame and a caption under the picture
        pad = int(rng.integers(10, 60))
        framed = Image.new("RGB", (im.width + 2 * pad, im.height + 2 * pad + 60), (245, 245, 245))
        framed.paste(im, (pad, pad))
        ImageDraw.Draw(framed).text((pad, im.height + pad + 15), "Satellite image, new", fill=0)
        im = framed
    quality = int(rng.integers(30, 96))
    # read back as sitewatch reads any file (``working_gray``: 0 is no data there too)
    with tempfile.NamedTemporaryFile(suffix=".jpg") as tmp:
        im.save(tmp.name, "JPEG", quality=quality)
        gray, _scale = rc.working_gray(Path(tmp.name))
    edits = {"kept": round(share, 2), "scale": round(scale, 2), "rotation": round(angle, 1),
             "mirror": mirror, "border": border, "quality": quality}  # fmt: skip
    return gray, edits


# pairs the labels call two acquisitions that were checked by eye and are one: the same
# vehicles, aircraft and shadows, resampled at an offset that is not a whole number of
# pixels (3.26, 12.32 px; mean absolute difference 3.5 grey levels once aligned), so
# ``identical`` cannot catch them; reported under label_gaps, not as found or false
AUDITED_SAME = {("b3c7c22d", "fc8f9dc5")}


def identical(a: Path, b: Path, evidence: rc.Evidence) -> bool:
    """Whether two scenes are pixel-identical where they overlap, at the whole-pixel offset
    the evidence found (the shared labels' own test for one acquisition): an audit of the
    labels, for pairs they call different acquisitions."""
    m = evidence.matrix
    if m is None or evidence.mirrored or abs((evidence.scale or 0) - 1) > 0.01:
        return False
    if abs(evidence.rotation_deg or 0) > 0.1:
        return False
    ga = np.asarray(Image.open(a).convert("L"), np.float32)
    gb = np.asarray(Image.open(b).convert("L"), np.float32)
    tx, ty = (int(v) for v in np.round(m[:2, 2]))
    h, w = ga.shape
    x0, y0, x1, y1 = max(0, -tx), max(0, -ty), min(w, gb.shape[1] - tx), min(h, gb.shape[0] - ty)
    if x1 - x0 < 64 or y1 - y0 < 64:
        return False
    diff = np.abs(ga[y0:y1, x0:x1] - gb[y0 + ty : y1 + ty, x0 + tx : x1 + tx])
    return float(diff.mean()) < 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--tune", action="store_true", help="the odd airports (rules set here)")
    parser.add_argument("--copies", type=int, default=2, help="edited copies per scene")
    args = parser.parse_args()
    air = args.data / "airbus-aircraft"
    with open(air / "sites.csv") as fh:
        rows = [r for r in csv.DictReader(fh)
                if (int(r["site_id"].split("-")[1]) % 2 == 1) == args.tune]  # fmt: skip
    acq = {r["image_id"]: r["acquisition_id"] for r in rows}
    site = {r["image_id"]: r["site_id"] for r in rows}
    t0 = time.perf_counter()
    grays, prints, dense = {}, {}, {}
    for r in rows:
        g, s = rc.working_gray(air / "images" / r["image_id"])
        grays[r["image_id"]] = g
        prints[r["image_id"]] = rc.fingerprint(g, s)
        dense[r["image_id"]] = rc.fingerprint(g, s, keep=rc.DENSE)
    fingerprint_s = (time.perf_counter() - t0) / len(rows)
    index = rc.Index(prints.items())

    spent = [0.0, 0]

    def best(
        query_gray: np.ndarray, exclude: str | None, scale: float = 1.0
    ) -> list[tuple[str, rc.Evidence]]:
        """Search and verify; ``scale``: the query's working px per source px, so that the
        evidence's transform is in source pixels (``identical`` reads the files)."""
        started = time.perf_counter()
        try:
            return _best(query_gray, exclude, scale)
        finally:
            spent[0] += time.perf_counter() - started
            spent[1] += 1

    def _best(
        query_gray: np.ndarray, exclude: str | None, scale: float
    ) -> list[tuple[str, rc.Evidence]]:
        q = rc.fingerprint(query_gray, scale)
        qm = rc.fingerprint(rc.mirrored(query_gray), scale)
        out, verifying = [], {}
        for c in index.search(q, qm, exclude=exclude):
            g = rc.mirrored(query_gray) if c.mirrored else query_gray
            if c.mirrored not in verifying:
                verifying[c.mirrored] = rc.fingerprint(g, scale, keep=rc.DENSE)
            f = verifying[c.mirrored]
            out.append((c.key, rc.compare(g, f, grays[c.key], dense[c.key], c.mirrored)))
        return out

    # 1. edited copies: found when a same-acquisition verdict names a scene of its acquisition
    rng = np.random.default_rng(7)
    copies, found, missed = 0, 0, []
    agreements_pos = []
    for r in rows:
        for _ in range(args.copies):
            gray, edits = edited(air / "images" / r["image_id"], rng)
            copies += 1
            verified = best(gray, None)
            hits = [k for k, e in verified if e.verdict == rc.Reuse.SAME_ACQUISITION]
            if any(acq[k] == r["acquisition_id"] for k in hits):
                found += 1
            else:
                top = verified[0][1].agreement if verified else None
                missed.append({"scene": r["image_id"][:8], "agreement": top, **edits})
            agreements_pos += [
                e.agreement
                for k, e in verified
                if acq[k] == r["acquisition_id"] and e.agreement is not None
            ]
    # 2. other dates of one airport: each scene as a query against the others (itself
    # left out); a same-acquisition verdict on a scene of another acquisition is false
    pairs, false, wrong, label_gaps = 0, 0, [], set()
    agreements_neg = []
    by_site = defaultdict(list)
    for k in prints:
        by_site[site[k]].append(k)
    for k in prints:
        others = [o for o in by_site[site[k]] if acq[o] != acq[k]]
        pairs += len(others)
        for o, e in best(grays[k], k, prints[k].scale):
            if acq[o] == acq[k]:
                continue
            if e.agreement is not None:
                agreements_neg.append(e.agreement)
            if e.verdict == rc.Reuse.SAME_ACQUISITION:
                pair = tuple(sorted((k[:8], o[:8])))
                if pair in AUDITED_SAME or identical(air / "images" / k, air / "images" / o, e):
                    label_gaps.add(tuple(sorted((k[:8], o[:8]))))  # the labels are wrong
                    pairs -= 1
                    continue
                false += 1
                wrong.append(f"{k[:8]}→{o[:8]} agreement {e.agreement:.2f}")
    # 3. crops of one acquisition found from each other (natural edits: none), where they
    # overlap by ≥ 20 % (their exact offsets as bench/registration.py finds them)
    from registration import _crop_offsets

    groups = defaultdict(list)
    for k in prints:
        groups[acq[k]].append(air / "images" / k)
    offsets = _crop_offsets({a: ps for a, ps in groups.items() if len(ps) > 1})
    crop_pairs, crop_found, crop_missed = 0, 0, []
    for (pa, pb), t in offsets.items():
        share = (1 - abs(t[0, 2]) / 2560) * (1 - abs(t[1, 2]) / 2560)
        if abs(t[0, 2]) >= 2560 or abs(t[1, 2]) >= 2560 or share < 0.2:
            continue
        for a, b in ((pa.name, pb.name), (pb.name, pa.name)):
            crop_pairs += 1
            ok = any(k == b and e.verdict == rc.Reuse.SAME_ACQUISITION
                     for k, e in best(grays[a], a))  # fmt: skip
            crop_found += ok
            if not ok:
                crop_missed.append(f"{a[:8]}→{b[:8]} ({share:.0%} overlap)")
    # 4. speed: searching an index of 2,000 fingerprints (these, repeated)
    big = rc.Index((f"{k}#{i}", f) for i in range(2000 // len(prints) + 1)
                   for k, f in prints.items())  # fmt: skip
    q = next(iter(prints.values()))
    t1 = time.perf_counter()
    for _ in range(3):
        big.search(q, q)
    per_query = (time.perf_counter() - t1) / 3
    print(json.dumps({
        "airports": "odd (tuning)" if args.tune else "even (reported)",
        "scenes": len(rows),
        "edited_copies": copies,
        "edited_copies_found": found / copies,
        "missed": missed[:20],
        "crop_pairs": crop_pairs,
        "crop_pairs_found": crop_found / crop_pairs if crop_pairs else None,
        "crop_pairs_missed": crop_missed,
        "other_date_pairs": pairs,
        "other_date_called_same": false / pairs if pairs else None,
        "wrongly_called": wrong[:20],
        # pairs the labels call different acquisitions that are pixel-identical crops
        # (left out of other_date_pairs)
        "label_gaps": sorted("/".join(g) for g in label_gaps),
        "agreement_copies_p5_median": [
            float(np.percentile(agreements_pos, 5)), float(np.median(agreements_pos))
        ] if agreements_pos else None,
        "agreement_other_dates_median_p95_max": [
            float(np.median(agreements_neg)), float(np.percentile(agreements_neg, 95)),
            float(np.max(agreements_neg))] if agreements_neg else None,
        "fingerprint_s_per_image": fingerprint_s,  # index and verification keypoints
        "query_s": spent[0] / max(spent[1], 1),  # fingerprint, search and verify one query
        "index_images": len(big),
        "images_searched_per_s": len(big) / per_query,
        "seconds": time.perf_counter() - t0,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
