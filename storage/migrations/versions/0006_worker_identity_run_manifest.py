"""Sweep workers record their process's creation time, so a reused pid is never taken for
a live worker; a kept model names its bundle manifest in the artifact store.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wb_sweep_worker") as batch:
        batch.add_column(sa.Column("process_started_at", sa.Float(), nullable=True))
    with op.batch_alter_table("wb_run") as batch:
        batch.add_column(sa.Column("manifest_sha", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wb_run") as batch:
        batch.drop_column("manifest_sha")
    with op.batch_alter_table("wb_sweep_worker") as batch:
        batch.drop_column("process_started_at")
