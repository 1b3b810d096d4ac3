"""map geometries as indexed PostGIS geometries on PostgreSQL (SQLite keeps WKT text)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:30:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = (
    ("images", "footprint_wgs84_wkt"),
    ("sites", "aoi_wgs84_wkt"),
    ("detections", "geometry_wgs84_wkt"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # needs PostGIS installed on the server (Debian: postgresql-15-postgis-3) and, unless it
    # is already enabled in this database, a role allowed to CREATE EXTENSION
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    for table, column in COLUMNS:
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN {column} TYPE geometry(Geometry,4326) "
            f"USING ST_GeomFromText({column}, 4326)"
        )
        op.execute(f"CREATE INDEX gix_{table}_{column} ON {table} USING gist ({column})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f"DROP INDEX gix_{table}_{column}")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text USING ST_AsText({column})")
