"""Where a workspace lives and what it holds. Pure paths: cheap to import at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

WORKSPACE_ENV = "WORKBENCH_WORKSPACE"
DATABASE_FILE = "workbench.db"
PRIVATE_FOLDER = 0o700
PRIVATE_UMASK = 0o077


def default_workspace_root() -> Path:
    """The platform's user-data folder, e.g. ~/.local/share/workbench on Linux."""
    from platformdirs import user_data_path

    return user_data_path("workbench", appauthor=False)


def resolve_workspace_root(flag: str | os.PathLike[str] | None = None) -> Path:
    """--workspace beats WORKBENCH_WORKSPACE beats the platform default."""
    chosen = flag or os.environ.get(WORKSPACE_ENV)
    return Path(chosen).expanduser().resolve() if chosen else default_workspace_root()


@dataclass(frozen=True)
class WorkspacePaths:
    """The folders and files of one workspace."""

    root: Path

    @property
    def database_file(self) -> Path:
        return self.root / DATABASE_FILE

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.toml"

    def create(self) -> None:
        """Make the missing folders, private to their owner (an existing one keeps its mode)."""
        for folder in (self.root, self.artifacts, self.datasets, self.reports, self.builds):
            folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)


def keep_files_private() -> None:
    """Make every file and folder this process creates from now on private to its owner
    (umask 077 added to the current one), whichever module writes it: the database and
    its WAL/SHM files, frozen datasets, models, logs, journals, reports. A workspace holds
    users' data, so a default umask of 022 must not leave it readable by every local user."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)
