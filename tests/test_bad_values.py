"""Values that must be refused (issue 14, items 6, 8–10), each through the real command line:
exit status 1, ONE error line naming the thing and the cause, no traceback, and the catalog
unchanged (every table's rows, the stored image files). Inputs are built once per module."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from rasterio.transform import Affine
from shapely.geometry import box, mapping
from typer.testing import CliRunner

from sitewatch.cli import app
from tests.conftest import table_counts, write_geotiff, write_jpeg

JOPLIN_AOI = box(-93.5, 36.5, -92.5, 37.5)  # holds write_geotiff's default UTM 15N scene
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)  # nine levels of nine aliases: 9**9 "lol"s (387 M) from 500 bytes


def _deep(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


def _sidecar(folder: Path, name: str, seed: int, data: dict | str) -> None:
    write_jpeg(folder / name, seed=seed)
    body = data if isinstance(data, str) else json.dumps(data)
    (folder / f"{name}.json").write_text(body)


def _write_inputs(p: Path) -> None:
    """Every bad input of the table (and one good folder), in ``p``."""
    p.mkdir(parents=True, exist_ok=True)
    write_geotiff(p / "zero.tif", transform=Affine(0, 0, 500_000, 0, 0, 4_100_000), seed=11)
    nan = float("nan")
    write_geotiff(p / "nan.tif", transform=Affine(nan, 0, 500_000, 0, -0.5, 4e6), seed=12)
    geographic = {"crs": "EPSG:4326"}
    write_geotiff(p / "lon500.tif", transform=Affine(1e-4, 0, 500, 0, -1e-4, 40), **geographic)
    write_geotiff(p / "lat300.tif", transform=Affine(1e-4, 0, 10, 0, -1e-4, 300), **geographic)
    pole = [[0, 80], [120, 80], [-120, 80], [0, 80]]  # each step < 180°: it winds round the pole
    (p / "pole.geojson").write_text(json.dumps({"type": "Polygon", "coordinates": [pole]}))
    (p / "lon500.geojson").write_text(json.dumps(mapping(box(500, 10, 501, 11))))
    (p / "deep.geojson").write_text(_deep())
    (p / "deep-stac.json").write_text(
        '{"type": "Feature", "stac_version": "1.0.0", "x": ' + _deep() + "}"
    )
    _sidecar(p, "deep-sidecar.jpg", 21, '{"acquired": "2024-01-01", "notes": ' + _deep() + "}")
    _sidecar(p, "provider-dict.jpg", 22, {"acquired": "2024-01-01", "provider": {"name": "X"}})
    _sidecar(p, "two-dates.jpg", 23, {"acquired": "2024-01-01", "acquired_at": "2024-01-02"})
    _sidecar(p, "long-notes.jpg", 24, {"acquired": "2024-01-01", "notes": "n" * 10_001})
    _sidecar(p, "js-sidecar.jpg", 25, {"acquired": "2024-01-01", "source_url": "javascript:x()"})
    write_jpeg(p / "plain.jpg", seed=26)
    os.mkfifo(p / "pipe.jpg")
    (p / "no-images").mkdir()
    (p / "no-images" / "readme.txt").write_text("nothing to see")
    (p / "good").mkdir()
    write_jpeg(p / "good" / "scene_20240101.jpg", seed=27)
    (p / "out-folder").mkdir()
    claim = "claims:\n- text: Jets massed\n  site: geo\n"
    (p / "bad-date.yaml").write_text(
        claim + "  sources:\n  - kind: media\n    outlet: Wire\n    date: 2024-02-30\n"
    )
    (p / "laughs.yaml").write_text(LAUGHS + claim.replace("Jets massed", "*i"))
    (p / "deep.yaml").write_text("claims: " + _deep(5_000))
    (p / "dup.yaml").write_text(claim + "  text: Jets left\n")
    (p / "text-list.json").write_text(json.dumps([{"text": ["a", "b"], "site": "geo"}]))
    (p / "js-review.json").write_text(
        json.dumps([{"text": "x", "site": "geo", "review_url": "javascript:alert(1)"}])
    )


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # "{p}" is the inputs folder
    says: tuple[str, ...]  # what the one error line must hold: the thing and the cause
    records_run: bool = False  # a file refused inside a batch: the batch's run is recorded


def ingest(*args: str, says: tuple[str, ...]) -> dict:
    """A file refused inside an ingest batch (undated images are welcome)."""
    return {"args": ("ingest", *args, "--undated"), "says": says, "records_run": True}


JS = "javascript:alert(document.cookie)"
PLAIN = ("ingest", "{p}/plain.jpg", "--undated")  # a good image, with a bad flag after it
CLAIM = ("claim", "add", "--site", "geo", "--text")
CASES = [
    # 8. georeferencing that cannot be real
    Case("zero-pixel-size", **ingest("{p}/zero.tif", says=("zero.tif", "pixel size 0 m"))),
    Case("nan-pixel-size", **ingest("{p}/nan.tif", says=("nan.tif", "non-finite"))),
    Case("longitude-500", **ingest("{p}/lon500.tif", says=("lon500.tif", "longitude 500"))),
    Case("latitude-300", **ingest("{p}/lat300.tif", says=("lat300.tif", "latitude 300"))),
    Case(
        "aoi-round-a-pole",
        ("site", "add", "polar", "--aoi", "{p}/pole.geojson"),
        ("pole.geojson", "winds around a pole"),
    ),
    Case(
        "aoi-longitude-500",
        ("site", "add", "far", "--aoi", "{p}/lon500.geojson"),
        ("lon500.geojson", "not lon/lat", "longitude 501"),
    ),
    # 9. what used to be a traceback
    Case(
        "deep-json-sidecar",
        **ingest("{p}/deep-sidecar.jpg", says=("deep-sidecar.jpg", "more than 64 levels deep")),
    ),
    Case(
        "deep-stac-item",
        **ingest("{p}/deep-stac.json", says=("deep-stac.json", "more than 64 levels deep")),
    ),
    Case(
        "deep-aoi",
        ("site", "add", "deep", "--aoi", "{p}/deep.geojson"),
        ("deep.geojson", "more than 64 levels deep"),
    ),
    Case(
        "nan-in-pixel-polygon",
        ("site", "add", "px", "--reference", "{ref}", "--polygon", "nan,1 20,1 20,20"),
        ("px", "nan,1", "not a finite number"),
    ),
    Case(
        "impossible-date-in-yaml",
        ("claim", "import", "{p}/bad-date.yaml"),
        ("bad-date.yaml", "'2024-02-30' is not a date"),
    ),
    Case("billion-laughs", ("claim", "import", "{p}/laughs.yaml"), ("laughs.yaml", "aliases")),
    Case(
        "deep-yaml", ("claim", "import", "{p}/deep.yaml"), ("deep.yaml", "more than 64 levels deep")
    ),
    Case(
        "bad-date-regex",
        ("ingest", "{p}/good", "--date-regex", "("),
        ("--date-regex", "'('", "not a valid regular expression"),
    ),
    Case(
        "date-regex-without-date-group",
        ("ingest", "{p}/good", "--date-regex", r"_(\d{8})"),
        ("--date-regex", "no (?P<date>…) group"),
    ),
    Case(
        "report-out-is-a-folder",
        ("report", "geo", "--out", "{p}/out-folder"),
        ("--out", "out-folder is a folder"),
    ),
    Case(
        "claim-show-21-digits",
        ("claim", "show", "123456789012345678901"),
        ("no claim 123456789012345678901",),
    ),
    Case("claim-rm-25-digits", ("claim", "rm", "9" * 25), ("no claim " + "9" * 25,)),
    Case(
        "claim-source-25-digits",
        ("claim", "source", "9" * 25, "kind=media;outlet=Wire"),
        ("no claim " + "9" * 25,),
    ),
    Case(
        "closing-tag-in-missing-path",
        ("ingest", "{p}/gone[/x].jpg"),
        ("gone[/x].jpg: no such file or folder",),
    ),
    Case("fifo", **ingest("{p}/pipe.jpg", says=("pipe.jpg", "named pipe (FIFO)"))),
    Case("folder-without-images", ("ingest", "{p}/no-images"), ("no-images", "no images")),
    # 10. what used to be stored silently
    Case(
        "provider-is-a-mapping",
        **ingest("{p}/provider-dict.jpg", says=("provider must be text, not a mapping",)),
    ),
    Case(
        "claim-text-is-a-list",
        ("claim", "import", "{p}/text-list.json"),
        ("text-list.json claim 1", "text must be text, not a list"),
    ),
    Case(
        "acquired-and-acquired_at",
        **ingest("{p}/two-dates.jpg", says=("two-dates.jpg", "both 'acquired' and 'acquired_at'")),
    ),
    Case(
        "duplicate-yaml-key",
        ("claim", "import", "{p}/dup.yaml"),
        ("dup.yaml", "key 'text' appears twice"),
    ),
    Case("far-nan", ("monitor", "geo", "--far", "nan"), ("--far", "nan is not a false-alarm")),
    Case("far-inf", ("monitor", "geo", "--far", "inf"), ("--far", "inf is not")),
    Case("far-negative", ("monitor", "geo", "--far", "-1"), ("--far", "-1 is not")),
    Case(
        "sidecar-notes-over-limit",
        **ingest("{p}/long-notes.jpg", says=("long-notes.jpg", "notes is 10,001 characters long")),
    ),
    Case("claim-text-over-limit", (*CLAIM, "t" * 10_001), ("text is 10,001 characters long",)),
    Case(
        "claim-notes-over-limit",
        (*CLAIM, "t", "--notes", "n" * 20_000),
        ("notes is 20,000 characters long; the limit is 10,000",),
    ),
    Case(
        "site-notes-over-limit",
        ("site", "add", "n", "--aoi", "{p}/../aoi.geojson", "--notes", "n" * 10_001),
        ("notes is 10,001 characters long",),
    ),
    Case(
        "provider-over-limit",
        (*PLAIN, "--provider", "p" * 257),
        ("--provider", "257 characters long; the limit is 256"),
    ),
    Case(
        "escape-code-in-provider",
        (*PLAIN, "--provider", "A\x1b[2J"),
        ("--provider", "control character '\\x1b'"),
    ),
    Case(
        "outlet-over-limit",
        (*CLAIM, "t", "--source", "kind=media;outlet=" + "o" * 300),
        ("source 1", "outlet is 300 characters long"),
    ),
    # 6. only http(s) URLs are stored
    Case(
        "javascript-source-url",
        (*PLAIN, "--source-url", JS),
        ("--source-url", f"'{JS}' is not an http(s) URL"),
    ),
    Case(
        "data-source-url",
        (*PLAIN, "--source-url", "data:text/html,<b>"),
        ("--source-url", "is not an http(s) URL"),
    ),
    Case(
        "source-url-without-host",
        (*PLAIN, "--source-url", "https:///x"),
        ("--source-url", "is not an http(s) URL"),
    ),
    Case(
        "source-url-over-limit",
        (*PLAIN, "--source-url", "https://e.org/" + "x" * 2040),
        ("--source-url", "2,054 characters long; the limit is 2,048"),
    ),
    Case(
        "javascript-url-in-sidecar",
        **ingest("{p}/js-sidecar.jpg", says=("source_url 'javascript:x()' is not an http(s)",)),
    ),
    Case(
        "javascript-claim-source",
        (*CLAIM, "t", "--source", f"kind=media;url={JS}"),
        ("claim source 1", "url 'javascript:", "is not an http(s) URL"),
    ),
    Case(
        "javascript-review-url",
        ("claim", "import", "{p}/js-review.json"),
        ("js-review.json claim 1", "review_url 'javascript:alert(1)' is not an http(s) URL"),
    ),
]


def _cli(ws: Path, args: list[str]):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--workspace", str(ws), *args])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(workspace, inputs, reference sha): a catalog holding a map site with an image, a
    frame site and a claim, so that "unchanged" has rows to compare."""
    root = tmp_path_factory.mktemp("bad-values")
    inputs = root / "in"
    _write_inputs(inputs)
    (root / "aoi.geojson").write_text(json.dumps(mapping(JOPLIN_AOI)))
    ws = root / "ws"
    ref = write_jpeg(root / "ref.jpg", exif_time="2024:01:01 10:00:00", seed=1)
    for args in (
        ["site", "add", "geo", "--aoi", str(root / "aoi.geojson")],
        ["ingest", str(write_geotiff(root / "scene.tif", seed=2)), "--acquired", "2024-01-02"],
        ["site", "add", "frame", "--reference", str(ref)],
        ["claim", "add", "--site", "geo", "--text", "Jets massed", "--expects", "increase"],
    ):
        result = _cli(ws, args)
        assert result.exit_code == 0, result.output
    return ws, inputs, hashlib.sha256(ref.read_bytes()).hexdigest()[:12]


def snapshot(ws: Path) -> dict[str, object]:
    """Row counts of every table, the runs left running, and the stored files."""
    counts = table_counts(ws)
    running = counts.pop("running runs")
    files = sorted(
        str(f.relative_to(ws)) for f in (ws / "images").rglob("*") if not f.name.startswith(".")
    )
    leftovers = [f.name for f in (ws / "images").rglob(".incoming-*")]
    return {"rows": counts, "running": running, "files": files, "leftovers": leftovers}


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (a FIFO opened for reading waits for a writer for ever)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_with_one_line_and_catalog_unchanged(world, case: Case) -> None:  # type: ignore[no-untyped-def]
    ws, inputs, ref = world
    args = [a.replace("{p}", str(inputs)).replace("{ref}", ref) for a in case.args]
    before = snapshot(ws)
    with time_limit(30):
        result = _cli(ws, args)
    after = snapshot(ws)
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for phrase in case.says:
        assert phrase in lines[0], lines[0]
    # the only other output: ingest's summary of the batch
    assert result.stdout in ("", "0 ingested, 0 already present, 1 failed\n"), result.stdout
    if case.records_run:  # the refused batch is recorded, finished, as every ingest run is
        before["rows"]["runs"] += 1  # type: ignore[index]
    assert after == before
