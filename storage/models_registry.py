"""Tables of the model registry: registered models, their numbered versions and the aliases
that point at one version each (prefixed like the rest).

A model version keeps its run and its dataset version alive: both foreign keys are
RESTRICT, so the database itself refuses a delete that would leave a registered model
without the run that trained it or the data it was trained on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import TABLE_PREFIX, Base


class RegisteredModelRow(Base):
    __tablename__ = f"{TABLE_PREFIX}registered_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ModelVersionRow(Base):
    __tablename__ = f"{TABLE_PREFIX}model_version"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_wb_model_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_PREFIX}registered_model.id", ondelete="CASCADE")
    )
    version: Mapped[int]  # 1, 2, … per model name
    run_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_PREFIX}run.id", ondelete="RESTRICT", name="fk_wb_model_version_run"),
        index=True,
    )
    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey(
            f"{TABLE_PREFIX}dataset_version.id",
            ondelete="RESTRICT",
            name="fk_wb_model_version_dataset_version",
        ),
        index=True,
    )
    bundle_sha256: Mapped[str] = mapped_column(String(64))  # the model bytes in the artifacts
    manifest_sha: Mapped[str] = mapped_column(String(64))  # the bundle manifest in the artifacts
    input_schema: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    params: Mapped[dict[str, Any]]
    lineage: Mapped[dict[str, Any]]  # run, sweep, dataset, dataset version, sha256, git commit
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ModelAliasRow(Base):
    """`production`, `staging`, …: one version per alias and model, moved by one upsert."""

    __tablename__ = f"{TABLE_PREFIX}model_alias"
    __table_args__ = (UniqueConstraint("model_id", "alias", name="uq_wb_model_alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_PREFIX}registered_model.id", ondelete="CASCADE")
    )
    alias: Mapped[str] = mapped_column(String(100))
    version_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_PREFIX}model_version.id", ondelete="CASCADE"), index=True
    )
    updated_at: Mapped[datetime]
