"""Model registry repository: takes names and plain values, returns frozen records.

Version numbers are allocated under the model's row lock (a harmless write, which on
SQLite is the database write lock and on PostgreSQL a row lock), with unique(model,
version) behind it; an alias is moved by one conditional upsert in the same kind of
transaction, so two clients moving one alias at once end with one alias on one version,
each move seeing the one before it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.database import Database
from storage.errors import NotFoundError, StorageError, WorkbenchError
from storage.models import DatasetRow, DatasetVersionRow
from storage.models_registry import ModelAliasRow, ModelVersionRow, RegisteredModelRow
from storage.records import AliasMove, ModelVersionRecord, ModelVersionUser, RegisteredModelRecord

REGISTER_ATTEMPTS = 5  # a backstop: the row lock already orders concurrent registrations


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def add_version(
    db: Database,
    *,
    name: str,
    run_id: int,
    dataset_version_id: int,
    bundle_sha256: str,
    manifest_sha: str,
    input_schema: dict[str, Any],
    metrics: dict[str, Any],
    params: dict[str, Any],
    lineage: dict[str, Any],
    description: str | None = None,
    alias: str | None = None,
) -> ModelVersionRecord:
    """The next version of `name` (creating the model), and its alias if asked, in one
    transaction."""
    for attempt in range(REGISTER_ATTEMPTS):
        try:
            with db.session_scope() as session:
                now = utcnow()
                _insert_model_if_missing(session, name, description, now)
                model_id = session.scalar(
                    select(RegisteredModelRow.id).where(RegisteredModelRow.name == name)
                )
                assert model_id is not None
                _lock_model(session, model_id)
                same_run = session.scalar(
                    select(ModelVersionRow.version).where(
                        ModelVersionRow.model_id == model_id, ModelVersionRow.run_id == run_id
                    )
                )
                if same_run is not None:
                    raise WorkbenchError(
                        f"run {run_id} is already registered as {name}:{same_run}; "
                        "nothing registered"
                    )
                newest = session.scalar(
                    select(func.max(ModelVersionRow.version)).where(
                        ModelVersionRow.model_id == model_id
                    )
                )
                row = ModelVersionRow(
                    model_id=model_id,
                    version=int(newest or 0) + 1,
                    run_id=run_id,
                    dataset_version_id=dataset_version_id,
                    bundle_sha256=bundle_sha256,
                    manifest_sha=manifest_sha,
                    input_schema=input_schema,
                    metrics=metrics,
                    params=params,
                    lineage=lineage,
                    description=description,
                    created_at=now,
                )
                session.add(row)
                session.flush()
                if alias is not None:
                    _upsert_alias(session, model_id, alias, row.id, now)
                version = row.version
        except StorageError as exc:
            if not isinstance(exc.__cause__, IntegrityError) or attempt == REGISTER_ATTEMPTS - 1:
                raise
            continue
        return get_version(db, name, version)
    raise AssertionError("unreachable")


def _insert_model_if_missing(
    session: Session, name: str, description: str | None, now: datetime
) -> None:
    """INSERT … ON CONFLICT DO NOTHING: the first statement, so it takes the write lock."""
    insert = _dialect_insert(session)
    session.execute(
        insert(RegisteredModelRow)
        .values(name=name, description=description, created_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )


def _lock_model(session: Session, model_id: int) -> None:
    """Take the model's row for the rest of the transaction (a write that changes nothing)."""
    session.execute(
        update(RegisteredModelRow)
        .where(RegisteredModelRow.id == model_id)
        .values(name=RegisteredModelRow.name)
        .execution_options(synchronize_session=False)
    )


def _dialect_insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _upsert_alias(
    session: Session, model_id: int, alias: str, version_id: int, now: datetime
) -> None:
    """Point `alias` at `version_id`: one INSERT … ON CONFLICT DO UPDATE, writing only when
    the alias points elsewhere."""
    insert = _dialect_insert(session)
    statement = insert(ModelAliasRow).values(
        model_id=model_id, alias=alias, version_id=version_id, updated_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["model_id", "alias"],
            set_={
                "version_id": statement.excluded.version_id,
                "updated_at": statement.excluded.updated_at,
            },
            where=ModelAliasRow.version_id != statement.excluded.version_id,
        )
    )


def set_alias(db: Database, name: str, version: int, alias: str) -> AliasMove:
    """Move (or create) `alias` of `name` onto `version`, atomically."""
    target = get_version(db, name, version)
    with db.session_scope() as session:
        _lock_model(session, target.model_id)  # first: later reads see every earlier move
        previous = session.scalar(_alias_version(target.model_id, alias))
        _upsert_alias(session, target.model_id, alias, target.id, utcnow())
    return AliasMove(name, alias, previous, version)


def remove_alias(db: Database, name: str, alias: str) -> int:
    """Remove `alias` of `name`; returns the version it pointed at."""
    model = get_model(db, name)
    with db.session_scope() as session:
        _lock_model(session, model.id)
        previous = session.scalar(_alias_version(model.id, alias))
        if previous is None:
            _raise_no_alias(session, model.id, name, alias)
        session.execute(
            delete(ModelAliasRow).where(
                ModelAliasRow.model_id == model.id, ModelAliasRow.alias == alias
            )
        )
    return int(previous)


def delete_version(db: Database, name: str, version: int) -> ModelVersionRecord:
    """Remove one version (the model goes too with its last one); a version an alias points
    at is refused, naming the alias."""
    record = get_version(db, name, version)
    with db.session_scope() as session:
        _lock_model(session, record.model_id)
        aliases = session.scalars(
            select(ModelAliasRow.alias).where(ModelAliasRow.version_id == record.id)
        ).all()
        if aliases:
            shown = ", ".join(f"{name}@{a}" for a in sorted(aliases))
            raise WorkbenchError(
                f"{record.ref} is {shown}: move or remove the alias first; nothing was removed"
            )
        session.execute(delete(ModelVersionRow).where(ModelVersionRow.id == record.id))
        left = session.scalar(
            select(func.count()).where(ModelVersionRow.model_id == record.model_id)
        )
        if not left:
            session.execute(
                delete(RegisteredModelRow).where(RegisteredModelRow.id == record.model_id)
            )
    return record


def _alias_version(model_id: int, alias: str) -> Any:
    return (
        select(ModelVersionRow.version)
        .join(ModelAliasRow, ModelAliasRow.version_id == ModelVersionRow.id)
        .where(ModelAliasRow.model_id == model_id, ModelAliasRow.alias == alias)
    )


def get_model(db: Database, name: str) -> RegisteredModelRecord:
    models = _model_records(db, name)
    if not models:
        with db.session_scope() as session:
            _raise_no_model(session, name)
    return models[0]


def list_models(db: Database) -> list[RegisteredModelRecord]:
    return _model_records(db, None)


def _model_records(db: Database, name: str | None) -> list[RegisteredModelRecord]:
    counts = (
        select(
            ModelVersionRow.model_id,
            func.count().label("n"),
            func.max(ModelVersionRow.version).label("latest"),
        )
        .group_by(ModelVersionRow.model_id)
        .subquery()
    )
    query = (
        select(RegisteredModelRow, counts.c.n, counts.c.latest)
        .outerjoin(counts, counts.c.model_id == RegisteredModelRow.id)
        .order_by(RegisteredModelRow.name)
    )
    if name is not None:
        query = query.where(RegisteredModelRow.name == name)
    with db.session_scope() as session:
        rows = session.execute(query).all()
        aliases = _aliases_by_model(session, [model.id for model, _, _ in rows])
        return [
            RegisteredModelRecord(
                id=model.id,
                name=model.name,
                description=model.description,
                created_at=model.created_at,
                version_count=int(count or 0),
                latest_version=None if latest is None else int(latest),
                aliases=aliases.get(model.id, {}),
            )
            for model, count, latest in rows
        ]


def _aliases_by_model(session: Session, model_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    if not model_ids:
        return found
    rows = session.execute(
        select(ModelAliasRow.model_id, ModelAliasRow.alias, ModelVersionRow.version)
        .join(ModelVersionRow, ModelVersionRow.id == ModelAliasRow.version_id)
        .where(ModelAliasRow.model_id.in_(list(model_ids)))
        .order_by(ModelAliasRow.alias)
    ).all()
    for model_id, alias, version in rows:
        found.setdefault(model_id, {})[alias] = int(version)
    return found


def list_versions(db: Database, name: str) -> list[ModelVersionRecord]:
    return _version_records(db, name, None)


def get_version(db: Database, name: str, version: int | None = None) -> ModelVersionRecord:
    """Version `version` of `name`, or its newest when None."""
    found = _version_records(db, name, version, newest_only=version is None)
    if found:
        return found[0]
    with db.session_scope() as session:
        model_id = session.scalar(
            select(RegisteredModelRow.id).where(RegisteredModelRow.name == name)
        )
        if model_id is None:
            _raise_no_model(session, name)
        numbers = session.scalars(
            select(ModelVersionRow.version).where(ModelVersionRow.model_id == model_id)
        ).all()
    known = f"versions {min(numbers)}-{max(numbers)}" if numbers else "no versions"
    raise NotFoundError(f"model {name!r} has no version {version} ({known})")


def get_alias(db: Database, name: str, alias: str) -> ModelVersionRecord:
    """The version `alias` of `name` points at."""
    with db.session_scope() as session:
        model_id = session.scalar(
            select(RegisteredModelRow.id).where(RegisteredModelRow.name == name)
        )
        if model_id is None:
            _raise_no_model(session, name)
        version = session.scalar(_alias_version(model_id, alias))
        if version is None:
            _raise_no_alias(session, model_id, name, alias)
    return get_version(db, name, int(version))


def _version_records(
    db: Database, name: str, version: int | None, newest_only: bool = False
) -> list[ModelVersionRecord]:
    query = (
        select(ModelVersionRow)
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
        .where(RegisteredModelRow.name == name)
        .order_by(ModelVersionRow.version.desc() if newest_only else ModelVersionRow.version)
    )
    if version is not None:
        query = query.where(ModelVersionRow.version == version)
    if newest_only:
        query = query.limit(1)
    with db.session_scope() as session:
        rows = session.scalars(query).all()
        aliases: dict[int, list[str]] = {}
        for version_id, alias in session.execute(
            select(ModelAliasRow.version_id, ModelAliasRow.alias)
            .where(ModelAliasRow.version_id.in_([r.id for r in rows]))
            .order_by(ModelAliasRow.alias)
        ):
            aliases.setdefault(version_id, []).append(alias)
        return [_record(row, name, tuple(aliases.get(row.id, ()))) for row in rows]


def version_users(
    db: Database,
    *,
    dataset_version_ids: Iterable[int] = (),
    run_ids: Iterable[int] = (),
) -> list[ModelVersionUser]:
    """The model versions trained on any of these dataset versions or from these runs."""
    dataset_ids, runs = list(dataset_version_ids), list(run_ids)
    if not dataset_ids and not runs:
        return []
    with db.session_scope() as session:
        rows = session.execute(
            select(
                RegisteredModelRow.name,
                ModelVersionRow.version,
                ModelVersionRow.run_id,
                ModelVersionRow.dataset_version_id,
            )
            .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
            .where(
                ModelVersionRow.dataset_version_id.in_(dataset_ids)
                | ModelVersionRow.run_id.in_(runs)
            )
            .order_by(RegisteredModelRow.name, ModelVersionRow.version)
        ).all()
    return [ModelVersionUser(f"{n}:{v}", int(r), int(d)) for n, v, r, d in rows]


def dataset_version_ref(db: Database, dataset_version_id: int) -> str | None:
    """'wine@D0' for a dataset version id, or None when it is gone."""
    with db.session_scope() as session:
        row = session.execute(
            select(DatasetRow.name, DatasetVersionRow.index)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetVersionRow.id == dataset_version_id)
        ).first()
    return None if row is None else f"{row[0]}@D{row[1]}"


def _record(row: ModelVersionRow, name: str, aliases: tuple[str, ...]) -> ModelVersionRecord:
    return ModelVersionRecord(
        id=row.id,
        model_id=row.model_id,
        model_name=name,
        version=row.version,
        run_id=row.run_id,
        dataset_version_id=row.dataset_version_id,
        bundle_sha256=row.bundle_sha256,
        manifest_sha=row.manifest_sha,
        input_schema=dict(row.input_schema),
        metrics=dict(row.metrics),
        params=dict(row.params),
        lineage=dict(row.lineage),
        description=row.description,
        created_at=row.created_at,
        aliases=aliases,
    )


def _raise_no_model(session: Session, name: str) -> NoReturn:
    known = session.scalars(
        select(RegisteredModelRow.name).order_by(RegisteredModelRow.name).limit(20)
    ).all()
    hint = f" (known: {', '.join(known)})" if known else " (the workspace has no registered models)"
    raise NotFoundError(f"no model named {name!r}{hint}")


def _raise_no_alias(session: Session, model_id: int, name: str, alias: str) -> NoReturn:
    known = session.scalars(
        select(ModelAliasRow.alias)
        .where(ModelAliasRow.model_id == model_id)
        .order_by(ModelAliasRow.alias)
    ).all()
    hint = f"aliases: {', '.join(known)}" if known else "it has no aliases"
    raise NotFoundError(f"model {name!r} has no alias {alias!r} ({hint})")
