"""The Models screen as a person uses it: m opens it on real registered versions of a real
sweep's models; p promotes the selected version (the alias moves in the database), x
demotes it, space and c diff two versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.registry import versions as registry
from storage.handle import open_workspace
from tests.app_helpers import screen_text, settle
from tests.registry_helpers import build_template, kept_run_ids
from workbench.app import WorkbenchApp

SIZE = (150, 45)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_template(tmp_path_factory.mktemp("models-screen"))
    ws = open_workspace(root)
    try:
        r1, r2, r3 = kept_run_ids(ws)
        registry.register_model(ws, r1, "wine-rf", alias="production", description="baseline")
        registry.register_model(ws, r2, "wine-rf")
        registry.register_model(ws, r3, "wine-forest")
    finally:
        ws.close()
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(template, tmp_path / "ws")
    return tmp_path / "ws"


def aliases(root: Path, name: str) -> dict[str, int]:
    ws = open_workspace(root)
    try:
        return registry.get_model(ws, name).aliases
    finally:
        ws.close()


async def test_models_versions_lineage_and_alias_keys(workspace: Path) -> None:
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert type(app.screen).__name__ == "ModelsScreen"
        text = screen_text(pilot)
        assert "wine-forest" in text and "production→1" in text
        await pilot.press("down", "enter")  # wine-rf, then into its versions
        await settle(pilot)
        text = screen_text(pilot)
        assert "wine-rf:2" in text and "run 2 (trial 1) of sweep 1 'wine-rf'" in text
        assert "data wine@D0" in text and "metrics: accuracy" in text
        await pilot.press("p")
        await settle(pilot)
        assert "Point which alias at wine-rf:2?" in screen_text(pilot)
        await pilot.press("p")  # production
        await settle(pilot)
        assert aliases(workspace, "wine-rf") == {"production": 2}
        said = [str(n.message) for n in app._notifications]
        assert "wine-rf@production moved from wine-rf:1 to wine-rf:2" in said
        await pilot.press("x")  # demote: its only alias goes
        await settle(pilot)
        assert aliases(workspace, "wine-rf") == {}, [str(n.message) for n in app._notifications]
        await pilot.press("up", "space", "down", "c")
        await settle(pilot)
        text = screen_text(pilot)
        assert "diff wine-rf:1 → wine-rf:2" in text and "lineage:" in text
        assert "  run: 1 → 2" in text and "accuracy:" in text


async def test_with_no_models_it_says_how_to_register_one(tmp_path: Path) -> None:
    app = WorkbenchApp(tmp_path / "empty")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert "no registered models yet" in screen_text(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert "no model version selected" in [str(n.message) for n in app._notifications]
