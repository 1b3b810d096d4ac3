"""pixel change between registered dates: pairs and their changed regions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:00:00
"""

import sqlalchemy as sa
from alembic import op

from sitewatch.store.spatial import MAP_GEOMETRY

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("before_image_id", sa.Integer(), nullable=False),
        sa.Column("after_image_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("compared_m2", sa.Float(), nullable=True),
        sa.Column("compared_px", sa.Float(), nullable=False),
        sa.Column("map_path", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["after_image_id"],
            ["images.id"],
            name=op.f("fk_change_pairs_after_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["before_image_id"],
            ["images.id"],
            name=op.f("fk_change_pairs_before_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_change_pairs_run_id_runs")),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_change_pairs_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_pairs")),
    )
    with op.batch_alter_table("change_pairs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_pairs_site_id"), ["site_id"], unique=False)
    op.create_table(
        "change_regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("area_px", sa.Float(), nullable=False),
        sa.Column("straight_before_px", sa.Float(), nullable=False),
        sa.Column("straight_after_px", sa.Float(), nullable=False),
        sa.Column("frame_wkt", sa.Text(), nullable=False),
        sa.Column("geometry_wgs84_wkt", MAP_GEOMETRY, nullable=True),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["change_pairs.id"],
            name=op.f("fk_change_regions_pair_id_change_pairs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_regions")),
    )
    with op.batch_alter_table("change_regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_regions_pair_id"), ["pair_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # 0007 enabled PostGIS
        op.execute(
            "CREATE INDEX gix_change_regions_geometry_wgs84_wkt ON change_regions "
            "USING gist (geometry_wgs84_wkt)"
        )


def downgrade() -> None:
    with op.batch_alter_table("change_regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_regions_pair_id"))
    op.drop_table("change_regions")
    with op.batch_alter_table("change_pairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_pairs_site_id"))
    op.drop_table("change_pairs")
