"""Every screen as a person moves through it: after each modal (help, the palette, a form or
dialog) focus is back on the widget that had it, cursor unmoved, and the palette offers every
global action (workbench.app.GLOBAL_COMMANDS) whatever screen it is opened on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable

from pipelines.sweeps.lifecycle import create_sweep
from pipelines.sweeps.worker import run_worker
from storage.handle import open_workspace
from tests.app_helpers import screen_text, settle
from tests.sweep_helpers import add_sample
from workbench.app import GLOBAL_COMMANDS, WorkbenchApp

SIZE = (120, 40)
SWEEP = {"dataset": "wine", "target": "cultivar", "model": "random_forest", "trials": 3}
SWEEP |= {"folds": 2, "pruner": "none"}

TO_COMPARE = ("escape", "home", "space", "down", "space", "c")  # runs 1 and 2 of the table
# (keys that reach the screen, keys that move focus/cursor there, its own modals: the keys
# that open one and the key that closes it).
WALK = (
    ("DatasetsScreen", ("d",), ("tab", "down"), (("a", "escape"), ("x", "n"))),
    ("DatasetDetailScreen", ("enter",), ("shift+tab", "right"), ()),
    ("SweepsScreen", ("escape", "s"), (), (("n", "escape"),)),
    ("SweepDetailScreen", ("enter",), ("down",), (("e", "escape"),)),
    ("RunsScreen", ("escape", "r"), ("down", "down"), (("e", "escape"),)),
    ("RunDetailScreen", ("enter",), (), ()),
    ("CompareScreen", TO_COMPARE, ("down",), (("e", "escape"),)),
)
EVERYWHERE = (("question_mark", "escape"), ("ctrl+p", "escape"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("focus") / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
        run_worker(ws, create_sweep(ws, SWEEP).sweep.id)
    finally:
        ws.close()
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "ws")
    return tmp_path / "ws"


def where(app: WorkbenchApp) -> tuple[object, object]:
    """The focused widget, and its cursor if it is a table."""
    focused = app.focused
    if isinstance(focused, DataTable):
        return focused, focused.cursor_coordinate
    return focused, getattr(focused, "cursor_row", None)  # the runs table (LazyTable)


async def test_focus_comes_back_after_every_modal_on_every_screen(workspace: Path) -> None:
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for name, reach, move, modals in WALK:
            for key in reach:
                await pilot.press(key)
                await settle(pilot)
            screen = app.screen
            assert type(screen).__name__ == name, (name, [n.message for n in app._notifications])
            await pilot.press(*move)
            await settle(pilot)
            before = where(app)
            assert before[0] is not None and before[0] in screen.focus_chain, name
            for opens, closes in (*EVERYWHERE, *modals):
                await pilot.press(opens)
                await settle(pilot)
                assert app.screen is not screen, (name, opens)  # a modal really came up
                await pilot.press(closes)
                await settle(pilot)
                assert app.screen is screen, (name, opens)
                assert where(app) == before, (name, opens, where(app), before)


async def test_the_palette_offers_every_global_action_on_every_screen(workspace: Path) -> None:
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for name, reach, _, _ in WALK:
            for key in reach:
                await pilot.press(key)
                await settle(pilot)
            assert type(app.screen).__name__ == name
            await pilot.press("ctrl+p")
            for command, _, _ in GLOBAL_COMMANDS:
                await pilot.press(*command.lower())
                await pilot.pause(0.3)
                assert command in screen_text(pilot), (name, command)
                await pilot.press("ctrl+u")  # clear the search
            for _ in range(3):  # escape closes the list of hits first, then the palette
                if not isinstance(app.screen, CommandPalette):
                    break
                await pilot.press("escape")
                await settle(pilot)
            assert type(app.screen).__name__ == name
