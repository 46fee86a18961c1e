"""Workspace key/value facts (demo filled, last opened screen, ...).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wb_setting",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.String(4000), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wb_setting")
