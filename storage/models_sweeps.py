"""Tables for sweeps, runs, metric points and sweep workers (prefixed like the rest)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import TABLE_PREFIX, Base


class SweepRow(Base):
    __tablename__ = f"{TABLE_PREFIX}sweep"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    dataset_version_id: Mapped[int | None] = mapped_column(  # in use: deleting it is refused
        ForeignKey(
            f"{TABLE_PREFIX}dataset_version.id",
            ondelete="RESTRICT",
            name="fk_wb_sweep_dataset_version",
        )
    )
    dataset_ref: Mapped[str] = mapped_column(String(300))
    dataset_sha: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(500))
    task: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(50))
    direction: Mapped[str] = mapped_column(String(10))
    spec: Mapped[dict[str, Any]]
    study_name: Mapped[str] = mapped_column(String(200))
    optuna_storage: Mapped[str] = mapped_column(String(4096))
    status: Mapped[str] = mapped_column(String(20), index=True)
    trials_requested: Mapped[int | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class RunRow(Base):
    __tablename__ = f"{TABLE_PREFIX}run"
    __table_args__ = (
        UniqueConstraint("sweep_id", "trial_number", name="uq_wb_run_trial"),
        Index("ix_wb_run_sweep_status", "sweep_id", "status"),
        Index("ix_wb_run_value", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_PREFIX}sweep.id", ondelete="CASCADE"))
    trial_number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]]
    value: Mapped[float | None] = mapped_column(Float)
    value_std: Mapped[float | None] = mapped_column(Float)
    fold_scores: Mapped[list[Any]]
    metrics: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    dataset_sha: Mapped[str] = mapped_column(String(64))
    environment: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)
    artifact_sha: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(300))
    # Out-of-fold predictions (Parquet in the artifact store) of a complete run; None for
    # pruned/failed runs and for runs recorded before revision 0004.
    predictions_sha: Mapped[str | None] = mapped_column(String(64))
    # The kept model's manifest (JSON in the artifact store: task, classes, input schema,
    # library versions, lineage); None when no model is kept, or it was kept before 0005.
    manifest_sha: Mapped[str | None] = mapped_column(String(64))


class MetricPointRow(Base):
    """Per-iteration and per-fold values: many rows, written in batches."""

    __tablename__ = f"{TABLE_PREFIX}metric_point"
    __table_args__ = (Index("ix_wb_metric_point_run_key", "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_PREFIX}run.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    step: Mapped[int]
    value: Mapped[float] = mapped_column(Float)


class SweepWorkerRow(Base):
    """A process working on a sweep; its heartbeat tells live workers from dead ones, and
    its pid with its creation time tells it from a later process given the same pid."""

    __tablename__ = f"{TABLE_PREFIX}sweep_worker"

    id: Mapped[int] = mapped_column(primary_key=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_PREFIX}sweep.id", ondelete="CASCADE"))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    # The process's creation time (seconds since the epoch, as psutil reports it); None for
    # workers recorded before revision 0005, known by their pid alone.
    process_started_at: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
