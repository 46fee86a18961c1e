"""Tables for serving images and deployments (prefixed like the rest). Both keep the model
version they serve alive: deleting a version an image or a deployment uses is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import TABLE_PREFIX, Base

VERSION_FK = f"{TABLE_PREFIX}model_version.id"


class ImageBuildRow(Base):
    """One `workbench image build`: what it builds, how it went, where its log is."""

    __tablename__ = f"{TABLE_PREFIX}image_build"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey(VERSION_FK, ondelete="RESTRICT", name="fk_wb_image_build_model_version"),
        index=True,
    )
    tag: Mapped[str] = mapped_column(String(300), index=True)
    base: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))  # building | built | failed
    image_id: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    context_path: Mapped[str] = mapped_column(Text)
    log_path: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    process_started_at: Mapped[float | None] = mapped_column(Float)
    host: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class DeploymentRow(Base):
    """A named deployment: a container or a supervised local process serving one version."""

    __tablename__ = f"{TABLE_PREFIX}deployment"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # container | local
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey(VERSION_FK, ondelete="RESTRICT", name="fk_wb_deployment_model_version"),
        index=True,
    )
    image_tag: Mapped[str | None] = mapped_column(String(300))
    challenger_version_id: Mapped[int | None] = mapped_column(  # during a canary
        ForeignKey(VERSION_FK, ondelete="RESTRICT", name="fk_wb_deployment_challenger")
    )
    canary_share: Mapped[float | None] = mapped_column(Float)
    container_id: Mapped[str | None] = mapped_column(String(100))
    pid: Mapped[int | None] = mapped_column(Integer)
    process_started_at: Mapped[float | None] = mapped_column(Float)
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(300))
    token: Mapped[str | None] = mapped_column(Text)  # the workspace is private to its owner
    status: Mapped[str] = mapped_column(String(20))  # starting | running | down | stopped | failed
    error: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
