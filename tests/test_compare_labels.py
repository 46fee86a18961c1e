"""The Compare screen's row labels (field names, section titles, runs when transposed) are on
the very first frame painted after the table is filled, and on every frame after it: a frame
painted before DataTable's idle tick once left the label column 0 cells wide for good."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.sweeps.lifecycle import create_sweep
from pipelines.sweeps.worker import run_worker
from screens.compare import CompareScreen
from storage.handle import open_workspace
from tests.app_helpers import first_words, screen_text, settle
from tests.sweep_helpers import add_sample
from workbench.app import WorkbenchApp

SIZE = (160, 48)
SWEEP = {
    "dataset": "wine",
    "target": "cultivar",
    "model": "random_forest",
    "metric": "accuracy",
    "trials": 3,
    "folds": 3,
    "pruner": "none",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compare-labels") / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
        run_worker(ws, create_sweep(ws, SWEEP).sweep.id)
    finally:
        ws.close()
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    return root


def labels_on(text: str, *names: str) -> None:
    words = first_words(text)
    missing = [name for name in names if name not in words]
    assert not missing, f"row labels {missing} are not on screen:\n{text}"


async def test_the_label_column_is_on_the_frame_painted_right_after_each_fill(
    workspace: Path,
) -> None:
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, [1, 2, 3]))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        labels_on(screen_text(pilot), "Metrics", "accuracy", "Parameters")

        screen.render_table()  # a refill (sort, filter, baseline) painted before the idle tick
        labels_on(screen_text(pilot), "Metrics", "accuracy", "Parameters")
        await pilot.pause(0.2)
        labels_on(screen_text(pilot), "Metrics", "accuracy", "Parameters")

        screen.transposed = True  # runs as rows: the runs are the labels
        screen.render_table()
        text = screen_text(pilot)
        assert sum(1 for line in text.splitlines() if line.strip(" │▎").startswith("run ")) == 3
        await pilot.pause(0.2)
        text = screen_text(pilot)
        assert sum(1 for line in text.splitlines() if line.strip(" │▎").startswith("run ")) == 3
