"""The launch form as a person types into it: enter, tab, a typed sweep-file path, errors that
go once the field is fixed, and the whole form on an 80×24 terminal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select

from pipelines.sweeps.lifecycle import list_sweeps
from screens.sweep_form import SweepFormScreen
from storage.handle import open_workspace
from tests.app_helpers import screen_text, settle
from tests.sweep_helpers import add_sample
from workbench.app import WorkbenchApp

SIZE = (100, 30)


@pytest.fixture(scope="module")
def wine_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep-form") / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
    finally:
        ws.close()
    return root


@pytest.fixture
def wine(wine_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(wine_template, root)
    return root


async def open_form(pilot: Pilot[object]) -> SweepFormScreen:
    await settle(pilot)
    await pilot.press("s")
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, SweepFormScreen)
    return form


async def type_fast(pilot: Pilot[object], keys: list[str]) -> None:
    """Keys as a fast typist's terminal delivers them: all queued before any is handled."""
    driver = pilot.app._driver
    assert driver is not None
    for key in keys:
        char = "\t" if key == "tab" else key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(pilot.app)
        driver.send_message(event)
    await settle(pilot)


def value(form: SweepFormScreen, key: str) -> str:
    return form.query_one(f"#form-{key}", Input).value


async def test_fast_typing_across_tab_keeps_each_field(wine: Path) -> None:
    app = WorkbenchApp(wine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        form.query_one("#form-trials", Input).clear()
        form.query_one("#form-workers", Input).clear()
        form.query_one("#form-trials", Input).focus()
        await pilot.pause()
        await type_fast(pilot, ["1", "2", "tab", "3"])
        assert (value(form, "trials"), value(form, "workers")) == ("12", "3")
        form.query_one("#form-name", Input).focus()
        await pilot.pause()
        await type_fast(pilot, [*"quick", "tab", *"x.toml"])
        assert (value(form, "name"), value(form, "file")) == ("quick", "x.toml")


async def test_enter_moves_on_and_in_the_file_field_loads_the_typed_path(
    wine: Path, tmp_path: Path
) -> None:
    typed = tmp_path / "elsewhere" / "quick.toml"
    typed.parent.mkdir()
    typed.write_text(
        'name = "typed path"\ndataset = "wine"\nmodel = "extra_trees"\ntrials = 3\nfolds = 2\n',
        encoding="utf-8",
    )
    app = WorkbenchApp(wine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        form.query_one("#form-dataset", Select).value = "wine"
        form.query_one("#form-model", Select).value = "random_forest"
        form.query_one("#form-trials", Input).focus()
        await pilot.press("enter")  # a complete definition, yet enter only moves on
        await settle(pilot)
        assert app.screen is form and app.focused is form.query_one("#form-workers")
        ws = open_workspace(wine)
        try:
            assert list_sweeps(ws) == []
        finally:
            ws.close()

        form.query_one("#form-file", Input).focus()
        await pilot.press(*str(typed), "enter")
        await settle(pilot)
        assert app.screen is form
        assert form.query_one("#form-model", Select).value == "extra_trees"
        assert (value(form, "name"), value(form, "trials"), value(form, "folds")) == (
            "typed path",
            "3",
            "2",
        )
        assert f"loaded {typed}" in screen_text(pilot)
        assert not [n for n in app._notifications if n.severity == "error"]


async def test_an_error_goes_once_its_field_is_fixed(wine: Path) -> None:
    app = WorkbenchApp(wine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        form.query_one("#form-dataset", Select).value = "wine"
        form.query_one("#form-model", Select).value = "random_forest"
        form.query_one("#form-folds", Input).value = "1000"
        await pilot.press("f2")
        await settle(pilot)
        assert "folds: 1000 folds need" in screen_text(pilot)
        form.query_one("#form-name", Input).focus()
        await pilot.press(*"other")  # another field: the error still holds
        await settle(pilot)
        assert "folds: 1000 folds need" in screen_text(pilot)
        form.query_one("#form-folds", Input).focus()
        await pilot.press("end", "backspace", "backspace", "backspace")
        await settle(pilot)
        assert value(form, "folds") == "1" and "folds: 1000" not in screen_text(pilot)

        await pilot.press("ctrl+o")  # an error naming no field: any change clears it
        await settle(pilot)
        assert "no saved sweep files to load" in screen_text(pilot)
        form.query_one("#form-seed", Input).value = "7"
        await settle(pilot)
        assert "no saved sweep files" not in screen_text(pilot)


async def test_the_whole_form_fits_80_by_24(wine: Path) -> None:
    app = WorkbenchApp(wine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot)
        text = screen_text(pilot)
        for label in ("Dataset", "Target", "Metric", "Seed", "Pruner", "Name", "File"):
            assert label in text
        assert "ctrl+o or enter loads it; empty: the newest in <workspace>/sweeps" in text
        assert "Start (f2)" in text and "Cancel" in text
