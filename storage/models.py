"""SQLAlchemy 2.0 typed tables. Every table carries the `wb_` prefix so Optuna's tables can
share the same database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TABLE_PREFIX = "wb_"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class DatasetRow(Base):
    __tablename__ = f"{TABLE_PREFIX}dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    versions: Mapped[list[DatasetVersionRow]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="DatasetVersionRow.index"
    )


class DatasetVersionRow(Base):
    __tablename__ = f"{TABLE_PREFIX}dataset_version"
    __table_args__ = (
        UniqueConstraint("dataset_id", "index", name="uq_wb_dataset_version_index"),
        UniqueConstraint("dataset_id", "sha256", name="uq_wb_dataset_version_sha256"),
        Index("ix_wb_dataset_version_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_PREFIX}dataset.id", ondelete="CASCADE")
    )
    index: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    source_path: Mapped[str] = mapped_column(String(4096))
    stored_path: Mapped[str | None] = mapped_column(String(4096))
    file_format: Mapped[str] = mapped_column(String(20))
    read_options: Mapped[dict[str, Any]]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger)
    column_count: Mapped[int]
    target: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    schema_json: Mapped[list[Any]]
    profile_json: Mapped[dict[str, Any]]
    validation_json: Mapped[dict[str, Any]]
    validation_status: Mapped[str] = mapped_column(String(10))

    dataset: Mapped[DatasetRow] = relationship(back_populates="versions")


class SettingRow(Base):
    """Workspace-level key/value facts (e.g. when the demo was filled)."""

    __tablename__ = f"{TABLE_PREFIX}setting"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(4000))
