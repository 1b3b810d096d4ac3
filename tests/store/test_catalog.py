from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from sitewatch import Catalog
from sitewatch.config import Settings
from sitewatch.errors import BadInputError, MissingDependencyError, NotFoundError, StoreError
from sitewatch.store import db
from sitewatch.store.models import Base, Run, schema_filter
from tests.conftest import sqlite_only


def test_migration_creates_the_schema_the_models_describe(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "ws")
    tables = set(inspect(cat.engine).get_table_names())
    assert {
        "images",
        "sites",
        "image_sites",
        "detections",
        "runs",
        "labels",
        "label_sets",
    } <= tables
    assert db.current_revision(cat.engine) == db.head_revision(cat.engine)
    with cat.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": schema_filter(conn.dialect.name)}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_reopening_keeps_data_and_schema(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "ws")
    run_id = cat.start_run("ingest", "test", "1", {"a": 1})
    cat.close()
    again = Catalog(tmp_path / "ws")
    with again.session() as s:
        assert s.get(Run, run_id).parameters == {"a": 1}


def test_times_round_trip_as_aware_utc(catalog: Catalog) -> None:
    local = datetime(2024, 4, 17, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    with catalog.session() as s:
        run = Run(stage="x", method="m", version="1", parameters={}, started_at=local)
        s.add(run)
        s.flush()
        run_id = run.id
    with catalog.session() as s:
        got = s.get(Run, run_id).started_at
    assert got == local and got.tzinfo == UTC and got.hour == 9


def test_naive_times_are_refused(catalog: Catalog) -> None:
    with pytest.raises(Exception, match="naive datetime"), catalog.session() as s:
        s.add(
            Run(stage="x", method="m", version="1", parameters={}, started_at=datetime(2024, 1, 1))
        )


def test_database_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    monkeypatch.setenv("SITEWATCH_DB", url)
    cat = Catalog(tmp_path / "ws")
    assert str(cat.engine.url) == url
    assert (tmp_path / "elsewhere.sqlite").is_file()
    assert not (tmp_path / "ws" / "catalog.sqlite").exists()


@sqlite_only("the PostgreSQL run writes every workspace's catalog.url itself")
def test_a_workspace_names_its_database_in_catalog_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SITEWATCH_DB", raising=False)
    ws = tmp_path / "ws"
    ws.mkdir()
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    (ws / "catalog.url").write_text(f"  {url}\n")
    assert Settings.resolve(ws).db_url == url  # every process opening ws finds it
    assert Settings.resolve(ws, "sqlite:///other.sqlite").db_url == "sqlite:///other.sqlite"
    monkeypatch.setenv("SITEWATCH_DB", "sqlite:///env.sqlite")
    assert Settings.resolve(ws).db_url == "sqlite:///env.sqlite"  # explicit, env, file
    monkeypatch.delenv("SITEWATCH_DB")
    (ws / "catalog.url").write_text("\n")  # empty: the workspace's own SQLite file
    assert Settings.resolve(ws).db_url == f"sqlite:///{ws.resolve() / 'catalog.sqlite'}"
    # a relative SQLite path would name another file from each folder; bytes are no URL
    (ws / "catalog.url").write_text("sqlite:///shared.sqlite\n")
    with pytest.raises(BadInputError, match="relative SQLite path"):
        Settings.resolve(ws)
    (ws / "catalog.url").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BadInputError, match=r"catalog\.url: cannot read it"):
        Settings.resolve(ws)
    # and nothing sitewatch writes may replace it (it would move every process elsewhere)
    (ws / "catalog.url").unlink()
    cat = Catalog(ws)
    assert cat.owns(ws / "catalog.url")
    cat.close()


def test_unusable_database_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot"):
        Catalog(tmp_path / "ws", db_url="nosuchdialect://x")
    with pytest.raises(StoreError, match="is not a URL") as info:
        Catalog(tmp_path / "ws", db_url="not a url at all: s3cret")
    assert "s3cret" not in str(info.value)


def test_a_missing_driver_names_the_extra_and_hides_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.split(".")[0] == "psycopg":
            raise ModuleNotFoundError("No module named 'psycopg'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    url = "postgresql+psycopg://analyst:s3cret@db.example.org/sitewatch"
    with pytest.raises(MissingDependencyError, match=r"sitewatch\[postgres\]") as info:
        Catalog(tmp_path / "ws", db_url=url)
    assert "s3cret" not in str(info.value) and "db.example.org" in str(info.value)


def test_unknown_site_names_the_known_ones(catalog: Catalog) -> None:
    with pytest.raises(NotFoundError, match="no site named 'nope'"), catalog.session() as s:
        catalog.get_site(s, "nope")
    with catalog.session() as s:
        assert s.scalars(select(Run)).all() == []
