"""Snapshots of the main screens on a demo workspace with fixed paths and timestamps.
Update after an intended change with `pytest tests/test_snapshots.py --snapshot-update`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

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
