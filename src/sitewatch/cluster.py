"""Where per-image work runs: in this process, on a local Dask cluster (``--workers N``), or
on an existing Dask cluster (``--scheduler tcp://HOST:PORT``).

Stages take a ``concurrent.futures`` executor and submit plain-value tasks to it; this module
is the one place that makes one. Dask is an extra (``sitewatch[scale]``), imported only here
and only when asked for. Workers open their own files (GDAL handles are not shared), so a
remote worker must see the workspace's image store at the same path as the client (a shared
mount); see docs/SCALE.md.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sitewatch.errors import BadInputError, MissingDependencyError

MAX_LOCAL_WORKERS = 64
# what a scheduler address may look like: tcp://host:port, tls://…, or host:port
ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|inproc)://)?[\w.\-\[\]:]+:(\d{1,5})$")
WORKERS_WAIT_S = 30  # how long an existing cluster may take to show one usable worker


@dataclass(frozen=True)
class Compute:
    """An executor for per-image tasks (None: compute in this process), the onnxruntime
    threads each task may use (None: each worker decides from its own cores) and the Dask
    dashboard's address when there is one."""

    executor: Executor | None
    threads: int | None
    dashboard: str | None = None
    where: str = "this process"


def _dask() -> tuple[type, type]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise MissingDependencyError(
            "--workers / --scheduler", f"Dask distributed is not installed ({exc})",
            "pip install 'sitewatch[scale]'",
        ) from exc  # fmt: skip
    return Client, LocalCluster


@contextmanager
def compute_on(workers: int = 1, scheduler: str | None = None) -> Iterator[Compute]:
    """Run per-image work here (``workers`` 1, no scheduler), on ``workers`` local Dask
    worker processes of one thread each (each task gets its share of the cores for
    onnxruntime), or on the Dask cluster at ``scheduler``."""
    if scheduler is None and not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise BadInputError("--workers", f"{workers} is not in 1…{MAX_LOCAL_WORKERS}")
    if scheduler is not None and workers != 1:
        raise BadInputError(
            "--workers", "a local cluster (--workers) and an existing one (--scheduler) "
            "cannot both be used", "give one of them",
        )  # fmt: skip
    address = ADDRESS.match(scheduler) if scheduler is not None else None
    if scheduler is not None and (address is None or not 0 < int(address[1]) < 65536):
        raise BadInputError(
            "--scheduler", f"{scheduler[:200]!r} is not a Dask scheduler address",
            "give it as tcp://HOST:PORT (what `dask scheduler` prints)",
        )  # fmt: skip
    if scheduler is None and workers == 1:
        yield Compute(None, None)
        return
    Client, LocalCluster = _dask()
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise BadInputError(
                "--scheduler", f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                "start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or "
                "check the address and the firewall",
            ) from exc  # fmt: skip
        with client:
            _check_workers(client, scheduler)
            yield Compute(client.get_executor(), None, client.dashboard_link, scheduler)
        return
    # workers are spawned processes (Dask's default), so none inherits this process's
    # database connections; one thread each, so onnxruntime gets the cores instead
    try:  # the dashboard on loopback only: it has no access control
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
    except (OSError, RuntimeError, TimeoutError) as exc:
        raise BadInputError(
            "--workers", f"could not start {workers} local Dask workers ({exc})",
            "try fewer workers, or check memory and open-file limits",
        ) from exc  # fmt: skip
    with cluster, Client(cluster, set_as_default=False) as client:
        threads = max(1, (os.cpu_count() or 1) // workers)
        yield Compute(
            client.get_executor(), threads, client.dashboard_link, f"{workers} local workers"
        )


def _version() -> str:
    """What a worker runs (a probe task)."""
    from sitewatch import __version__

    return __version__


def _check_workers(client: Any, scheduler: str) -> None:
    """An existing cluster must have a worker that runs this sitewatch version: otherwise
    every task would wait forever or fail on arrival. One line, not a hang."""
    from sitewatch import __version__

    try:
        client.wait_for_workers(1, timeout=WORKERS_WAIT_S)
        theirs = client.submit(_version, pure=False).result(timeout=WORKERS_WAIT_S)
    except Exception as exc:  # a timeout, or a worker that cannot import sitewatch
        raise BadInputError(
            "--scheduler", f"no usable worker at the Dask scheduler {scheduler} within "
            f"{WORKERS_WAIT_S} s ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]})",
            "start workers with sitewatch installed: `dask worker ADDRESS` on each machine",
        ) from exc  # fmt: skip
    if theirs != __version__:
        raise BadInputError(
            "--scheduler", f"its workers run sitewatch {theirs}, this is {__version__}",
            "install the same version on the workers",
        )  # fmt: skip


def worker_threads() -> int | None:
    """Inside a Dask worker: the cores of this machine shared among the worker's task
    slots; elsewhere None (the library's own default)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    slots = max(1, int(getattr(worker.state, "nthreads", 1) or 1))
    return max(1, (os.cpu_count() or 1) // slots)
