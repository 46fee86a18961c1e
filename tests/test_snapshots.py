"""Snapshots of the main screens on a demo workspace with fixed timestamps, wide (150×40)
and at the smallest size every screen must work at (80×24). Update after an intended change
with `pytest tests/test_snapshots.py --snapshot-update`, and look at the pictures.

Workspaces live in the test's own tmp_path, under the HOME that tests/conftest.py gives each
test: the screens show paths with the home folder as ~, so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from storage.handle import Workspace
from tests.app_helpers import build_demo_workspace, settle, text_showing
from workbench.app import WorkbenchApp

SIZE = (150, 40)
SMALL = (80, 24)


@pytest.fixture
def fixed_demo() -> Path:
    """The demo datasets, shown as ~/ws and ~/data (paths show on screen)."""
    home = Path.home()
    return build_demo_workspace(home / "ws", home / "data")


def after(*keys: str, showing: tuple[str, ...] = ()):
    """Settle, then press `keys`; first wait until lines start with `showing` (a table's
    row labels are laid out on an idle frame after the workers that filled it end)."""

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        if showing:
            await text_showing(pilot, *showing)
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
def fixed_sweep() -> Path:
    """Wine and a finished 4-trial random-forest sweep in ~/sweep, with the things that
    change from machine to machine (durations, times, environment) set to fixed values."""
    from datetime import timedelta

    from sqlalchemy import update

    from pipelines.sweeps.lifecycle import create_sweep
    from pipelines.sweeps.worker import run_worker
    from storage.handle import open_workspace
    from storage.models_sweeps import RunRow, SweepRow
    from tests.app_helpers import FIXED_TIME
    from tests.sweep_helpers import add_sample

    root = Path.home() / "sweep"
    ws = open_workspace(root)
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
            elapsed = timedelta(seconds=65)
            session.execute(
                update(SweepRow).values(
                    created_at=FIXED_TIME,
                    started_at=FIXED_TIME,
                    finished_at=FIXED_TIME + elapsed,
                    heartbeat_at=FIXED_TIME,
                )
            )
    finally:
        ws.close()
    return root


def compare_app(root: Path) -> WorkbenchApp:
    from screens.compare import CompareScreen

    class CompareApp(WorkbenchApp):
        def workspace_opened(self, workspace: Workspace) -> None:
            super().workspace_opened(workspace)  # then straight onto the compare screen
            self.push_screen(CompareScreen(workspace, [1, 2, 3]))

    return CompareApp(root)


def test_compare_screen(snap_compare, fixed_sweep: Path) -> None:
    keys = after(showing=("Metrics", "accuracy"))
    assert snap_compare(compare_app(fixed_sweep), terminal_size=SIZE, run_before=keys)


def test_compare_insight(snap_compare, fixed_sweep: Path) -> None:
    keys = after("right", "5")
    assert snap_compare(compare_app(fixed_sweep), terminal_size=SIZE, run_before=keys)


# --- every main screen at 80×24 --------------------------------------------------------


def test_datasets_80x24(snap_compare, fixed_demo: Path) -> None:
    assert snap_compare(WorkbenchApp(fixed_demo), terminal_size=SMALL, run_before=after("down"))


def test_help_80x24(snap_compare, fixed_demo: Path) -> None:
    keys = after("down", "v", "question_mark")
    assert snap_compare(WorkbenchApp(fixed_demo), terminal_size=SMALL, run_before=keys)


def test_sweeps_80x24(snap_compare, fixed_sweep: Path) -> None:
    assert snap_compare(WorkbenchApp(fixed_sweep), terminal_size=SMALL, run_before=after("s"))


def test_sweep_detail_80x24(snap_compare, fixed_sweep: Path) -> None:
    keys = after("s", "enter")
    assert snap_compare(WorkbenchApp(fixed_sweep), terminal_size=SMALL, run_before=keys)


def test_sweep_form_80x24(snap_compare, fixed_sweep: Path) -> None:
    keys = after("s", "n")
    assert snap_compare(WorkbenchApp(fixed_sweep), terminal_size=SMALL, run_before=keys)


def test_runs_80x24(snap_compare, fixed_sweep: Path) -> None:
    assert snap_compare(WorkbenchApp(fixed_sweep), terminal_size=SMALL, run_before=after("r"))


def test_compare_80x24(snap_compare, fixed_sweep: Path) -> None:
    keys = after(showing=("Metrics", "accuracy"))
    assert snap_compare(compare_app(fixed_sweep), terminal_size=SMALL, run_before=keys)
