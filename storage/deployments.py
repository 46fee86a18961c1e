"""Image builds and deployments: their records and their state changes.

A state change two clients can race (a build finishing while another TUI marks it failed,
a deployment stopped from two terminals) is one conditional UPDATE: it moves only from the
states named, and says whether it did."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from storage.database import Database
from storage.errors import NotFoundError, StorageError, WorkbenchError
from storage.models_registry import ModelVersionRow, RegisteredModelRow
from storage.models_serving import DeploymentRow, ImageBuildRow
from storage.records import DeploymentRecord, ImageBuildRecord


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _ref_columns() -> tuple[Any, Any]:
    return RegisteredModelRow.name, ModelVersionRow.version


# --- image builds ------------------------------------------------------------------------


def add_build(db: Database, **fields: Any) -> int:
    with db.session_scope() as session:
        row = ImageBuildRow(status="building", created_at=utcnow(), **fields)
        session.add(row)
        session.flush()
        return int(row.id)


def update_build(db: Database, build_id: int, **fields: Any) -> None:
    with db.session_scope() as session:
        session.execute(update(ImageBuildRow).where(ImageBuildRow.id == build_id).values(**fields))


def finish_build(db: Database, build_id: int, status: str, **fields: Any) -> bool:
    """building -> built | failed, once; False when it had already finished."""
    with db.session_scope() as session:
        result = session.execute(
            update(ImageBuildRow)
            .where(ImageBuildRow.id == build_id, ImageBuildRow.status == "building")
            .values(status=status, finished_at=utcnow(), **fields)
        )
        return bool(getattr(result, "rowcount", 0))


def get_build(db: Database, build_id: int) -> ImageBuildRecord:
    builds = _builds(db, ImageBuildRow.id == build_id)
    if not builds:
        raise NotFoundError(f"no image build {build_id}")
    return builds[0]


def list_builds(db: Database) -> list[ImageBuildRecord]:
    return _builds(db)


def latest_build(db: Database, tag: str) -> ImageBuildRecord | None:
    builds = [b for b in _builds(db, ImageBuildRow.tag == tag) if b.status == "built"]
    return builds[0] if builds else None


def latest_build_of_version(db: Database, model_version_id: int) -> ImageBuildRecord | None:
    """The newest successful build of a model version (the image `deploy` runs by default)."""
    where = (ImageBuildRow.model_version_id == model_version_id, ImageBuildRow.status == "built")
    builds = _builds(db, *where)
    return builds[0] if builds else None


def delete_builds(db: Database, tag: str) -> int:
    with db.session_scope() as session:
        rows = session.scalars(select(ImageBuildRow).where(ImageBuildRow.tag == tag)).all()
        for row in rows:
            session.delete(row)
        return len(rows)


def _builds(db: Database, *where: Any) -> list[ImageBuildRecord]:
    name, version = _ref_columns()
    query = (
        select(ImageBuildRow, name, version)
        .join(ModelVersionRow, ModelVersionRow.id == ImageBuildRow.model_version_id)
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
        .where(*where)
        .order_by(ImageBuildRow.id.desc())
    )
    with db.session_scope() as session:
        return [_build_record(row, f"{n}:{v}") for row, n, v in session.execute(query)]


def _build_record(row: ImageBuildRow, ref: str) -> ImageBuildRecord:
    return ImageBuildRecord(
        id=row.id,
        model_ref=ref,
        model_version_id=row.model_version_id,
        tag=row.tag,
        base=row.base,
        status=row.status,
        image_id=row.image_id,
        size_bytes=row.size_bytes,
        context_path=row.context_path,
        log_path=row.log_path,
        error=row.error,
        pid=row.pid,
        process_started_at=row.process_started_at,
        host=row.host,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


# --- deployments -------------------------------------------------------------------------


def add_deployment(db: Database, name: str, **fields: Any) -> DeploymentRecord:
    """A new deployment in state `starting`; a name already taken is refused in one line."""
    now = utcnow()
    try:
        with db.session_scope() as session:
            session.add(
                DeploymentRow(
                    name=name, status="starting", created_at=now, updated_at=now, **fields
                )
            )
    except StorageError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            raise WorkbenchError(
                f"a deployment named {name!r} exists; remove it first or choose another --name"
            ) from None
        raise
    return get_deployment(db, name)


def move_deployment(
    db: Database, name: str, from_states: Sequence[str] | None, **fields: Any
) -> bool:
    """Set `fields` (a new status, ids, an error) if the deployment is in one of
    `from_states` (any state when None); False when another client moved it first."""
    condition = [DeploymentRow.name == name]
    if from_states is not None:
        condition.append(DeploymentRow.status.in_(list(from_states)))
    with db.session_scope() as session:
        result = session.execute(
            update(DeploymentRow).where(*condition).values(updated_at=utcnow(), **fields)
        )
        return bool(getattr(result, "rowcount", 0))


def get_deployment(db: Database, name: str) -> DeploymentRecord:
    found = _deployments(db, DeploymentRow.name == name)
    if not found:
        raise NotFoundError(f"no deployment named {name!r} (see `workbench deploy ls`)")
    return found[0]


def list_deployments(db: Database) -> list[DeploymentRecord]:
    return _deployments(db)


def delete_deployment(db: Database, name: str) -> None:
    with db.session_scope() as session:
        row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
        if row is not None:
            session.delete(row)


def _deployments(db: Database, *where: Any) -> list[DeploymentRecord]:
    name, version = _ref_columns()
    challenger = aliased(ModelVersionRow)
    challenger_model = aliased(RegisteredModelRow)
    query = (
        select(DeploymentRow, name, version, challenger_model.name, challenger.version)
        .join(ModelVersionRow, ModelVersionRow.id == DeploymentRow.model_version_id)
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
        .outerjoin(challenger, challenger.id == DeploymentRow.challenger_version_id)
        .outerjoin(challenger_model, challenger_model.id == challenger.model_id)
        .where(*where)
        .order_by(DeploymentRow.name)
    )
    with db.session_scope() as session:
        return [
            _deployment_record(row, f"{n}:{v}", f"{cn}:{cv}" if cn is not None else None)
            for row, n, v, cn, cv in session.execute(query)
        ]


def _deployment_record(row: DeploymentRow, ref: str, challenger: str | None) -> DeploymentRecord:
    return DeploymentRecord(
        id=row.id,
        name=row.name,
        kind=row.kind,
        model_ref=ref,
        model_version_id=row.model_version_id,
        image_tag=row.image_tag,
        challenger_version_id=row.challenger_version_id,
        challenger_ref=challenger,
        canary_share=row.canary_share,
        container_id=row.container_id,
        pid=row.pid,
        process_started_at=row.process_started_at,
        host=row.host,
        port=row.port,
        url=row.url,
        token=row.token,
        status=row.status,
        error=row.error,
        log_path=row.log_path,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
