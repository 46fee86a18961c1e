"""Settings layered from defaults, settings.toml, WORKBENCH_* variables and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.errors import WorkbenchError
from storage.settings import Settings
from storage.workspace import WorkspacePaths


def paths_with(tmp_path: Path, toml: str) -> WorkspacePaths:
    paths = WorkspacePaths(tmp_path)
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text(toml, encoding="utf-8")
    return paths


def test_each_layer_overrides_the_one_below(tmp_path: Path, monkeypatch) -> None:
    paths = paths_with(tmp_path, 'theme = "nord"\nbusy_timeout_ms = 100\n')
    monkeypatch.setenv("WORKBENCH_BUSY_TIMEOUT_MS", "200")
    settings = Settings.load(paths, theme=None, database_url="sqlite:///x.db")
    assert settings == Settings(database_url="sqlite:///x.db", theme="nord", busy_timeout_ms=200)


def test_a_setting_of_the_wrong_kind_names_its_origin(tmp_path: Path) -> None:
    paths = paths_with(tmp_path, "busy_timeout_ms = [1, 2]\n")
    with pytest.raises(WorkbenchError, match=r"settings\.toml: setting 'busy_timeout_ms' is not"):
        Settings.load(paths)
    with pytest.raises(WorkbenchError, match="flags: unknown setting 'colour'"):
        Settings.load(WorkspacePaths(tmp_path / "empty"), colour="red")


def test_the_base_image_of_serving_images_is_a_setting(tmp_path: Path, monkeypatch) -> None:
    assert Settings().base_image == "python:3.11-slim"
    paths = paths_with(tmp_path, 'base_image = "workbench-base/python:3.11"\n')
    assert Settings.load(paths).base_image == "workbench-base/python:3.11"
    monkeypatch.setenv("WORKBENCH_BASE_IMAGE", "registry.local/python:3.11")
    assert Settings.load(paths).base_image == "registry.local/python:3.11"
