"""Start-up cost: `import sitewatch`, `sitewatch --version` and `--help` (median of runs).

    python bench/import_time.py [--runs 7]

Each run is a fresh interpreter (what a user's shell or a notebook kernel pays). Prints JSON.
Targets (issue 16): import under 0.3 s, `--version` under 0.5 s on the 2-core dev machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def modules_loaded(code: str) -> int:
    probe = f"import sys; {code}; print(len(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)
    return int(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    # the console script beside this interpreter (the venv's), else the one on PATH
    beside = Path(sys.executable).with_name("sitewatch")
    cli = str(beside) if beside.exists() else shutil.which("sitewatch") or "sitewatch"
    result = {
        "python_bare_s": timed([sys.executable, "-c", "pass"], runs),
        "import_sitewatch_s": timed([sys.executable, "-c", "import sitewatch"], runs),
        "import_sitewatch_modules": modules_loaded("import sitewatch"),
        "import_api_s": timed([sys.executable, "-c", "import sitewatch.api"], runs),
        "import_api_modules": modules_loaded("import sitewatch.api"),
        "cli_version_s": timed([cli, "--version"], runs),
        "cli_help_s": timed([cli, "--help"], runs),
        "runs": runs,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
