"""An open workspace: its folders, its settings and its database, passed down explicitly.

SQLAlchemy loads when a workspace is opened, not when this module is imported: the CLI's
parsers and the TUI's first frame name `Workspace` without paying for the database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from storage.artifacts import ArtifactStore
from storage.errors import WorkbenchError
from storage.settings import Settings
from storage.workspace import WorkspacePaths, keep_files_private

if TYPE_CHECKING:
    from storage.database import Database


@dataclass(frozen=True)
class Workspace:
    paths: WorkspacePaths
    settings: Settings
    db: Database

    @property
    def root(self) -> Path:
        return self.paths.root

    @cached_property
    def artifacts(self) -> ArtifactStore:
        """The workspace's one artifact store (made on first use; the dataclass stays
        frozen: a cached property writes the instance dict, not through __setattr__)."""
        return ArtifactStore(self.paths.artifacts)

    @property
    def database_url(self) -> str:
        """The database URL to show (password hidden)."""
        return self.db.url

    def schema_revision(self) -> str | None:
        """The database's schema revision; None for an empty database."""
        return self.db.current_revision()

    def schema_is_current(self) -> bool:
        from storage.database import HEAD_REVISION

        return self.schema_revision() == HEAD_REVISION

    def upgrade_schema(self) -> None:
        """Migrate the database to this Workbench's schema (Alembic, one transaction)."""
        self.db.upgrade()

    def close(self) -> None:
        self.db.dispose()


def open_workspace(
    root: Path, *, database_url: str | None = None, check_schema: bool = True
) -> Workspace:
    """Create the folders if needed, open the database, and check (or create) its schema.

    From here on the process creates files private to its owner (`keep_files_private`)."""
    from storage.database import Database

    paths = WorkspacePaths(root)
    keep_files_private()
    if root.exists() and not root.is_dir():
        raise WorkbenchError(f"{root}: workspace must be a folder, but it is a file")
    try:
        paths.create()
    except OSError as exc:
        raise WorkbenchError(f"{root}: cannot create workspace ({exc.strerror})") from None
    settings = Settings.load(paths, database_url=database_url)
    db = Database(settings.database_url_for(paths), settings.busy_timeout_ms)
    if check_schema:
        try:
            db.ensure_schema()
        except BaseException:
            db.dispose()
            raise
    return Workspace(paths=paths, settings=settings, db=db)
