"""Shared fixtures: every test gets its own workspace and never sees the user's config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.handle import Workspace, open_workspace

POSTGRES_URL = os.environ.get("WORKBENCH_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real user-data folder or a WORKBENCH_* variable."""
    for key in list(os.environ):
        if key.startswith("WORKBENCH_") and key != "WORKBENCH_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = open_workspace(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture
def samples_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "assets" / "sample_data"
