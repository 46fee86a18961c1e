"""Snapshots of the main screens on a demo workspace with fixed paths and timestamps.
Update after an intended change with `pytest tests/test_snapshots.py --snapshot-update`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from storage.handle import Workspace
from tests.app_helpers import build_demo_workspace, settle
from workbench.app import WorkbenchApp

FIXED_ROOT = Path("/tmp/workbench-snapshots")
SIZE = (150, 40)


@pytest.fixture
def fixed_demo() -> Iterator[Path]:
    """A demo workspace at a path that is the same on every machine (paths show on screen)."""
    shutil.rmtree(FIXED_ROOT, ignore_errors=True)
    yield build_demo_workspace(FIXED_ROOT / "ws", FIXED_ROOT / "data")
    shutil.rmtree(FIXED_ROOT, ignore_errors=True)


def after(*keys: str):
    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def test_datasets_screen(snap_compare, fixed_demo: Path) -> None:
    assert snap_compare(WorkbenchApp(fixed_demo), terminal_size=SIZE, run_before=after("down"))


def test_dataset_detail_profile(snap_compare, fixed_demo: Path) -> None:
    keys = after("down", "tab", "enter", "2")
    assert snap_compare(WorkbenchApp(fixed_demo), terminal_size=SIZE, run_before=keys)


def test_dataset_detail_validation(snap_compare, fixed_demo: Path) -> None:
    keys = after("down", "v")
    assert snap_compare(WorkbenchApp(fixed_demo), terminal_size=SIZE, run_before=keys)


def test_help_screen(snap_compare, fixed_demo: Path) -> None:
    keys = after("down", "v", "question_mark")  # over the detail screen: its tables are static
    assert snap_compare(WorkbenchApp(fixed_demo), terminal_size=SIZE, run_before=keys)


@pytest.fixture
def fixed_sweep() -> Iterator[Path]:
    """Wine and a finished 4-trial random-forest sweep at a fixed path, with the things that
    change from machine to machine (durations, times, environment) set to fixed values."""
    from datetime import timedelta

    from sqlalchemy import update

    from pipelines.sweep_worker import run_worker
    from pipelines.sweeps import create_sweep
    from storage.handle import open_workspace
    from storage.models_sweeps import RunRow
    from tests.app_helpers import FIXED_TIME
    from tests.sweep_helpers import add_sample

    shutil.rmtree(FIXED_ROOT, ignore_errors=True)
    ws = open_workspace(FIXED_ROOT / "sweep")
    try:
        add_sample(ws, "wine", "cultivar")
        spec = {"dataset": "wine", "target": "cultivar", "model": "random_forest"}
        spec |= {"metric": "accuracy", "trials": 4, "folds": 3, "pruner": "none"}
        run_worker(ws, create_sweep(ws, spec).sweep.id)
        environment = {"python": "3.11.0", "platform": "Linux", "libraries": {"workbench": "0"}}
        with ws.db.session_scope() as session:
            for run_id in range(1, 5):
                session.execute(
                    update(RunRow)
                    .where(RunRow.id == run_id)
                    .values(
                        started_at=FIXED_TIME,
                        finished_at=FIXED_TIME + timedelta(seconds=run_id),
                        duration_s=float(run_id),
                        environment=environment,
                    )
                )
    finally:
        ws.close()
    yield FIXED_ROOT / "sweep"
    shutil.rmtree(FIXED_ROOT, ignore_errors=True)


def compare_app(root: Path) -> WorkbenchApp:
    from screens.compare import CompareScreen

    class CompareApp(WorkbenchApp):
        def workspace_opened(self, workspace: Workspace) -> None:
            super().workspace_opened(workspace)  # then straight onto the compare screen
            self.push_screen(CompareScreen(workspace, [1, 2, 3]))

    return CompareApp(root)


def test_compare_screen(snap_compare, fixed_sweep: Path) -> None:
    assert snap_compare(compare_app(fixed_sweep), terminal_size=SIZE, run_before=after())


def test_compare_insight(snap_compare, fixed_sweep: Path) -> None:
    keys = after("right", "5")
    assert snap_compare(compare_app(fixed_sweep), terminal_size=SIZE, run_before=keys)
