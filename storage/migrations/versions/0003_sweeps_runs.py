"""Sweeps, their runs, per-iteration/per-fold metric points and sweep workers.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wb_sweep",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "dataset_version_id",
            sa.Integer,
            sa.ForeignKey("wb_dataset_version.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("dataset_ref", sa.String(300), nullable=False),
        sa.Column("dataset_sha", sa.String(64), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("task", sa.String(20), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("metric", sa.String(50), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("study_name", sa.String(200), nullable=False),
        sa.Column("optuna_storage", sa.String(4096), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("trials_requested", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=True),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("heartbeat_at", sa.DateTime, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_wb_sweep_status", "wb_sweep", ["status"])
    op.create_table(
        "wb_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "sweep_id", sa.Integer, sa.ForeignKey("wb_sweep.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("trial_number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("value_std", sa.Float, nullable=True),
        sa.Column("fold_scores", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("dataset_sha", sa.String(64), nullable=False),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("artifact_sha", sa.String(64), nullable=True),
        sa.Column("worker", sa.String(300), nullable=True),
        sa.UniqueConstraint("sweep_id", "trial_number", name="uq_wb_run_trial"),
    )
    op.create_index("ix_wb_run_sweep_status", "wb_run", ["sweep_id", "status"])
    op.create_index("ix_wb_run_value", "wb_run", ["value"])
    op.create_table(
        "wb_metric_point",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("wb_run.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_index("ix_wb_metric_point_run_key", "wb_metric_point", ["run_id", "key", "step"])
    op.create_table(
        "wb_sweep_worker",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "sweep_id", sa.Integer, sa.ForeignKey("wb_sweep.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    for table in ("wb_sweep_worker", "wb_metric_point", "wb_run", "wb_sweep"):
        op.drop_table(table)
