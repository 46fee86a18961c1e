"""Dataset repository: takes names and plain values, returns frozen records."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage.database import Database
from storage.errors import NotFoundError
from storage.models import DatasetRow, DatasetVersionRow
from storage.records import (
    ColumnProfile,
    ColumnSchema,
    DatasetProfile,
    DatasetSummary,
    DatasetVersionRecord,
    ValidationCheck,
    ValidationResult,
)


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
    """Insert the next version of `name` (creating the dataset) in one transaction."""
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


def delete_dataset(db: Database, name: str) -> list[DatasetVersionRecord]:
    """Remove a dataset and all its versions; returns what was removed."""
    with db.session_scope() as session:
        dataset = session.scalar(select(DatasetRow).where(DatasetRow.name == name))
        if dataset is None:
            _raise_missing(session, name, None)
        removed = [_version_record(v, name) for v in dataset.versions]
        session.delete(dataset)
        return removed


def delete_version(db: Database, ref: str) -> DatasetVersionRecord:
    """Remove one version; the dataset goes too when it was its last version."""
    record = get_version(db, ref)
    with db.session_scope() as session:
        row = session.get(DatasetVersionRow, record.id)
        if row is not None:
            dataset = row.dataset
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


def _raise_missing(session: Session, name: str, index: int | None) -> None:
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
