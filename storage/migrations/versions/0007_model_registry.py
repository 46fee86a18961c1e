"""The model registry: registered models, their numbered versions (each keeping its run and
dataset version alive: RESTRICT) and aliases pointing at one version each.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wb_registered_model",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "wb_model_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "model_id",
            sa.Integer,
            sa.ForeignKey("wb_registered_model.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("wb_run.id", ondelete="RESTRICT", name="fk_wb_model_version_run"),
            nullable=False,
        ),
        sa.Column(
            "dataset_version_id",
            sa.Integer,
            sa.ForeignKey(
                "wb_dataset_version.id",
                ondelete="RESTRICT",
                name="fk_wb_model_version_dataset_version",
            ),
            nullable=False,
        ),
        sa.Column("bundle_sha256", sa.String(64), nullable=False),
        sa.Column("manifest_sha", sa.String(64), nullable=False),
        sa.Column("input_schema", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("lineage", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_wb_model_version_number"),
    )
    op.create_index("ix_wb_model_version_run_id", "wb_model_version", ["run_id"])
    op.create_index(
        "ix_wb_model_version_dataset_version_id", "wb_model_version", ["dataset_version_id"]
    )
    op.create_table(
        "wb_model_alias",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "model_id",
            sa.Integer,
            sa.ForeignKey("wb_registered_model.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey("wb_model_version.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("model_id", "alias", name="uq_wb_model_alias"),
    )
    op.create_index("ix_wb_model_alias_version_id", "wb_model_alias", ["version_id"])


def downgrade() -> None:
    for table in ("wb_model_alias", "wb_model_version", "wb_registered_model"):
        op.drop_table(table)
