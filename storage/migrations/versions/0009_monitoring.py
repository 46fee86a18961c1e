"""The monitoring loop: drift snapshots, alert rules and alerts, retraining policies and
jobs, each going with its deployment (CASCADE).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _deployment(name: str, unique: bool = False) -> sa.Column:
    return sa.Column(
        "deployment_id",
        sa.Integer,
        sa.ForeignKey("wb_deployment.id", ondelete="CASCADE", name=name),
        nullable=False,
        index=not unique,
        unique=unique,
    )


def _process() -> list[sa.Column]:
    return [
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("process_started_at", sa.Float, nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "wb_drift_snapshot",
        sa.Column("id", sa.Integer, primary_key=True),
        _deployment("fk_wb_drift_snapshot_deployment"),
        sa.Column("window_end", sa.DateTime, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("drift_share", sa.Float, nullable=False),
        sa.Column("dataset_drifted", sa.Boolean, nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("prediction_drift", sa.JSON, nullable=True),
        sa.Column("real_metrics", sa.JSON, nullable=False),
        sa.Column("estimated_metrics", sa.JSON, nullable=False),
        sa.Column("error_rate", sa.Float, nullable=True),
        sa.Column("unseen_columns", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index(
        "ix_wb_drift_snapshot_window", "wb_drift_snapshot", ["deployment_id", "window_end"]
    )
    op.create_table(
        "wb_alert_rule",
        sa.Column("id", sa.Integer, primary_key=True),
        _deployment("fk_wb_alert_rule_deployment"),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("column_name", sa.String(500), nullable=True),
        sa.Column("metric", sa.String(50), nullable=True),
        sa.Column("bound", sa.Float, nullable=True),
        sa.Column("source", sa.String(10), nullable=True),
        sa.Column("command", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("firing", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "wb_alert",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "rule_id",
            sa.Integer,
            sa.ForeignKey("wb_alert_rule.id", ondelete="SET NULL", name="fk_wb_alert_rule"),
            nullable=True,
        ),
        _deployment("fk_wb_alert_deployment"),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("raised_at", sa.DateTime, nullable=False),
        sa.Column("window_end", sa.DateTime, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("command_status", sa.String(20), nullable=True),
        sa.Column("command_exit", sa.Integer, nullable=True),
        sa.Column("command_output", sa.Text, nullable=True),
    )
    op.create_index("ix_wb_alert_raised", "wb_alert", ["deployment_id", "raised_at"])
    op.create_table(
        "wb_retrain_policy",
        sa.Column("id", sa.Integer, primary_key=True),
        _deployment("fk_wb_retrain_policy_deployment", unique=True),
        sa.Column("trigger_kind", sa.String(20), nullable=False),
        sa.Column("windows", sa.Integer, nullable=True),
        sa.Column("metric", sa.String(50), nullable=True),
        sa.Column("bound", sa.Float, nullable=True),
        sa.Column("source", sa.String(10), nullable=True),
        sa.Column("margin", sa.Float, nullable=False),
        sa.Column("append_labels", sa.Boolean, nullable=False),
        sa.Column("trials", sa.Integer, nullable=True),
        sa.Column("canary", sa.Boolean, nullable=False),
        sa.Column("canary_share", sa.Float, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "wb_retrain_job",
        sa.Column("id", sa.Integer, primary_key=True),
        _deployment("fk_wb_retrain_job_deployment"),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("log_path", sa.Text, nullable=False),
        sa.Column("champion_ref", sa.String(300), nullable=False),
        sa.Column(
            "challenger_version_id",
            sa.Integer,
            sa.ForeignKey(
                "wb_model_version.id", ondelete="SET NULL", name="fk_wb_retrain_job_challenger"
            ),
            nullable=True,
        ),
        sa.Column("challenger_ref", sa.String(300), nullable=True),
        sa.Column("champion_score", sa.Float, nullable=True),
        sa.Column("challenger_score", sa.Float, nullable=True),
        sa.Column("dataset_ref", sa.String(300), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        *_process(),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("wb_retrain_job")
    op.drop_table("wb_retrain_policy")
    op.drop_table("wb_alert")
    op.drop_table("wb_alert_rule")
    op.drop_index("ix_wb_drift_snapshot_window", "wb_drift_snapshot")
    op.drop_table("wb_drift_snapshot")
