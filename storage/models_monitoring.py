"""Tables of the monitoring loop: drift snapshots, alert rules and the alerts they raised,
retraining policies and retraining jobs (prefixed like the rest).

Everything here belongs to one deployment and goes with it: the deployment foreign keys
are CASCADE, so removing a deployment removes its history in the same statement. An alert
outlives its rule (SET NULL: the alert says what fired), and a retraining job outlives the
challenger version it registered (SET NULL: the job keeps the reference as text)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import TABLE_PREFIX, Base

DEPLOYMENT_FK = f"{TABLE_PREFIX}deployment.id"


def _deployment_fk(name: str) -> Any:
    return mapped_column(ForeignKey(DEPLOYMENT_FK, ondelete="CASCADE", name=name), index=True)


class DriftSnapshotRow(Base):
    """One monitoring window's verdicts, kept so the panel's history survives a restart."""

    __tablename__ = f"{TABLE_PREFIX}drift_snapshot"
    __table_args__ = (Index("ix_wb_drift_snapshot_window", "deployment_id", "window_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = _deployment_fk("fk_wb_drift_snapshot_deployment")
    window_end: Mapped[datetime]
    rows: Mapped[int] = mapped_column(Integer)
    drift_share: Mapped[float] = mapped_column(Float)
    dataset_drifted: Mapped[bool] = mapped_column(Boolean)
    columns: Mapped[list[Any]]  # [{column, method, score, threshold, drifted}]
    prediction_drift: Mapped[dict[str, Any] | None]  # {method, score, threshold, drifted}
    real_metrics: Mapped[dict[str, Any]]
    estimated_metrics: Mapped[dict[str, Any]]
    error_rate: Mapped[float | None] = mapped_column(Float)
    unseen_columns: Mapped[list[Any]]
    created_at: Mapped[datetime]


class AlertRuleRow(Base):
    """dataset_drift | column_drift | performance_below | error_rate_above | unseen_columns.
    `firing` is the rule's state after the last window, so an alert is raised on the
    transition into it, once, and a restart does not raise it again."""

    __tablename__ = f"{TABLE_PREFIX}alert_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = _deployment_fk("fk_wb_alert_rule_deployment")
    kind: Mapped[str] = mapped_column(String(30))
    column: Mapped[str | None] = mapped_column("column_name", String(500))  # COLUMN is reserved
    metric: Mapped[str | None] = mapped_column(String(50))
    bound: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(10))  # real | estimated
    command: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean)
    firing: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class AlertRow(Base):
    __tablename__ = f"{TABLE_PREFIX}alert"
    __table_args__ = (Index("ix_wb_alert_raised", "deployment_id", "raised_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{TABLE_PREFIX}alert_rule.id", ondelete="SET NULL", name="fk_wb_alert_rule")
    )
    deployment_id: Mapped[int] = _deployment_fk("fk_wb_alert_deployment")
    kind: Mapped[str] = mapped_column(String(30))
    raised_at: Mapped[datetime]
    window_end: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    command_status: Mapped[str | None] = mapped_column(String(20))  # ok|failed|timeout|error
    command_exit: Mapped[int | None] = mapped_column(Integer)
    command_output: Mapped[str | None] = mapped_column(Text)


class RetrainPolicyRow(Base):
    """When to retrain a deployment's model, and what the pipeline does then."""

    __tablename__ = f"{TABLE_PREFIX}retrain_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey(DEPLOYMENT_FK, ondelete="CASCADE", name="fk_wb_retrain_policy_deployment"),
        unique=True,
    )
    trigger: Mapped[str] = mapped_column("trigger_kind", String(20))  # drift|performance|manual
    windows: Mapped[int | None] = mapped_column(Integer)  # drift for K consecutive windows
    metric: Mapped[str | None] = mapped_column(String(50))
    bound: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(10))  # real | estimated
    margin: Mapped[float] = mapped_column(Float)
    append_labels: Mapped[bool] = mapped_column(Boolean)
    trials: Mapped[int | None] = mapped_column(Integer)  # None: the champion's definition
    canary: Mapped[bool] = mapped_column(Boolean)
    canary_share: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime]


class RetrainJobRow(Base):
    """One run of the retraining pipeline: its steps (JSON, appended as they end), its log,
    and what it decided."""

    __tablename__ = f"{TABLE_PREFIX}retrain_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = _deployment_fk("fk_wb_retrain_job_deployment")
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # running | registered | kept | failed
    options: Mapped[dict[str, Any]]
    steps: Mapped[list[Any]]  # [{name, status, detail, started_at, finished_at}]
    log_path: Mapped[str] = mapped_column(Text)
    champion_ref: Mapped[str] = mapped_column(String(300))
    challenger_version_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            f"{TABLE_PREFIX}model_version.id",
            ondelete="SET NULL",
            name="fk_wb_retrain_job_challenger",
        )
    )
    challenger_ref: Mapped[str | None] = mapped_column(String(300))
    champion_score: Mapped[float | None] = mapped_column(Float)
    challenger_score: Mapped[float | None] = mapped_column(Float)
    dataset_ref: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    process_started_at: Mapped[float | None] = mapped_column(Float)
    host: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
