"""The CLI as a user drives it: a real workspace, real demo files, exit codes and output."""

import re
from pathlib import Path

from typer.testing import CliRunner

from sitewatch import __version__
from sitewatch.cli import app
from tests.conftest import AIRPORT, JOPLIN, write_jpeg

REF = str(AIRPORT / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg")


def run(ws: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--workspace", str(ws), *args])


def test_demo_flow(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run(ws, "site", "add", "apt", "--reference", REF).exit_code == 0
    result = run(ws, "ingest", str(AIRPORT), "--site", "apt")
    assert result.exit_code == 0, result.output
    assert "4 ingested, 1 already present, 0 failed" in result.stdout
    result = run(ws, "labels", "import", str(AIRPORT / "annotations.csv"), "--name", "truth")
    assert result.exit_code == 0 and "162 boxes on 5 images" in result.stdout
    assert "29 boxes repeat another box" in result.stdout
    result = run(ws, "site", "show", "apt")
    assert result.exit_code == 0
    assert "2024-03-04 *" in result.stdout and "date illustrative" in result.stdout
    assert "CC BY-NC-SA 4.0" in result.stdout
    labels = [line.split("│")[-3].strip() for line in result.stdout.splitlines() if " * " in line]
    assert labels == ["29", "24", "21", "30", "29"]  # the 58 boxes of a5 hold 29 aircraft
    result = run(ws, "site", "add", "joplin", "--aoi", str(JOPLIN / "aoi.geojson"))
    assert result.exit_code == 0
    result = run(
        ws,
        "ingest",
        str(JOPLIN / "joplin-pre.tif"),
        "--acquired",
        "2011-05-01",
        "--provider",
        "Maxar Open Data",
        "--licence",
        "CC BY-NC 4.0",
    )
    assert "→ site joplin" in result.stdout
    listing = run(ws, "site", "list").stdout
    assert "apt" in listing and "joplin" in listing and "2011-05-01" in listing
    out = tmp_path / "apt.csv"
    result = run(ws, "labels", "export", str(out), "--format", "csv", "--site", "apt")
    assert result.exit_code == 0 and out.is_file() and "without map coordinates" in result.stdout
    # the airport scenes have no georeference: no GeoJSON of pixels pretending to be degrees
    geojson = tmp_path / "apt.geojson"
    result = run(ws, "labels", "export", str(geojson), "--format", "geojson", "--site", "apt")
    assert result.exit_code == 1 and "no map coordinates" in result.stderr
    assert result.stderr.count("\n") == 1 and not geojson.exists()
    result = run(ws, "site", "rm", "joplin")
    assert result.exit_code == 0 and "images kept" in result.stdout


def test_usage_errors_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    both = run(ws, "site", "add", "x", "--aoi", str(JOPLIN / "aoi.geojson"), "--reference", REF)
    assert both.exit_code == 1 and "exactly one of --aoi or --reference" in both.stderr
    missing = run(ws, "site", "show", "ghost")
    assert missing.exit_code == 1 and missing.stderr.count("\n") == 1
    fmt = run(ws, "labels", "export", str(tmp_path / "o.json"), "--format", "shapefile")
    assert fmt.exit_code == 1 and "unknown export format 'shapefile'" in fmt.stderr
    assert "use coco or one of geojson" in fmt.stderr


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout


def test_register_and_monitor_from_the_command_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run(ws, "site", "add", "apt", "--reference", REF).exit_code == 0
    lonely = run(ws, "register", "apt")
    assert lonely.exit_code == 1 and "need two or more" in lonely.stderr
    assert lonely.stderr.count("\n") == 1
    assert run(ws, "register", "ghost").exit_code == 1
    assert run(ws, "ingest", str(AIRPORT), "--site", "apt").exit_code == 0
    early = run(ws, "monitor", "apt")
    assert early.exit_code == 1 and "sitewatch register apt" in early.stderr
    assert run(ws, "detect", "--site", "apt").exit_code == 0
    result = run(ws, "register", "apt")
    assert result.exit_code == 0, result.output
    assert re.search(r"chain(\+joint)? via", result.stdout) and "reference" in result.stdout
    result = run(ws, "monitor", "apt", "--out", str(tmp_path / "out"), "--no-chips")
    assert result.exit_code == 0, result.output
    assert "2024-06-10 *" in result.stdout and "partial coverage" in result.stdout
    assert "no buildup episode" in result.stdout and "build the baseline" in result.stdout
    assert (tmp_path / "out" / "apt-counts.csv").is_file()
    bad = run(ws, "monitor", "apt", "--far", "0")
    assert bad.exit_code == 1 and "--far" in bad.stderr


def test_messages_keep_square_brackets(tmp_path: Path) -> None:
    bad = tmp_path / "scene[web].jpg"
    bad.write_bytes(b"not a jpeg")
    result = run(tmp_path / "ws", "ingest", str(bad))
    assert result.exit_code == 1
    assert "scene[web].jpg: not an image" in result.stderr  # not eaten as rich markup


def test_file_names_and_provenance_print_as_given(tmp_path: Path) -> None:
    """Rich markup in a file name or in provenance is text, never markup (issue 14)."""
    ws, inputs = tmp_path / "ws", tmp_path / "in"
    (inputs / "a[").mkdir(parents=True)
    red = write_jpeg(inputs / "[red]x.jpg", exif_time="2024:01:01 10:00:00", seed=1)
    nested = write_jpeg(inputs / "a[" / "b].jpg", exif_time="2024:01:02 10:00:00", seed=2)
    added = run(ws, "site", "add", "apt", "--reference", str(red))
    assert added.exit_code == 0 and "[red]x.jpg" in added.stdout
    provenance = ("--provider", "[bold]Maxar[/bold]", "--credit", "[i]© Maxar[/i]")
    result = run(ws, "ingest", str(nested), "--site", "apt", *provenance, "--licence", "CC")
    assert result.exit_code == 0 and "a[/b].jpg: ingested" in result.stdout
    shown = run(ws, "site", "show", "apt")
    assert shown.exit_code == 0, shown.output
    for text in ("[red]x.jpg", "b].jpg", "[bold]Maxar[/bold]", "imagery: [i]© Maxar[/i] (CC)"):
        assert text in shown.stdout
