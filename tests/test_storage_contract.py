"""The storage contract, run against every backend: SQLite file, SQLite in memory, and
PostgreSQL when WORKBENCH_TEST_POSTGRES_URL names a server (CI starts one)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import storage.models_monitoring
import storage.models_registry
import storage.models_serving  # noqa: F401  (image build and deployment tables, likewise)
from storage import datasets as repo
from storage.database import HEAD_REVISION, VERSION_TABLE, Database
from storage.errors import NotFoundError, SchemaOutOfDateError, StorageError
from storage.migrations.runner import head_revision
from storage.models import Base
from storage.records import (
    ColumnProfile,
    ColumnSchema,
    DatasetProfile,
    ValidationCheck,
    ValidationResult,
)
from tests.conftest import POSTGRES_URL

BACKENDS = ["sqlite-file", "sqlite-memory"] + (["postgresql"] if POSTGRES_URL else [])


def _reset_postgres(db: Database) -> None:
    with db.engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = {
        "sqlite-file": f"sqlite:///{tmp_path / 'contract.db'}",
        "sqlite-memory": "sqlite://",
        "postgresql": POSTGRES_URL,
    }[request.param]
    database = Database(url or "")
    if request.param == "postgresql":
        _reset_postgres(database)
    database.ensure_schema()
    yield database
    if request.param == "postgresql":
        _reset_postgres(database)
    database.dispose()


def add(db: Database, name: str, sha: str, rows: int = 3, target: str | None = "y"):
    schema = [
        ColumnSchema("x", "float", "double", False, rows),
        ColumnSchema("y", "string", "string", False, 2),
    ]
    profile = DatasetProfile(
        rows=rows,
        columns=[
            ColumnProfile(
                "x",
                0,
                0.0,
                rows,
                min=0.0,
                max=2.0,
                mean=1.0,
                std=1.0,
                quantiles={"p50": 1.0},
                histogram=[1, 1, 1],
                histogram_edges=[0, 1, 2, 3],
            ),
            ColumnProfile("y", 0, 0.0, 2, top_values=[("a", 2), ("b", 1)], categories=["a", "b"]),
        ],
    )
    validation = ValidationResult(
        None, [ValidationCheck("first version", "pass", None, "nothing to compare")]
    )
    return repo.add_version(
        db,
        name=name,
        sha256=sha,
        source_path=f"/data/{name}.csv",
        stored_path=f"/ws/{sha}.parquet",
        file_format="csv",
        read_options={"delimiter": ","},
        size_bytes=10,
        row_count=rows,
        target=target,
        schema=schema,
        profile=profile,
        validation=validation,
    )


def test_fresh_database_is_created_at_head_with_prefixed_tables(db: Database) -> None:
    assert db.current_revision() == HEAD_REVISION == head_revision()
    names = inspect(db.engine).get_table_names()
    ours = [n for n in names if n.startswith("wb_")]
    assert set(ours) >= {"wb_dataset", "wb_dataset_version", "wb_setting", VERSION_TABLE}
    # Our Alembic table is prefixed: Optuna's RDB storage keeps its own "alembic_version"
    # in the same database, and the two must never be confused.
    with db.engine.connect() as connection:
        ours = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    assert ours == HEAD_REVISION


def test_versions_are_numbered_and_round_trip_as_records(db: Database) -> None:
    first = add(db, "churn", "a" * 64)
    second = add(db, "churn", "b" * 64, rows=5)
    assert (first.label, second.label) == ("D0", "D1")
    fetched = repo.get_version(db, "churn@D1")
    assert fetched == second
    assert fetched.profile.column("y").top_values == [("a", 2), ("b", 1)]
    assert repo.get_version(db, "churn").label == "D1"
    assert [v.label for v in repo.list_versions(db, "churn")] == ["D0", "D1"]
    assert repo.find_version_by_sha(db, "churn", "a" * 64) == first


def test_listing_gives_each_dataset_with_its_newest_version(db: Database) -> None:
    add(db, "wine", "c" * 64)
    add(db, "churn", "a" * 64)
    add(db, "churn", "b" * 64, rows=7)
    summaries = repo.list_datasets(db)
    assert [(s.name, s.version_count, s.latest.label, s.latest.row_count) for s in summaries] == [
        ("churn", 2, "D1", 7),
        ("wine", 1, "D0", 3),
    ]


def test_same_content_twice_in_one_dataset_is_refused_and_nothing_is_written(db: Database) -> None:
    add(db, "churn", "a" * 64)
    with pytest.raises(StorageError) as caught:
        add(db, "churn", "a" * 64)
    assert "\n" not in str(caught.value)
    assert len(repo.list_versions(db, "churn")) == 1


def test_a_failed_transaction_leaves_no_half_written_dataset(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session_scope() as session:
        from storage.datasets import utcnow
        from storage.models import DatasetRow

        session.add(DatasetRow(name="half", created_at=utcnow()))
        session.flush()
        raise RuntimeError("crash between two writes")
    assert repo.list_datasets(db) == []


def test_removing_versions_and_datasets(db: Database) -> None:
    add(db, "churn", "a" * 64)
    add(db, "churn", "b" * 64)
    assert repo.delete_version(db, "churn@D0").label == "D0"
    assert [v.label for v in repo.list_versions(db, "churn")] == ["D1"]
    assert repo.stored_path_in_use(db, f"/ws/{'b' * 64}.parquet")
    repo.delete_version(db, "churn@D1")  # the last version takes the dataset with it
    assert repo.list_datasets(db) == []
    assert not repo.stored_path_in_use(db, f"/ws/{'b' * 64}.parquet")


def test_unknown_names_and_versions_give_readable_errors(db: Database) -> None:
    add(db, "churn", "a" * 64)
    with pytest.raises(NotFoundError, match=r"no dataset named 'nope' \(known: churn\)"):
        repo.get_version(db, "nope")
    with pytest.raises(NotFoundError, match="has no version D7"):
        repo.get_version(db, "churn@D7")
    with pytest.raises(NotFoundError, match="NAME@D<number>"):
        repo.get_version(db, "churn@latest")


def test_an_older_schema_is_refused_with_the_upgrade_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url)
    old.upgrade("0001")
    old.dispose()
    db = Database(url)
    with pytest.raises(SchemaOutOfDateError) as caught:
        db.ensure_schema()
    assert "0001" in str(caught.value) and "workbench db upgrade" in str(caught.value)
    db.upgrade()
    db.ensure_schema()
    assert db.current_revision() == HEAD_REVISION
    db.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}", busy_timeout_ms=1234)
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 1234
    db.dispose()


def test_a_locked_database_gives_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    db = Database(f"sqlite:///{path}", busy_timeout_ms=200)
    db.ensure_schema()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with pytest.raises(StorageError) as caught:
            add(db, "churn", "a" * 64)
    finally:
        holder.rollback()
        holder.close()
    message = str(caught.value)
    assert "database is locked" in message and "\n" not in message
    assert repo.list_datasets(db) == []
    db.dispose()


def test_migrations_build_exactly_the_tables_the_models_describe(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import storage.models_sweeps  # noqa: F401  (all tables on Base.metadata)

    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.ensure_schema()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)] == []
