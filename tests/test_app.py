"""The TUI as a person uses it: keys pressed, what the screen shows asserted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.app_helpers import build_demo_workspace, screen_text, settle
from workbench.app import WorkbenchApp

SIZE = (150, 45)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("demo")
    return build_demo_workspace(base / "ws", base / "data")


@pytest.fixture
def demo_root(demo_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(demo_template, root)
    return root


async def test_opens_on_datasets_and_shows_versions_of_the_highlighted_one(demo_root: Path) -> None:
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        for name in ("wine", "diabetes", "breast_cancer", "churn"):
            assert name in text
        assert "Versions of breast_cancer" in text  # the first dataset, alphabetically
        await pilot.press("down")  # churn
        await settle(pilot)
        text = screen_text(pilot)
        assert "Versions of churn" in text and "D1" in text and "D0" in text
        assert "time_spent_on_video_tutorials" in text  # the summary of D1's validation


async def test_detail_tabs_show_schema_profile_and_validation(demo_root: Path) -> None:
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "tab", "enter")  # churn, its versions, open D1
        await settle(pilot)
        text = screen_text(pilot)
        assert "churn@D1" in text and "monthly_charges" in text and "categorical" in text
        await pilot.press("2")
        text = screen_text(pilot)
        assert "histogram" in text and any(bar in text for bar in "▂▃▄▅▆▇█")
        await pilot.press("3")
        text = screen_text(pilot)
        assert "against D0" in text and "columns added" in text and "new missing values" in text
        await pilot.press("escape")
        assert "Versions of churn" in screen_text(pilot)


async def test_v_opens_the_validation_of_the_newest_version(demo_root: Path) -> None:
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "v")
        await settle(pilot)
        assert "validation of D1 against D0" in screen_text(pilot)


async def test_help_lists_the_keys_of_the_current_screen(demo_root: Path) -> None:
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        text = screen_text(pilot)
        assert "Browse rows" in text and "Add" in text and "Remove" in text and "ctrl+p" in text
        await pilot.press("escape")
        await pilot.press("down", "enter")  # enter on a dataset opens its newest version
        await settle(pilot)
        await pilot.press("question_mark")
        text = screen_text(pilot)
        assert "Schema" in text and "Profile" in text and "Validation" in text


async def test_add_a_file_from_the_form(demo_root: Path, tmp_path: Path) -> None:
    extra = tmp_path / "prices.tsv"
    extra.write_text("sku\tprice\nA1\t9.5\nB2\t12.0\nC3\t7.25\n")
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.click("#add-path")
        await pilot.press(*str(tmp_path / "nothing.csv"), "enter")
        assert "no such file" in screen_text(pilot)
        app.screen.query_one("#add-path").value = str(extra)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert "prices" in text and "added prices@D0" in text


async def test_a_bad_file_from_the_form_is_a_notification_and_writes_nothing(
    demo_root: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        app.screen.query_one("#add-path").value = str(bad)
        await pilot.press("enter")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("ragged.csv" in m and "line 3" in m for m in messages)
        assert "ragged" not in [s.name for s in app.datasets_screen.summaries]
        assert not list((demo_root / "datasets").glob(".incoming-*"))


async def test_remove_asks_first(demo_root: Path) -> None:
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")
        assert "Remove dataset breast_cancer and all its versions?" in screen_text(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert "breast_cancer" in [s.name for s in app.datasets_screen.summaries]
        await pilot.press("x", "y")
        await settle(pilot)
        assert "breast_cancer" not in [s.name for s in app.datasets_screen.summaries]
        assert "removed breast_cancer@D0" in screen_text(pilot)


async def test_theme_switch_and_screenshot_into_reports(demo_root: Path) -> None:
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != before
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = list((demo_root / "reports").glob("*.svg"))
        assert len(saved) == 1 and "<svg" in saved[0].read_text()


async def test_palette_runs_screen_actions(demo_root: Path) -> None:
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Validation")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert "validation of D0" in screen_text(pilot)


async def test_the_palette_lists_actions_not_cursor_keys(demo_root: Path) -> None:
    """A table's own keys (cursor up, page down, home …) are not palette commands: they
    buried the screen's actions under a dozen cursor moves."""
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"cursor")
        await pilot.pause(0.3)
        assert "Cursor down" not in screen_text(pilot)
        await pilot.press("ctrl+u", *"browse")
        await pilot.pause(0.3)
        assert "Browse rows" in screen_text(pilot)


async def test_an_old_database_shows_the_upgrade_command(tmp_path: Path) -> None:
    from storage.database import Database

    root = tmp_path / "ws"
    root.mkdir()
    old = Database(f"sqlite:///{root / 'workbench.db'}")
    old.upgrade("0001")
    old.dispose()
    app = WorkbenchApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "workbench db upgrade" in screen_text(pilot)
        assert any("workbench db upgrade" in n.message for n in app._notifications)


async def test_navigation_asked_for_before_the_workspace_opens_is_a_warning(
    tmp_path: Path,
) -> None:
    """Screens ask the App to open a screen (they never import one another); with no
    workspace open (here: a database too old to open) the App says so instead of crashing."""
    from screens.messages import CompareRuns, OpenRun, OpenRuns, OpenSweep
    from storage.database import Database

    root = tmp_path / "ws"
    root.mkdir()
    old = Database(f"sqlite:///{root / 'workbench.db'}")
    old.upgrade("0001")
    old.dispose()
    app = WorkbenchApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = app.screen
        for message in (OpenSweep(1), OpenRuns(1), OpenRun(1), CompareRuns([1, 2])):
            first.post_message(message)
        await settle(pilot)
        assert app.screen is first and app.workspace is None
        warned = [n for n in app._notifications if "workspace is not open yet" in n.message]
        assert len(warned) == 4


async def test_an_empty_workspace_says_how_to_start(tmp_path: Path) -> None:
    app = WorkbenchApp(tmp_path / "new")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "no datasets yet" in screen_text(pilot)


async def test_browse_rows_of_a_version_and_filter_them(demo_root: Path) -> None:
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(3):  # wine is the last dataset
            await pilot.press("down")
        await pilot.press("b")
        await settle(pilot)
        text = screen_text(pilot)
        assert "wine@D0" in text and "178 of 178 rows" in text and "alcohol" in text
        await pilot.press("slash", *"alcohol > 14.5", "enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert " of 178 rows" in text and "178 of 178" not in text
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"nope > 1", "enter")
        await settle(pilot)
        assert "nope" in screen_text(pilot) and "Binder Error" in screen_text(pilot)
        await pilot.press("escape", "escape")
        assert "Versions of wine" in screen_text(pilot)


async def test_the_first_enter_opens_details_after_launch_and_after_an_add(
    demo_root: Path, tmp_path: Path
) -> None:
    from screens.dataset_detail import DatasetDetailScreen

    extra = tmp_path / "prices.csv"
    extra.write_text("sku,price\nA1,9.5\nB2,12.0\n")
    app = WorkbenchApp(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DatasetDetailScreen)
        assert "breast_cancer@D0" in screen_text(pilot)
        await pilot.press("escape", "a")
        await settle(pilot)
        app.screen.query_one("#add-path").value = str(extra)
        await pilot.press("enter")
        await settle(pilot)
        assert "added prices@D0" in screen_text(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DatasetDetailScreen) and app.screen.version.ref == "prices@D0"


async def test_collection_turned_off_for_start_up_is_back_on_after_the_first_frame(
    demo_root: Path,
) -> None:
    import gc

    app = WorkbenchApp(demo_root)
    gc.disable()  # as `workbench` (cli.open_tui) does before importing the App
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert gc.isenabled()
            assert app.screen is app.datasets_screen and len(app.screen_stack) == 1
            await pilot.press("r")  # runs, then back to the datasets, the bottom screen
            await settle(pilot)
            assert app.screen is not app.datasets_screen
            await pilot.press("d")
            await settle(pilot)
            assert app.screen is app.datasets_screen and "churn" in screen_text(pilot)
    finally:
        gc.enable()
        gc.unfreeze()
