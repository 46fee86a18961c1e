"""Datasets and their content-addressed versions.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wb_dataset",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "wb_dataset_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "dataset_id",
            sa.Integer,
            sa.ForeignKey("wb_dataset.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("index", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source_path", sa.String(4096), nullable=False),
        sa.Column("stored_path", sa.String(4096), nullable=True),
        sa.Column("file_format", sa.String(20), nullable=False),
        sa.Column("read_options", sa.JSON, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("column_count", sa.Integer, nullable=False),
        sa.Column("target", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("schema_json", sa.JSON, nullable=False),
        sa.Column("profile_json", sa.JSON, nullable=False),
        sa.Column("validation_json", sa.JSON, nullable=False),
        sa.Column("validation_status", sa.String(10), nullable=False),
        sa.UniqueConstraint("dataset_id", "index", name="uq_wb_dataset_version_index"),
        sa.UniqueConstraint("dataset_id", "sha256", name="uq_wb_dataset_version_sha256"),
    )
    op.create_index("ix_wb_dataset_version_sha256", "wb_dataset_version", ["sha256"])


def downgrade() -> None:
    op.drop_table("wb_dataset_version")
    op.drop_table("wb_dataset")
