"""Serving images (one row per build) and deployments, each keeping its model version
alive (RESTRICT).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _version_fk(name: str) -> sa.Column:
    return sa.Column(
        "model_version_id",
        sa.Integer,
        sa.ForeignKey("wb_model_version.id", ondelete="RESTRICT", name=name),
        nullable=False,
        index=True,
    )


def upgrade() -> None:
    op.create_table(
        "wb_image_build",
        sa.Column("id", sa.Integer, primary_key=True),
        _version_fk("fk_wb_image_build_model_version"),
        sa.Column("tag", sa.String(300), nullable=False, index=True),
        sa.Column("base", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("image_id", sa.String(100), nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("context_path", sa.Text, nullable=False),
        sa.Column("log_path", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("process_started_at", sa.Float, nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "wb_deployment",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        _version_fk("fk_wb_deployment_model_version"),
        sa.Column("image_tag", sa.String(300), nullable=True),
        sa.Column(
            "challenger_version_id",
            sa.Integer,
            sa.ForeignKey(
                "wb_model_version.id", ondelete="RESTRICT", name="fk_wb_deployment_challenger"
            ),
            nullable=True,
        ),
        sa.Column("canary_share", sa.Float, nullable=True),
        sa.Column("container_id", sa.String(100), nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("process_started_at", sa.Float, nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("url", sa.String(300), nullable=False),
        sa.Column("token", sa.Text, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("log_path", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wb_deployment")
    op.drop_table("wb_image_build")
