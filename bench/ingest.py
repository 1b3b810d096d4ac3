"""Ingest throughput: files/s and MB/s for real demo JPEGs and a generated large GeoTIFF.

    python bench/ingest.py [--large-side 8000]

Prints one JSON object. Each case runs in a fresh temporary workspace.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from synthetic import synthetic_geotiff

import sitewatch

ROOT = Path(__file__).resolve().parents[1]


def timed_ingest(files: list[Path], options: sitewatch.IngestOptions) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        catalog = sitewatch.Catalog(Path(tmp) / "ws")
        start = time.perf_counter()
        report = sitewatch.ingest(catalog, files, options)
        seconds = time.perf_counter() - start
        assert report.ok, report.outcomes
        catalog.close()
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    return {
        "files": len(files),
        "megabytes": round(megabytes, 1),
        "seconds": round(seconds, 3),
        "files_per_s": round(len(files) / seconds, 2),
        "mb_per_s": round(megabytes / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large-side", type=int, default=8000)
    args = parser.parse_args()
    demo = sorted((ROOT / "examples" / "airport").glob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        big = synthetic_geotiff(Path(tmp) / "large.tif", args.large_side)
        result = {
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
            f"python {platform.python_version()}",
            "demo_jpegs_copy": timed_ingest(demo, sitewatch.IngestOptions()),
            f"geotiff_{args.large_side}px_copy": timed_ingest(
                [big], sitewatch.IngestOptions(allow_undated=True)
            ),
            f"geotiff_{args.large_side}px_reference": timed_ingest(
                [big], sitewatch.IngestOptions(allow_undated=True, store="reference")
            ),
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
