"""An open workspace: its folders, its settings and its database, passed down explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.database import Database
from storage.errors import WorkbenchError
from storage.settings import Settings
from storage.workspace import WorkspacePaths, keep_files_private


@dataclass(frozen=True)
class Workspace:
    paths: WorkspacePaths
    settings: Settings
    db: Database

    @property
    def root(self) -> Path:
        return self.paths.root

    def close(self) -> None:
        self.db.dispose()


def open_workspace(
    root: Path, *, database_url: str | None = None, check_schema: bool = True
) -> Workspace:
    """Create the folders if needed, open the database, and check (or create) its schema.

    From here on the process creates files private to its owner (`keep_files_private`)."""
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
