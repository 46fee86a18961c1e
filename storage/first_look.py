"""The datasets list read with the standard library's sqlite3, read-only, for the TUI's
first useful frame: SQLAlchemy and the ORM take longer to import than Textual does to draw,
so the datasets are shown from this while the workspace opens in the background, then
replaced by the full listing. Only an existing SQLite file at this Workbench's schema is
read; anything else (PostgreSQL, no file, another revision, a lock, any error) gives None
and the screen simply waits for the workspace."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from storage.errors import WorkbenchError
from storage.schema_version import HEAD_REVISION, VERSION_TABLE
from storage.settings import Settings
from storage.workspace import WorkspacePaths

# The same rows as storage.datasets.list_datasets: each dataset, its newest version, by name.
QUERY = """
SELECT d.name, v.validation_status, v.row_count, coalesce(n.count, 0)
FROM wb_dataset AS d
LEFT OUTER JOIN (
    SELECT dataset_id, max("index") AS top, count(*) AS count
    FROM wb_dataset_version GROUP BY dataset_id
) AS n ON n.dataset_id = d.id
LEFT OUTER JOIN wb_dataset_version AS v ON v.dataset_id = d.id AND v."index" = n.top
ORDER BY d.name
"""


@dataclass(frozen=True)
class DatasetGlance:
    """What the datasets table shows of one dataset; status/rows are None with no version."""

    name: str
    status: str | None
    row_count: int | None
    version_count: int


def glance_datasets(database_file: Path, timeout_s: float = 0.05) -> list[DatasetGlance] | None:
    """The datasets of the SQLite file at `database_file`, or None when it cannot be read
    quickly and surely (the full open then reports what is wrong). A write holding the
    file waits at most `timeout_s`: this runs on the UI thread, before the first frame."""
    if not database_file.is_file():
        return None
    uri = f"file:{quote(str(database_file))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=timeout_s)
    except sqlite3.Error:
        return None
    try:
        revision = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
        if revision != [(HEAD_REVISION,)]:
            return None
        rows = connection.execute(QUERY).fetchall()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    return [DatasetGlance(name, status, rows_, int(count)) for name, status, rows_, count in rows]


def glance_workspace(root: Path, database_url: str | None = None) -> list[DatasetGlance] | None:
    """`glance_datasets` of the workspace at `root` when its database is its own SQLite
    file (the default); None for any other database or unreadable settings."""
    paths = WorkspacePaths(root)
    try:
        settings = Settings.load(paths, database_url=database_url)
    except (WorkbenchError, OSError):
        return None
    if settings.database_url_for(paths) != f"sqlite:///{paths.database_file}":
        return None
    return glance_datasets(paths.database_file)
