"""Runs name their held-out (out-of-fold) predictions in the artifact store.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wb_run") as batch:
        batch.add_column(sa.Column("predictions_sha", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wb_run") as batch:
        batch.drop_column("predictions_sha")
