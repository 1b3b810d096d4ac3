"""The catalog: one workspace folder + one database, shared by every pipeline stage."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sitewatch.config import URL_FILE, Settings
from sitewatch.errors import ConflictError, NotFoundError, OutputError, RowConflictError
from sitewatch.files import owner_alive, owner_tag
from sitewatch.hashing import sha256_file
from sitewatch.store import db
from sitewatch.store.models import Detection, Image, Run, RunStatus, Site, utcnow


class Catalog:
    """Open (creating and migrating if needed) the catalog of a workspace.

    >>> cat = Catalog("./sitewatch-data")          # SQLite inside the folder
    >>> cat = Catalog(db_url="postgresql+psycopg://…")  # or any SQLAlchemy URL
    """

    def __init__(self, workspace: str | Path | None = None, db_url: str | None = None) -> None:
        self.settings = Settings.resolve(workspace, db_url)
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.engine = db.make_engine(self.settings.db_url)
        db.upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.closed_runs = self.close_dead_runs()  # `sitewatch check` lists them

    def __repr__(self) -> str:
        return f"Catalog(workspace={str(self.workspace)!r}, db={self.engine.url!r})"

    @property
    def workspace(self) -> Path:
        return self.settings.workspace

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on any error.

        A full disk or an I/O failure of the database becomes one StoreError that says so."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except IntegrityError as exc:
            if not db.unique_violation(exc):  # a broken reference or check: not a race
                raise db.storage_error(self.engine, exc) from exc
            raise RowConflictError(
                f"another writer saved the same row first ({db.first_line(exc)}); "
                "nothing of this change was saved: run it again"
            ) from exc
        except DBAPIError as exc:  # unreachable, full, damaged (a table missing), …
            raise db.storage_error(self.engine, exc) from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- paths ---------------------------------------------------------------------------
    def owns(self, path: str | Path) -> bool:
        """Whether writing ``path`` would overwrite the catalog itself: its SQLite database
        (and journals), the image store, or its locks. Outputs must go elsewhere."""
        target = Path(path).resolve()
        ws = self.workspace.resolve()
        owned = [self.settings.image_store.resolve(), ws / ".locks", ws / URL_FILE]
        url = self.engine.url
        database = url.database if url.get_backend_name() == "sqlite" else None
        if database:
            db_file = Path(database).resolve()
            owned += [db_file.with_name(db_file.name + s) for s in ("", "-wal", "-shm", "-journal")]
        return any(target == p or target.is_relative_to(p) for p in owned)

    def output(self, path: str | Path) -> Path:
        """``path`` as a Path for a file sitewatch writes (an export, a report); refused
        (OutputError) when writing it would overwrite the catalog's own files."""
        if self.owns(path):
            raise OutputError(
                path, "that is the catalog's own database or image store",
                "write it to another file (beside the workspace, or in it under a new name)",
            )  # fmt: skip
        return Path(path)

    def resolve_path(self, stored_path: str) -> Path:
        """Absolute path of an image file as recorded in the catalog."""
        path = Path(stored_path)
        return path if path.is_absolute() else self.workspace / path

    def image_path(self, image: Image) -> Path:
        return self.resolve_path(image.stored_path)

    def readable_path(self, image: Image) -> Path:
        """The image's file, for reading; a lost file is a NotFoundError that says how to
        get it back, not a bare OSError half-way through a stage."""
        path = self.image_path(image)
        if not path.is_file():
            raise NotFoundError(  # the path as stored (relative to the workspace if inside)
                f"{image.original_name} ({image.sha256[:12]}): its stored file "
                f"{image.stored_path} is missing; run `sitewatch check --repair` to restore "
                "it from the original, or ingest the original again"
            )
        return path

    def in_store(self, path: Path) -> bool:
        """Whether ``path`` is a copy in the content-addressed store (not a referenced file)."""
        return path.is_relative_to(self.settings.image_store)

    def store_lock(self, sha256: str) -> Path:
        """The lock file that ingest holds from storing a file under ``images/<ab>/`` to
        committing its row, and that clean-up takes before removing a file from there."""
        return self.workspace / ".locks" / f"images-{sha256[:2]}.lock"

    # -- lookups -------------------------------------------------------------------------
    def get_site(self, session: Session, name: str) -> Site:
        site = session.scalar(select(Site).where(Site.name == name))
        if site is None:
            known = ", ".join(session.scalars(select(Site.name).order_by(Site.name))) or "none"
            raise NotFoundError(
                f"no site named {name!r} (known sites: {known}); add it with `sitewatch site add`"
            )
        return site

    def find_image(self, session: Session, ref: str | Path) -> Image:
        """An image by SHA-256 (or a unique prefix of ≥ 6 hex digits) or by an existing file."""
        text = str(ref)
        path = Path(text)
        if path.is_file():
            digest = sha256_file(path)
            image = session.scalar(select(Image).where(Image.sha256 == digest))
            if image is None:
                raise NotFoundError(f"{path}: not in the catalog; ingest it first")
            return image
        hexdigits = text.lower()
        if len(hexdigits) >= 6 and all(c in "0123456789abcdef" for c in hexdigits):
            matches = session.scalars(
                select(Image).where(Image.sha256.startswith(hexdigits)).limit(2)
            ).all()
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ConflictError(f"image prefix {text!r} is ambiguous; give more digits")
        raise NotFoundError(f"{text}: no such file and no catalog image with that SHA-256 prefix")

    def count_images(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count(Image.id))) or 0

    # -- runs ----------------------------------------------------------------------------
    def start_run(self, stage: str, method: str, version: str, parameters: dict[str, Any]) -> int:
        with self.session() as s:
            run = Run(
                stage=stage,
                method=method,
                version=version,
                parameters=parameters,
                owner=owner_tag(),
            )
            s.add(run)
            s.flush()
            return run.id

    @contextmanager
    def run(
        self, stage: str, method: str, version: str, parameters: dict[str, Any]
    ) -> Iterator[int]:
        """A Run that ends "ok", or "failed" with the error's message if the block raises."""
        run_id = self.start_run(stage, method, version, parameters)
        try:
            yield run_id
        except BaseException as exc:
            self.finish_run(run_id, RunStatus.FAILED, str(exc) or type(exc).__name__)
            raise
        self.finish_run(run_id, RunStatus.OK)

    def finish_run(self, run_id: int, status: str, message: str | None = None) -> None:
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is not None:
                run.status = status
                run.message = message
                run.finished_at = utcnow()

    def close_dead_runs(self) -> list[int]:
        """Mark "interrupted" every running run whose process has died on this host.

        Runs of live processes, and runs started on another host, are left alone."""
        with self.session() as s:
            rows = s.execute(select(Run.id, Run.owner).where(Run.status == RunStatus.RUNNING)).all()
        dead = [rid for rid, owner in rows if owner and owner_alive(owner) is False]
        if dead:
            with self.session() as s:
                for run in s.scalars(select(Run).where(Run.id.in_(dead))):
                    if run.status == RunStatus.RUNNING:
                        run.status = RunStatus.INTERRUPTED
                        run.message = (
                            f"its process ({run.owner}) ended before the run finished "
                            "(killed or crashed); run the command again"
                        )
                        run.finished_at = utcnow()
        return dead


def latest_detect_run(
    session: Session, image_id: int, method: str | None = None, version: str | None = None
) -> Run | None:
    """The newest successful detection run on an image (of model ``method``, and of that
    model file's ``version``, if given).

    Without ``method`` this is whichever model ran last: what a site shows per class is
    chosen by ``select_detect_runs``, never by this."""
    query = select(Run).where(Run.stage == "detect", Run.image_id == image_id, Run.status == "ok")
    if method is not None:
        query = query.where(Run.method == method)
    if version is not None:
        query = query.where(Run.version == version)
    return session.scalar(query.order_by(Run.id.desc()))


def run_threshold(run: Run, class_name: str | None = None) -> float:
    """The operating threshold a detection run used for ``class_name`` (its own, stored in
    ``thresholds``, else the run's single ``threshold``; 0.5 for runs that kept none)."""
    own = (run.parameters.get("thresholds") or {}).get(class_name) if class_name else None
    if own is not None:
        return float(own)
    return float(run.parameters.get("threshold", 0.5))


def counted(run: Run) -> ColumnElement[bool]:
    """The SQL condition for a detection of ``run`` to count: its score at or above its
    class's operating threshold."""
    default = run_threshold(run)
    own = {str(c): float(t) for c, t in (run.parameters.get("thresholds") or {}).items()}
    if not own or all(t == default for t in own.values()):
        return Detection.score >= default
    return Detection.score >= case(own, value=Detection.class_name, else_=default)


def detections_at(session: Session, run: Run, class_name: str | None = None) -> int:
    """How many detections of ``run`` count (each class at its own operating threshold),
    of ``class_name`` only when given."""
    query = select(func.count(Detection.id)).where(Detection.run_id == run.id, counted(run))
    if class_name is not None:
        query = query.where(Detection.class_name == class_name)
    return session.scalar(query) or 0


def run_classes(session: Session, run: Run) -> list[str]:
    """The classes a detection run looked for (``parameters["classes"]``); runs stored
    before that list was kept declare the classes they found."""
    declared = run.parameters.get("classes")
    if declared:
        return [str(c) for c in declared]
    return sorted(
        session.scalars(
            select(Detection.class_name).where(Detection.run_id == run.id).distinct()
        ).all()
    )


def select_detect_runs(session: Session, image_ids: Iterable[int]) -> dict[str, dict[int, Run]]:
    """Which detection run gives each class on each of these images (a site's images):
    class → image id → run.

    For each class, one model (``Run.method``) gives the whole series: among the models
    whose runs declare the class, the one with ok runs on the most of the images (ties: the
    one with the newest run). Each image then uses that model's latest ok run, and an image
    that model never ran on has no count of the class. So a second model never hides the
    first's classes, and one class's series never mixes models across dates."""
    ids = list(dict.fromkeys(image_ids))
    if not ids:
        return {}
    runs = session.scalars(
        select(Run)
        .where(Run.stage == "detect", Run.status == "ok", Run.image_id.in_(ids))
        .order_by(Run.id)
    ).all()
    # class → model → image id → its latest run (runs come oldest first)
    by_class: dict[str, dict[str, dict[int, Run]]] = {}
    for run in runs:
        assert run.image_id is not None  # selected by image
        for cls in run_classes(session, run):
            by_class.setdefault(cls, {}).setdefault(run.method, {})[run.image_id] = run
    chosen: dict[str, dict[int, Run]] = {}
    for cls, models in sorted(by_class.items()):
        best = max(
            models.values(),
            key=lambda per_image: (len(per_image), max(r.id for r in per_image.values())),
        )
        chosen[cls] = best
    return chosen


def image_runs(selection: dict[str, dict[int, Run]], image_id: int) -> dict[str, Run]:
    """One image's share of ``select_detect_runs``: class → the run that counts it."""
    return {cls: per[image_id] for cls, per in selection.items() if image_id in per}


def selected_detections(session: Session, runs: dict[str, Run]) -> list[Detection]:
    """The detections that count on one image: for each class, its selected run's
    detections of that class at that class's operating threshold (best score first)."""
    out: list[Detection] = []
    for cls, run in sorted(runs.items()):
        out += session.scalars(
            select(Detection)
            .where(
                Detection.run_id == run.id,
                Detection.class_name == cls,
                counted(run),
            )
            .order_by(Detection.score.desc(), Detection.id)
        ).all()
    return out
