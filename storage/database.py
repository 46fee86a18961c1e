"""The metadata database: engine set-up, the one `session_scope()`, and the schema check.

SQLite gets WAL, foreign keys and a busy timeout on every connection; PostgreSQL goes
through exactly the same code. Opening a database made by an older Workbench is refused
with the command that upgrades it; one made by a newer Workbench (a revision this one has
no migration for) is refused, by every command and by `db upgrade`, with the advice to
upgrade Workbench; a fresh database is created at the newest revision.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from storage.errors import SchemaOutOfDateError, SchemaTooNewError, StorageError
from storage.models import TABLE_PREFIX
from storage.schema_version import HEAD_REVISION, VERSION_TABLE


def make_engine(url: str, busy_timeout_ms: int = 30_000) -> Engine:
    """An engine with the pragmas Workbench relies on."""
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            poolclass=StaticPool if in_memory else None,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def workbench_version() -> str:
    """The installed Workbench's version, for messages."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("workbench")
    except PackageNotFoundError:
        return "unknown"


def describe_url(engine: Engine) -> str:
    """The SQLite file, or the URL without its password, for messages."""
    if engine.url.get_backend_name() == "sqlite":
        return engine.url.database or "in-memory SQLite"
    return engine.url.render_as_string(hide_password=True)


def one_line(exc: BaseException) -> str:
    """The first line of a driver error, without SQLAlchemy's background links."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__


class Database:
    """One metadata database: hands out sessions and knows its schema revision."""

    def __init__(self, url: str, busy_timeout_ms: int = 30_000) -> None:
        self.engine = make_engine(url, busy_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return describe_url(self.engine)

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """Commit on success, roll back on any error, always close; driver errors become
        StorageError with a single readable line."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StorageError(self._explain(exc)) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _explain(self, exc: SQLAlchemyError) -> str:
        message = one_line(exc)
        if isinstance(exc, OperationalError) and "locked" in message:
            return f"{self.url}: database is locked by another writer and stayed locked ({message})"
        return f"{self.url}: {message}"

    # --- schema revision -------------------------------------------------------------

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as connection:
                if not inspect(connection).has_table(VERSION_TABLE):
                    return None
                row = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
        except SQLAlchemyError as exc:
            raise StorageError(self._explain(exc)) from exc
        return row[0] if row else None

    def has_workbench_tables(self) -> bool:
        with self.engine.connect() as connection:
            names = inspect(connection).get_table_names()
        return any(n.startswith(TABLE_PREFIX) and n != VERSION_TABLE for n in names)

    def ensure_schema(self) -> None:
        """Create a fresh database at head; refuse an old one with the upgrade command."""
        revision = self.current_revision()
        if revision == HEAD_REVISION:
            return
        if revision is None:
            with self._creation_lock():
                # Several first commands on a new workspace race to create it: the ones that
                # waited find it made (or half made: the lock is held until it is stamped).
                revision = self.current_revision()
                if revision is None and not self.has_workbench_tables():
                    self.upgrade()
                    return
            if revision == HEAD_REVISION:
                return
        self._refuse_newer(revision)
        found = revision or "an unknown revision"
        raise SchemaOutOfDateError(
            f"{self.url}: the database schema is at {found} but this Workbench needs "
            f"{HEAD_REVISION}; run `workbench db upgrade` to upgrade it"
        )

    @contextmanager
    def _creation_lock(self) -> Iterator[None]:
        """For a SQLite file, an exclusive lock beside it while its schema is created
        (PostgreSQL serialises concurrent DDL itself: the losers' re-check finds it made)."""
        database = self.engine.url.database
        if self.engine.url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
            yield
            return
        import fcntl

        folder, name = os.path.split(database)
        with open(os.path.join(folder, f".{name}.create-lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _refuse_newer(self, revision: str | None) -> None:
        """A revision without a migration here was written by a newer Workbench: neither
        using nor "upgrading" it can work, only upgrading Workbench can."""
        from storage.migrations.runner import known_revisions

        if revision is None or revision in known_revisions():
            return
        raise SchemaTooNewError(
            f"{self.url}: this Workbench ({workbench_version()}, schema {HEAD_REVISION}) is "
            f"older than the workspace, whose database a newer Workbench left at schema "
            f"{revision}; upgrade Workbench to open it"
        )

    def upgrade(self, revision: str = "head") -> None:
        from alembic.util import CommandError

        from storage.migrations.runner import upgrade

        self._refuse_newer(self.current_revision())
        try:
            upgrade(self.engine, revision)
        except SQLAlchemyError as exc:
            raise StorageError(self._explain(exc)) from exc
        except CommandError as exc:
            raise StorageError(f"{self.url}: {one_line(exc)}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
