"""Engine creation and schema migration (Alembic, run programmatically)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from sitewatch.errors import MissingDependencyError, StoreError, describe_os_error, is_disk_full
from sitewatch.store import spatial
from sitewatch.store.serial import Lock

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _sqlite_pragmas(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, foreign_keys: bool = True
) -> None:
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout."""
    try:
        shown = repr(make_url(url))  # the password masked
    except (SQLAlchemyError, ValueError) as exc:
        raise StoreError(
            "the catalog's database URL is not a URL (SITEWATCH_DB, --db or the workspace's "
            "catalog.url): write it as dialect+driver://user@host/name"
        ) from exc
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except ImportError as exc:  # the URL's driver is not installed
        extra = " (pip install 'sitewatch[postgres]')" if "postgres" in url.split(":")[0] else ""
        raise MissingDependencyError(
            f"the catalog at {shown}", str(exc), f"install its database driver{extra}"
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot use database URL {shown}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        spatial.register_reflection()
    return engine


def first_line(exc: BaseException) -> str:
    """The database's own message, without the SQL or the context lines drivers add."""
    text = str(getattr(exc, "orig", exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unique_violation(exc: BaseException) -> bool:
    """Whether an integrity error is a unique key that another row holds already (the one
    a concurrent writer can cause), not a broken reference, NULL or check."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL (psycopg)
        return True
    text = str(orig)
    return "UNIQUE constraint failed" in text or "PRIMARY KEY must be unique" in text


def storage_error(engine: Engine, exc: BaseException) -> StoreError:
    """One line for a database failure; a full disk is named as such, with the space left."""
    where = engine.url.database if engine.dialect.name == "sqlite" else None
    text = first_line(exc)
    if where and is_disk_full(exc, where):
        cause, fix = describe_os_error(where, exc)
        return StoreError(f"cannot write the catalog {where}: {cause} ({fix}); nothing was saved")
    if where and "disk I/O error" in text:
        return StoreError(
            f"cannot read or write the catalog {where}: disk I/O error; "
            "check the disk and run it again; nothing was saved"
        )
    return StoreError(f"the catalog at {engine.url!r} failed: {text}; nothing was saved")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there).

    All pending migrations run in one transaction: a kill at any point leaves the catalog
    at its old revision, and the next open simply runs them again.
    """
    try:
        if current_revision(engine) == head_revision(engine):
            return
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            _upgrade_sqlite(engine)
        elif engine.dialect.name == "postgresql":
            _upgrade_postgresql(engine)
        else:  # an in-memory database dies with its process anyway
            command.upgrade(alembic_config(engine), "head")
    except OperationalError as exc:
        raise storage_error(engine, exc) from exc
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot create or migrate the catalog at {engine.url!r}: {exc}. "
            "Check that the database is reachable and writable."
        ) from exc


def _upgrade_on(engine: Engine, conn: Connection) -> None:
    """Run Alembic to head on ``conn``, inside the transaction the caller holds."""
    cfg = alembic_config(engine)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _upgrade_postgresql(engine: Engine) -> None:
    """PostgreSQL's DDL is transactional: all migrations in one transaction, behind an
    advisory lock so that two first opens queue and the second finds the schema at head."""
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(Lock.SCHEMA)}, 0)")
        _upgrade_on(engine, conn)


def _upgrade_sqlite(engine: Engine) -> None:
    """Run the migrations on SQLite inside one ``BEGIN IMMEDIATE`` transaction.

    pysqlite commits on its own before DDL, so out of the box a migration killed half-way
    leaves tables without a version row for ever. This is SQLAlchemy's documented recipe
    for pysqlite: turn its own transaction handling off and emit BEGIN ourselves.
    IMMEDIATE takes the write lock first, so two processes opening a new catalog at once
    queue up, and the second finds the schema already at head. Foreign keys are off while
    tables are rebuilt (batch migrations drop and recreate them) and checked before COMMIT.
    """
    mig = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(mig, "connect")
    def _connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        _sqlite_pragmas(dbapi_connection, record, foreign_keys=False)

    @event.listens_for(mig, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with mig.connect() as conn, conn.begin():
            _upgrade_on(engine, conn)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StoreError(
                    f"migrating the catalog at {engine.url!r} would break {len(broken)} "
                    "references; nothing was changed. Please report this with the catalog."
                )
    finally:
        mig.dispose()
