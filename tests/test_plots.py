"""Plots a person can read: one metric per axis (a LightGBM run records logloss and roc_auc,
which do not share a scale) and legends under the plot, not over its lines."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import Screen

from pipelines.sweeps.lifecycle import create_sweep
from pipelines.sweeps.worker import run_worker
from screens.compare import CompareScreen
from screens.run_detail import RunDetailScreen
from screens.sweep_detail import SweepDetailScreen
from storage.handle import Workspace, open_workspace
from tests.app_helpers import screen_text, settle
from tests.sweep_helpers import add_sample
from workbench.app import WorkbenchApp

SIZE = (120, 40)
LEGEND_MARKS = ("⢕⢕", "••")  # how plotext draws its in-plot legend entries


@pytest.fixture(scope="module")
def lightgbm_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plots") / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "breast_cancer", "diagnosis")
        spec = {"dataset": "breast_cancer", "model": "lightgbm", "metric": "roc_auc"}
        spec |= {"trials": 2, "folds": 2, "pruner": "none"}
        run_worker(ws, create_sweep(ws, spec).sweep.id)
    finally:
        ws.close()
    return root


@pytest.fixture
def lightgbm(lightgbm_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(lightgbm_template, root)
    return root


def below_the_axis(text: str, wanted: str) -> bool:
    """``wanted`` is on a line after the plot's x label (under the plot, not in it)."""
    lines = text.splitlines()
    axis = next(i for i, line in enumerate(lines) if "iteration" in line or " trial " in line)
    return any(wanted in line for line in lines[axis:]) and not any(
        wanted in line for line in lines[:axis]
    )


async def push(pilot: Pilot[object], screen: Callable[[Workspace], Screen[None]]) -> str:
    """Open the workspace, then push the screen made for it."""
    await settle(pilot)
    workspace = pilot.app.workspace  # type: ignore[attr-defined]
    pilot.app.push_screen(screen(workspace))
    await settle(pilot)
    return screen_text(pilot)


async def test_run_detail_plots_one_metric_at_a_time(lightgbm: Path) -> None:
    app = WorkbenchApp(lightgbm)
    async with app.run_test(size=SIZE) as pilot:
        text = await push(pilot, lambda ws: RunDetailScreen(ws, 1))
        assert "valid_roc_auc" in text and "valid_binary_logloss" not in text
        assert below_the_axis(text, "━━ valid_roc_auc") and "metric 1/2" in text
        assert not any(mark in text for mark in LEGEND_MARKS)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        text = screen_text(pilot)
        assert "valid_binary_logloss" in text and "valid_roc_auc" not in text


async def test_compare_curves_and_sweep_plot_keep_legends_off_the_lines(lightgbm: Path) -> None:
    app = WorkbenchApp(lightgbm)
    async with app.run_test(size=SIZE) as pilot:
        await push(pilot, lambda ws: CompareScreen(ws, [1, 2]))
        await pilot.press("2")
        await settle(pilot)
        text = screen_text(pilot)
        assert below_the_axis(text, "━━ run 1") and below_the_axis(text, "━━ run 2")
        assert not any(mark in text for mark in LEGEND_MARKS)
        await pilot.press("escape")
        text = await push(pilot, lambda ws: SweepDetailScreen(ws, 1))
        assert "best so far ━, trials ·" in text
        assert not any(mark in text for mark in LEGEND_MARKS)
