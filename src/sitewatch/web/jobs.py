"""Background jobs: detect → register → monitor on a site, one job at a time.

One worker thread, because every stage writes the catalog and SQLite has one writer; a job
queued behind another waits, visibly ("queued"). A job's state is kept in memory: the store
holds the results (runs, detections, observations), a job only reports progress. Given a
Dask scheduler (``serve --scheduler``), a job's per-image work (detect, register) runs on
that cluster, as ``sitewatch detect --scheduler`` would.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sitewatch.cluster import compute_on
from sitewatch.dates import iso
from sitewatch.errors import BadInputError, NotFoundError, OutputError, SitewatchError, StoreError
from sitewatch.store.catalog import Catalog

log = logging.getLogger("sitewatch.web")

STAGES = ("detect", "register", "monitor")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Job:
    id: str
    site: str
    stages: list[str]
    status: JobStatus = JobStatus.QUEUED
    stage: str | None = None
    done: int = 0  # units finished in the current stage
    total: int = 0
    message: str = ""
    created_at: str = field(default_factory=lambda: iso(datetime.now(UTC)))
    finished_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobRunner:
    """Runs pipeline stages for a site in a background thread and tracks their progress."""

    def __init__(self, catalog: Catalog, scheduler: str | None = None) -> None:
        self.catalog = catalog
        self.scheduler = scheduler
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sitewatch-job")

    def submit(self, site: str, stages: list[str]) -> Job:
        unknown = [s for s in stages if s not in STAGES]
        if unknown or not stages:
            raise BadInputError(
                "stages", f"unknown or no stages {unknown}", f"choose from {', '.join(STAGES)}"
            )
        with self.catalog.session() as s:
            self.catalog.get_site(s, site)  # unknown site: refuse now, not in the thread
        ordered = [s for s in STAGES if s in stages]
        job = Job(uuid.uuid4().hex[:12], site, ordered)
        with self._lock:
            self.jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self.jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job) -> None:
        job.status = JobStatus.RUNNING
        try:
            for stage in job.stages:
                job.stage, job.done, job.total = stage, 0, 0
                job.message = getattr(self, f"_{stage}")(job)
            job.status = JobStatus.DONE
        except (StoreError, OutputError) as exc:  # their text names files and SQL: log it
            log.error("job %s (%s) failed: %s", job.id, job.site, exc)
            job.status = JobStatus.FAILED
            job.message = "the catalog or a file could not be written; the server's log has why"
        except SitewatchError as exc:
            job.status, job.message = JobStatus.FAILED, str(exc)
        except Exception:  # a bug must show in the job, not kill the worker silently
            log.exception("job %s (%s) failed", job.id, job.site)
            job.status = JobStatus.FAILED
            job.message = "internal error; the server's log has the details"
        finally:
            job.finished_at = iso(datetime.now(UTC))

    def _detect(self, job: Job) -> str:
        """Every model the site's series come from (the shipped aircraft model for a site
        never detected on), so new imagery joins each class's series."""
        from sitewatch.detect.registry import resolve_model
        from sitewatch.detect.stage import models_used, run_detector, select_images

        images = select_images(self.catalog, site=job.site)
        names = models_used(self.catalog, images)
        models: list[str | None] = []
        missing = []
        for name in names:
            try:
                models.append(str(resolve_model(name, self.catalog.workspace).path))
            except SitewatchError:
                missing.append(name)  # run from a file no longer in the registry
        if not names:
            models = [None]
        elif not models:
            raise NotFoundError(
                f"none of the models site {job.site} was detected with is in the registry "
                f"({', '.join(missing)}): put them back in the workspace's models/ folder"
            )
        job.total = len(images) * max(1, len(models))

        def one(_result: Any) -> None:
            job.done += 1

        with compute_on(scheduler=self.scheduler) as where:
            reports = [
                run_detector(self.catalog, images, model, on_image=one,
                             executor=where.executor, threads=where.threads)
                for model in models
            ]  # fmt: skip
        for report in reports:
            failed = [r for r in report.results if r.error is not None]
            if failed:
                raise failed[0].error  # type: ignore[misc]
        note = f"; not in the model registry: {', '.join(missing)}" if missing else ""
        return f"detected on {len(images)} image(s) with {max(1, len(models))} model(s){note}"

    def _register(self, job: Job) -> str:
        from sitewatch.register import register_site
        from sitewatch.sites import site_summary

        job.total = len(site_summary(self.catalog, job.site).images)

        def one(_name: str) -> None:
            job.done += 1

        with compute_on(scheduler=self.scheduler) as where:
            report = register_site(self.catalog, job.site, progress=one, executor=where.executor)
        return f"registered {len(report.results)} image(s), {len(report.failed)} failed"

    def _monitor(self, job: Job) -> str:
        from sitewatch.monitor import monitor_site

        job.total = 1
        result = monitor_site(self.catalog, job.site)
        job.done = 1
        return f"counted {len(result.used)} view(s), {len(result.pairs)} pair(s) compared"
