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
    """The folders and files of one workspace: the only place their names are spelled, so
    every module that writes into a workspace asks here (tests/test_workspace_paths.py
    checks that none spells one by hand)."""

    root: Path

    @property
    def database_file(self) -> Path:
        return self.root / DATABASE_FILE

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.toml"

    @property
    def artifacts(self) -> Path:
        """Content-addressed by sha256 (storage.artifacts): nothing else goes here."""
        return self.root / "artifacts"

    @property
    def datasets(self) -> Path:
        """Frozen copies of registered dataset versions."""
        return self.root / "datasets"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def builds(self) -> Path:
        """Docker build contexts."""
        return self.root / "builds"

    @property
    def cache(self) -> Path:
        """What can be recomputed and is not content-addressed: Parquet conversions of
        referenced text files, runs snapshots, permutation importances."""
        return self.root / "cache"

    @property
    def logs(self) -> Path:
        """Output of supervised processes (sweep workers, next builds and deployments)."""
        return self.root / "logs"

    @property
    def optuna(self) -> Path:
        """Optuna's journal file of a SQLite workspace's studies."""
        return self.root / "optuna"

    @property
    def sweeps(self) -> Path:
        """Sweep spec TOML files saved from the launch form."""
        return self.root / "sweeps"

    def folders(self) -> tuple[Path, ...]:
        """Every folder of the workspace, the root first."""
        return (
            self.root,
            self.artifacts,
            self.datasets,
            self.reports,
            self.builds,
            self.cache,
            self.logs,
            self.optuna,
            self.sweeps,
        )

    def resolve(self, relative: str | os.PathLike[str]) -> Path:
        """A path the database records relative to the root (a frozen copy, the Optuna
        journal), so a workspace can move or be shared by machines mounting it elsewhere."""
        return self.root / relative

    def relative(self, path: Path) -> str:
        """What the database records for a path inside the workspace (see `resolve`)."""
        return str(path.relative_to(self.root))

    def create(self) -> None:
        """Make the missing folders, private to their owner (an existing one keeps its mode)."""
        for folder in self.folders():
            folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)


def keep_files_private() -> None:
    """Make every file and folder this process creates from now on private to its owner
    (umask 077 added to the current one), whichever module writes it: the database and
    its WAL/SHM files, frozen datasets, models, logs, journals, reports. A workspace holds
    users' data, so a default umask of 022 must not leave it readable by every local user."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)
