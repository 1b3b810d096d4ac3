"""A full disk: every command says so in one line, exits 1, and the catalog is unchanged.

The catalog lives on a small tmpfs. The command runs as a real process that opens its
catalog and only then finds the disk filled to the last byte, so what is tested is the
command's own writes (rows, chips, reports), not just opening. Mounting needs root, which
CI has; elsewhere these tests skip and say why.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import copy_catalog, sqlite_only

TABLES = (
    "images", "runs", "detections", "observations", "claims", "object_changes", "change_pairs",
    "change_regions",
)  # fmt: skip


# the CLI, with the disk filled right after the command has opened its catalog
FILL_AFTER_OPEN = """
import os, sys
import sitewatch.cli, sitewatch.cli_claims, sitewatch.cli_export, sitewatch.cli_common as common
import sitewatch.cli_change

def opened_then_full():
    catalog = common.catalog()
    fd = os.open(os.environ["FILLER"], os.O_WRONLY | os.O_CREAT)
    for block in (1 << 20, 4096, 1):
        try:
            while os.write(fd, b"\\0" * block):
                pass
        except OSError:
            pass
    os.close(fd)
    return catalog

sitewatch.cli.catalog = sitewatch.cli_claims.catalog = opened_then_full
sitewatch.cli_export.catalog = sitewatch.cli_change.catalog = opened_then_full
sys.argv[0] = "sitewatch"
sitewatch.cli.main()
"""


@dataclass
class FullDisk:
    workspace: Path
    before: dict[str, int]  # the catalog's row counts before the disk filled up
    filler: Path


@pytest.fixture
def full_disk(monitored, tmp_path: Path) -> Iterator[FullDisk]:
    """A copy of the monitored demo workspace on a small tmpfs."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.decode().strip()}")
    try:
        copy_catalog(monitored[0], mount / "ws").close()
        before = counts(mount / "ws")
        yield FullDisk(mount / "ws", before, mount / "filler")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def counts(workspace: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(f"file:{workspace / 'catalog.sqlite'}?mode=ro", uri=True) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


CASES = {
    "claim add": [
        "claim",
        "add",
        "--site",
        "apt",
        "--expects",
        "increase",
        "--from",
        "2024-04-01",
        "--to",
        "2024-06-30",
        "--text",
        "More aircraft.",
        "--source",
        "kind=media;outlet=Example;date=2024-06-01;url=https://example.org/a",
    ],
    "detect": ["detect", "--site", "apt", "--force"],
    "monitor": ["monitor", "apt"],
    "change": ["change", "apt", "--out", "{ws}/c"],
    "report --pdf": ["report", "apt", "--out", "{ws}/r.html", "--pdf", "{ws}/r.pdf"],
    "detect --coco": ["detect", "--site", "apt", "--coco", "{ws}/d.json"],
    "export csv": ["export", "apt", "{ws}/d.csv"],
    # GDAL writes the GeoPackage: its own "disk full" must come out as ours
    "export gpkg": ["export", "joplin", "{ws}/j.gpkg"],
}
OUTPUTS = ("r.html", "r.pdf", "d.json", "d.csv", "j.gpkg", "c")


@sqlite_only(
    "the catalog's database file shares the filled disk (a PostgreSQL server's is its own)"
)
@pytest.mark.parametrize("case", list(CASES))
def test_a_full_disk_is_one_line_and_leaves_the_catalog_unchanged(
    full_disk: FullDisk, case: str
) -> None:
    # find_spec, not an import: importing WeasyPrint flips Pillow's LOAD_TRUNCATED_IMAGES for
    # the whole test process, and later truncated-JPEG tests would then ingest their files
    if case == "report --pdf" and importlib.util.find_spec("weasyprint") is None:
        pytest.skip("the PDF report needs the pdf extra")
    ws = full_disk.workspace
    if case == "export gpkg":
        if importlib.util.find_spec("pyogrio") is None:
            pytest.skip("GeoPackage export needs the gis extra")
        _add_joplin(full_disk)
    args = [a.replace("{ws}", str(ws)) for a in CASES[case]]
    done = subprocess.run(
        [sys.executable, "-c", FILL_AFTER_OPEN, "--workspace", str(ws), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FILLER": str(full_disk.filler)},
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert errors and all("disk is full" in line for line in errors), done.stderr
    assert "Traceback" not in done.stderr
    assert not any((ws / name).exists() for name in OUTPUTS)
    assert [p for p in ws.rglob(".*") if p.is_file() and p.suffix != ".lock"] == []
    full_disk.filler.unlink()  # room again: the catalog opens, unchanged
    assert counts(ws) == full_disk.before


def _add_joplin(full_disk: FullDisk) -> None:
    """A georeferenced site beside the airport, so a map export has something to write."""
    from sitewatch import Catalog, add_geo_site
    from sitewatch.ingest import IngestOptions, ingest
    from tests.conftest import JOPLIN

    catalog = Catalog(full_disk.workspace)
    add_geo_site(catalog, "joplin", JOPLIN / "aoi.geojson")
    assert ingest(catalog, [JOPLIN / "joplin-pre.tif"], IngestOptions(allow_undated=True)).ok
    catalog.close()
    full_disk.before = counts(full_disk.workspace)
