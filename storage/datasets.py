"""Dataset repository: takes names and plain values, returns frozen records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, NoReturn

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage.database import Database
from storage.errors import NotFoundError, StorageError
from storage.models import DatasetRow, DatasetVersionRow
from storage.models_sweeps import RunRow, SweepRow
from storage.records import (
    ColumnProfile,
    ColumnSchema,
    DatasetProfile,
    DatasetSummary,
    DatasetVersionRecord,
    ValidationCheck,
    ValidationResult,
)


class DuplicateVersionError(StorageError):
    """The dataset already has a version with this content (another add got there first)."""

    def __init__(self, message: str, existing: DatasetVersionRecord) -> None:
        super().__init__(message)
        self.existing = existing


class VersionInUseError(StorageError):
    """The database refused to delete a version a sweep refers to (foreign key)."""


@dataclass(frozen=True)
class VersionUser:
    """A sweep that trained on a dataset version, and how many runs it holds: what removing
    the version would orphan (they could no longer be reproduced)."""

    version_ref: str
    sweep_id: int
    sweep_name: str
    run_count: int


ADD_ATTEMPTS = 5  # concurrent adds to one dataset race for the next index


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parse_version_ref(ref: str) -> tuple[str, int | None]:
    """'churn' -> ('churn', None); 'churn@D1' -> ('churn', 1)."""
    name, _, label = ref.partition("@")
    if not label:
        return name, None
    digits = label[1:] if label[:1] in ("D", "d") else label
    if not digits.isdigit():
        raise NotFoundError(f"{ref}: a version is written NAME@D<number>, e.g. {name}@D0")
    return name, int(digits)


def add_version(
    db: Database,
    *,
    name: str,
    sha256: str,
    source_path: str,
    stored_path: str | None,
    file_format: str,
    read_options: dict[str, Any],
    size_bytes: int,
    row_count: int,
    target: str | None,
    schema: list[ColumnSchema],
    profile: DatasetProfile,
    validation: ValidationResult,
) -> DatasetVersionRecord:
    """Insert the next version of `name` (creating the dataset) in one transaction. A
    concurrent add of the same content raises DuplicateVersionError carrying the version
    that won; one that only took the same index or created the dataset first is retried."""
    insert = partial(
        _insert_version,
        db,
        name=name,
        sha256=sha256,
        source_path=source_path,
        stored_path=stored_path,
        file_format=file_format,
        read_options=read_options,
        size_bytes=size_bytes,
        row_count=row_count,
        target=target,
        schema=schema,
        profile=profile,
        validation=validation,
    )
    for attempt in range(ADD_ATTEMPTS):
        try:
            return insert()
        except StorageError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            existing = find_version_by_sha(db, name, sha256)
            if existing is not None:
                raise DuplicateVersionError(
                    f"{name}: same content as {existing.ref} (sha256 {sha256[:12]})", existing
                ) from None
            if attempt == ADD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _insert_version(
    db: Database,
    *,
    name: str,
    sha256: str,
    source_path: str,
    stored_path: str | None,
    file_format: str,
    read_options: dict[str, Any],
    size_bytes: int,
    row_count: int,
    target: str | None,
    schema: list[ColumnSchema],
    profile: DatasetProfile,
    validation: ValidationResult,
) -> DatasetVersionRecord:
    now = utcnow()
    with db.session_scope() as session:
        dataset = session.scalar(select(DatasetRow).where(DatasetRow.name == name))
        if dataset is None:
            dataset = DatasetRow(name=name, created_at=now)
            session.add(dataset)
            session.flush()
        next_index = session.scalar(
            select(func.coalesce(func.max(DatasetVersionRow.index) + 1, 0)).where(
                DatasetVersionRow.dataset_id == dataset.id
            )
        )
        row = DatasetVersionRow(
            dataset_id=dataset.id,
            index=int(next_index or 0),
            sha256=sha256,
            source_path=source_path,
            stored_path=stored_path,
            file_format=file_format,
            read_options=read_options,
            size_bytes=size_bytes,
            row_count=row_count,
            column_count=len(schema),
            target=target,
            created_at=now,
            schema_json=[asdict(c) for c in schema],
            profile_json=asdict(profile),
            validation_json=asdict(validation),
            validation_status=validation.status,
        )
        session.add(row)
        session.flush()
        return _version_record(row, name)


def find_version_by_sha(db: Database, name: str, sha256: str) -> DatasetVersionRecord | None:
    with db.session_scope() as session:
        row = session.scalar(
            select(DatasetVersionRow)
            .join(DatasetRow)
            .where(DatasetRow.name == name, DatasetVersionRow.sha256 == sha256)
        )
        return _version_record(row, name) if row else None


def latest_version(db: Database, name: str) -> DatasetVersionRecord | None:
    with db.session_scope() as session:
        row = session.scalar(
            select(DatasetVersionRow)
            .join(DatasetRow)
            .where(DatasetRow.name == name)
            .order_by(DatasetVersionRow.index.desc())
            .limit(1)
        )
        return _version_record(row, name) if row else None


def get_version(db: Database, ref: str) -> DatasetVersionRecord:
    """A version by 'name' (its newest) or 'name@D<n>'."""
    name, index = parse_version_ref(ref)
    with db.session_scope() as session:
        query = select(DatasetVersionRow).join(DatasetRow).where(DatasetRow.name == name)
        if index is None:
            query = query.order_by(DatasetVersionRow.index.desc()).limit(1)
        else:
            query = query.where(DatasetVersionRow.index == index)
        row = session.scalar(query)
        if row is None:
            _raise_missing(session, name, index)
        return _version_record(row, name)


def list_versions(db: Database, name: str) -> list[DatasetVersionRecord]:
    with db.session_scope() as session:
        dataset = session.scalar(
            select(DatasetRow)
            .where(DatasetRow.name == name)
            .options(selectinload(DatasetRow.versions))
        )
        if dataset is None:
            _raise_missing(session, name, None)
        return [_version_record(v, name) for v in dataset.versions]


def list_datasets(db: Database) -> list[DatasetSummary]:
    """Every dataset with its version count and newest version (two indexed queries)."""
    with db.session_scope() as session:
        newest = (
            select(
                DatasetVersionRow.dataset_id,
                func.max(DatasetVersionRow.index).label("top"),
                func.count().label("count"),
            )
            .group_by(DatasetVersionRow.dataset_id)
            .subquery()
        )
        rows = session.execute(
            select(DatasetRow, DatasetVersionRow, newest.c.count)
            .outerjoin(newest, newest.c.dataset_id == DatasetRow.id)
            .outerjoin(
                DatasetVersionRow,
                (DatasetVersionRow.dataset_id == DatasetRow.id)
                & (DatasetVersionRow.index == newest.c.top),
            )
            .order_by(DatasetRow.name)
        ).all()
        return [
            DatasetSummary(
                id=dataset.id,
                name=dataset.name,
                created_at=dataset.created_at,
                version_count=int(count or 0),
                latest=_version_record(version, dataset.name) if version else None,
            )
            for dataset, version, count in rows
        ]


def version_users(db: Database, versions: Iterable[DatasetVersionRecord]) -> list[VersionUser]:
    """The sweeps (with their run counts) that trained on any of `versions`."""
    refs = {v.id: v.ref for v in versions}
    if not refs:
        return []
    runs = select(RunRow.sweep_id, func.count().label("runs")).group_by(RunRow.sweep_id).subquery()
    with db.session_scope() as session:
        rows = session.execute(
            select(SweepRow.id, SweepRow.name, SweepRow.dataset_version_id, runs.c.runs)
            .outerjoin(runs, runs.c.sweep_id == SweepRow.id)
            .where(SweepRow.dataset_version_id.in_(refs))
            .order_by(SweepRow.id)
        ).all()
    return [VersionUser(refs[vid], sid, sname, int(count or 0)) for sid, sname, vid, count in rows]


@contextmanager
def _refused_when_in_use() -> Iterator[None]:
    try:
        yield
    except StorageError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            raise VersionInUseError(str(exc)) from exc
        raise


def _orphan_users(session: Session, version_ids: list[int]) -> None:
    """Detach sweeps from versions about to go (the foreign key refuses the delete otherwise:
    only a forced removal does this)."""
    session.execute(
        update(SweepRow)
        .where(SweepRow.dataset_version_id.in_(version_ids))
        .values(dataset_version_id=None)
    )


def delete_dataset(db: Database, name: str, *, orphan: bool = False) -> list[DatasetVersionRecord]:
    """Remove a dataset and all its versions; returns what was removed. Versions that sweeps
    use are refused by the database unless `orphan` detaches those sweeps first."""
    with _refused_when_in_use(), db.session_scope() as session:
        dataset = session.scalar(select(DatasetRow).where(DatasetRow.name == name))
        if dataset is None:
            _raise_missing(session, name, None)
        removed = [_version_record(v, name) for v in dataset.versions]
        if orphan:
            _orphan_users(session, [v.id for v in removed])
        session.delete(dataset)
    return removed


def delete_version(db: Database, ref: str, *, orphan: bool = False) -> DatasetVersionRecord:
    """Remove one version; the dataset goes too when it was its last version. A version that
    sweeps use is refused by the database unless `orphan` detaches those sweeps first."""
    record = get_version(db, ref)
    with _refused_when_in_use(), db.session_scope() as session:
        row = session.get(DatasetVersionRow, record.id)
        if row is not None:
            dataset = row.dataset
            if orphan:
                _orphan_users(session, [row.id])
            session.delete(row)
            session.flush()
            if not session.scalar(
                select(func.count()).where(DatasetVersionRow.dataset_id == dataset.id)
            ):
                session.delete(dataset)
    return record


def stored_path_in_use(db: Database, stored_path: str) -> bool:
    """Whether any version still points at this frozen copy (copies are shared by content)."""
    with db.session_scope() as session:
        return bool(
            session.scalar(select(func.count()).where(DatasetVersionRow.stored_path == stored_path))
        )


def _raise_missing(session: Session, name: str, index: int | None) -> NoReturn:
    exists = session.scalar(select(DatasetRow.id).where(DatasetRow.name == name))
    if not exists:
        known = session.scalars(select(DatasetRow.name).order_by(DatasetRow.name)).all()
        hint = f" (known: {', '.join(known)})" if known else " (the workspace has no datasets)"
        raise NotFoundError(f"no dataset named {name!r}{hint}")
    raise NotFoundError(f"dataset {name!r} has no version D{index}")


def _version_record(row: DatasetVersionRow, name: str) -> DatasetVersionRecord:
    profile = row.profile_json
    validation = row.validation_json
    return DatasetVersionRecord(
        id=row.id,
        dataset_name=name,
        index=row.index,
        sha256=row.sha256,
        source_path=row.source_path,
        stored_path=row.stored_path,
        file_format=row.file_format,
        read_options=dict(row.read_options),
        size_bytes=row.size_bytes,
        row_count=row.row_count,
        column_count=row.column_count,
        target=row.target,
        created_at=row.created_at,
        schema=[ColumnSchema(**c) for c in row.schema_json],
        profile=DatasetProfile(
            rows=profile["rows"],
            columns=[
                ColumnProfile(
                    **{
                        **c,
                        "top_values": [tuple(t) for t in c.get("top_values", [])],
                    }
                )
                for c in profile["columns"]
            ],
        ),
        validation=ValidationResult(
            against=validation.get("against"),
            checks=[ValidationCheck(**c) for c in validation.get("checks", [])],
        ),
    )
