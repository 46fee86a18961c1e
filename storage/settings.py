"""Typed settings, layered: defaults < workspace settings.toml < WORKBENCH_* env < flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from storage.errors import WorkbenchError
from storage.workspace import WorkspacePaths


@dataclass(frozen=True)
class Settings:
    """Everything a workspace can be configured with."""

    database_url: str = ""
    """SQLAlchemy URL of the metadata store; empty means the workspace's own SQLite file.
    PostgreSQL for teams: postgresql+psycopg://user:pass@host/db."""

    theme: str = "textual-dark"
    """Textual theme the TUI opens with."""

    busy_timeout_ms: int = 30_000
    """How long a SQLite writer waits for another writer before giving up."""

    base_image: str = "python:3.11-slim"
    """The image serving images are built on (`workbench image build --base` overrides it);
    where Docker Hub is unreachable, a local one such as `.ci/base-image.sh` builds."""

    @classmethod
    def load(cls, paths: WorkspacePaths, **flags: object) -> Settings:
        """Merge the layers; flags given as None are treated as not typed."""
        settings = cls()
        if paths.settings_file.is_file():
            settings = settings._merged(_read_toml(paths.settings_file), str(paths.settings_file))
        env = {
            f.name: os.environ[f"WORKBENCH_{f.name.upper()}"]
            for f in fields(cls)
            if f"WORKBENCH_{f.name.upper()}" in os.environ
        }
        settings = settings._merged(env, "environment")
        return settings._merged({k: v for k, v in flags.items() if v is not None}, "flags")

    def database_url_for(self, paths: WorkspacePaths) -> str:
        return self.database_url or f"sqlite:///{paths.database_file}"

    def _merged(self, values: Mapping[str, object], origin: str) -> Settings:
        known = {f.name: f.type for f in fields(self)}
        changes: dict[str, Any] = {}  # each field's own type, int or str, checked below
        for key, value in values.items():
            if key not in known:
                raise WorkbenchError(f"{origin}: unknown setting {key!r}")
            if known[key] != "int":
                changes[key] = str(value)
            elif isinstance(value, int | float | str):
                changes[key] = int(value)
            else:
                raise WorkbenchError(f"{origin}: setting {key!r} is not a number: {value!r}")
        return replace(self, **changes)


def _read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise WorkbenchError(f"{path}: cannot read settings ({exc})") from None
