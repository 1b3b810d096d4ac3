"""Alembic environment: runs on the connection (or engine) sitewatch hands it."""

from alembic import context
from sqlalchemy import Connection

from sitewatch.store.models import Base, schema_filter

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=schema_filter(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


if "connection" in config.attributes:  # already inside sitewatch's one transaction
    _run(config.attributes["connection"])
else:
    with config.attributes["engine"].begin() as connection:
        _run(connection)
