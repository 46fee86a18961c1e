"""What comes from a user's file is shown, never obeyed: column names, values and class labels
holding terminal escape sequences appear as visible escapes (pipelines.inert) on every
screen that prints them, and values from the data are not grouped like counts (2007)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.datasets.versions import register_dataset
from pipelines.sweeps.lifecycle import create_sweep
from pipelines.sweeps.worker import run_worker
from screens.compare import CompareScreen
from storage.handle import open_workspace
from tests.app_helpers import screen_text, settle
from workbench.app import WorkbenchApp

SIZE = (160, 45)
RED = "\x1b[31m"
TITLE = "\x1b]0;pwned\x07"


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A file whose header and cells hold escape sequences, and a year column."""
    data = tmp_path / "hostile.csv"
    rows = [f"{1999 + i},{'a' + TITLE + 'b' if i % 2 else 'plain'},{i * 0.5}" for i in range(9)]
    data.write_text(f"year,n{RED}ame,score\n" + "\n".join(rows) + "\n", encoding="utf-8")
    root = tmp_path / "ws"
    ws = open_workspace(root)
    try:
        register_dataset(ws, data, name="hostile")
    finally:
        ws.close()
    return root


def assert_inert(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text, repr(text)


async def test_schema_profile_and_rows_show_escapes_and_years_whole(hostile: Path) -> None:
    app = WorkbenchApp(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the schema of hostile@D0
        await settle(pilot)
        text = screen_text(pilot)
        assert_inert(text)
        assert "n\\x1b[31mame" in text

        await pilot.press("2")  # the profile: top values and the year's range
        await settle(pilot)
        text = screen_text(pilot)
        assert_inert(text)
        assert "a\\x1b]0;pwned\\x07b (4)" in text
        line = next(ln for ln in text.splitlines() if ln.strip().startswith("year"))
        assert "1999" in line and "2007" in line and "2,007" not in line and "1,999" not in line

        await pilot.press("b")  # the rows: header and cells
        await settle(pilot)
        text = screen_text(pilot)
        assert_inert(text)
        assert "n\\x1b[31mame" in text and "a\\x1b]0;pwned\\x07b" in text


async def test_class_labels_and_feature_names_on_compare(tmp_path: Path) -> None:
    """A real sweep on data whose target labels and a feature name hold escapes: the
    compare screen's insight (confusion matrix, importances) shows them inert."""
    data = tmp_path / "labels.csv"
    lines = [f"{i % 7},{(i * 3) % 5},{'ok' if i % 3 else 'b' + RED + 'ad'}" for i in range(60)]
    data.write_text(f"f{RED}one,two,label\n" + "\n".join(lines) + "\n", encoding="utf-8")
    root = tmp_path / "ws"
    ws = open_workspace(root)
    try:
        register_dataset(ws, data, name="labels", target="label")
        spec = {"dataset": "labels", "model": "random_forest", "trials": 2, "folds": 2}
        run_worker(ws, create_sweep(ws, {**spec, "pruner": "none"}).sweep.id)
    finally:
        ws.close()
    app = WorkbenchApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, [1, 2]))
        await settle(pilot)
        assert_inert(screen_text(pilot))
        await pilot.press("5")
        await settle(pilot)
        text = screen_text(pilot)
        assert_inert(text)
        assert "b\\x1b[31mad" in text and "Confusion matrix" in text
        assert "f\\x1b[31mone" in text
