"""The sweep screens as a person uses them, over real sweeps: Optuna trials of a real model on
bundled data, run in-process to completion, or started from the form as background workers."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from textual.pilot import Pilot
from textual.widgets import Input, Select

from pipelines.runs.tables import MIN_TRIALS_FOR_IMPORTANCE, param_importances
from pipelines.sweeps.lifecycle import (
    DONE,
    create_sweep,
    get_sweep,
    list_sweeps,
    live_worker_count,
)
from pipelines.sweeps.worker import run_worker
from screens.formatting import number
from screens.help import HelpScreen
from screens.runs import RunsScreen
from screens.sweep_detail import SweepDetailScreen
from storage.handle import Workspace, open_workspace
from storage.models_sweeps import RunRow, SweepRow
from tests.app_helpers import FIXED_TIME, screen_text, settle
from tests.sweep_helpers import add_sample, kill_workers
from workbench.app import WorkbenchApp

SIZE = (160, 48)
WINE_SWEEP = {
    "dataset": "wine",
    "target": "cultivar",
    "model": "random_forest",
    "metric": "accuracy",
    "trials": 6,
    "folds": 3,
}


def finished_sweep_workspace(root: Path) -> int:
    """A workspace with wine and one finished 6-trial sweep, its times fixed."""
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
        created = create_sweep(ws, WINE_SWEEP)
        run_worker(ws, created.sweep.id)
        fix_times(ws)
    finally:
        ws.close()
    return created.sweep.id


def fix_times(ws: Workspace) -> None:
    """Timestamps that render the same every day (elapsed 1m 05s, each trial 2 s)."""
    with ws.db.session_scope() as session:
        session.execute(
            update(SweepRow).values(
                created_at=FIXED_TIME,
                started_at=FIXED_TIME,
                finished_at=FIXED_TIME + timedelta(seconds=65),
                heartbeat_at=FIXED_TIME,
            )
        )
        session.execute(
            update(RunRow).values(
                started_at=FIXED_TIME,
                finished_at=FIXED_TIME + timedelta(seconds=2),
                duration_s=2.0,
            )
        )


@pytest.fixture(scope="module")
def finished_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("sweep-screens") / "ws"
    return root, finished_sweep_workspace(root)


@pytest.fixture
def finished(finished_template: tuple[Path, int], tmp_path: Path) -> tuple[Path, int]:
    template, sweep_id = finished_template
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    return root, sweep_id


async def open_sweeps(pilot: Pilot[object]) -> None:
    await settle(pilot)
    await pilot.press("s")
    await settle(pilot)


async def test_a_finished_sweep_its_trials_runs_and_one_run(finished: tuple[Path, int]) -> None:
    root, sweep_id = finished
    ws = open_workspace(root)
    try:
        sweep = get_sweep(ws, sweep_id)
        importances = param_importances(ws, sweep)
    finally:
        ws.close()
    assert sweep.counts.get("complete", 0) >= MIN_TRIALS_FOR_IMPORTANCE
    assert importances and set(importances) <= set(sweep.best_params)
    assert abs(sum(importances.values()) - 1.0) < 1e-6
    app = WorkbenchApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await open_sweeps(pilot)
        text = screen_text(pilot)
        assert "wine@D0" in text and "finished" in text and "6/6" in text
        assert number(sweep.best_value) in text and "1m 05s" in text

        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert "Trials (6)" in text and "★" in text
        assert f"Best accuracy {number(sweep.best_value)}" in text
        assert all(f"{name} = " in text for name in sweep.best_params)
        assert "Parameter importance" in text
        assert ("PED-ANOVA" in text) == bool(importances)

        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        assert "Runs of sweep" in screen_text(pilot) and "6 of 6 runs" in screen_text(pilot)

        await pilot.press("slash", *"status = 'complete' AND trial < 3", "enter")
        await settle(pilot)
        assert "3 of 6 runs" in screen_text(pilot)

        await pilot.press("o", *"nonsense_column DESC", "enter")
        await settle(pilot)
        assert "nonsense_column" in screen_text(pilot)  # DuckDB's refusal, inline
        app.screen.query_one("#runs-order", Input).value = "trial DESC"
        await pilot.press("enter")
        await settle(pilot)
        assert "nonsense_column" not in screen_text(pilot)

        await pilot.press("space")
        await settle(pilot)
        assert "1 selected" in screen_text(pilot) and len(screen.selected_run_ids) == 1
        await pilot.press("up", "enter")  # space moved down: back to the selected run
        await settle(pilot)
        text = screen_text(pilot)
        assert "trial 2" in text and "Fold scores (3)" in text
        assert "Environment" in text and "python 3." in text and "gpu:" in text
        assert "scikit-learn" in text

        await pilot.press("escape")
        await settle(pilot)
        assert "1 selected" in screen_text(pilot)  # the selection outlives the detail


async def test_the_launch_form_refuses_inline_then_starts_and_stops_a_sweep(
    finished: tuple[Path, int],
) -> None:
    root, _ = finished
    ws = open_workspace(root)
    app = WorkbenchApp(root)
    started: int | None = None
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_sweeps(pilot)
            await pilot.press("n")
            await settle(pilot)
            form = app.screen
            form.query_one("#form-dataset", Select).value = "wine"
            await pilot.pause()
            assert form.query_one("#form-target", Input).value == "cultivar"  # prefilled
            assert "accuracy" in form.metric_names and "rmse" not in form.metric_names
            form.query_one("#form-model", Select).value = "random_forest"
            form.query_one("#form-trials", Input).value = "4"
            form.query_one("#form-folds", Input).value = "1000"
            await pilot.press("f2")
            await settle(pilot)
            assert "folds: 1000 folds need at least 1000 rows per class" in screen_text(pilot)
            assert len(list_sweeps(ws)) == 1  # nothing was created

            await pilot.press("ctrl+s")  # saving checks the same way: nothing written
            await settle(pilot)
            assert not list((root / "sweeps").glob("*"))

            form.query_one("#form-folds", Input).value = "3"
            form.query_one("#form-name", Input).value = "wine quick"
            await pilot.press("ctrl+s")
            await settle(pilot)
            saved = root / "sweeps" / "wine-quick.toml"
            assert saved.is_file() and 'model = "random_forest"' in saved.read_text()
            assert str(saved) in screen_text(pilot)

            await pilot.press("f2")
            await settle(pilot)
            sweeps = list_sweeps(ws)
            assert len(sweeps) == 2 and sweeps[0].name == "wine quick"
            started = sweeps[0].id
            text = screen_text(pilot)  # the form closed; the new sweep's detail is open
            assert f"Sweep {started}" in text and "wine quick" in text

            deadline = time.monotonic() + 60
            while not live_worker_count(ws, started) and time.monotonic() < deadline:
                await pilot.pause(0.2)
            assert live_worker_count(ws, started), "the background worker never started"
            await pilot.press("x")
            await settle(pilot)
            deadline = time.monotonic() + 120
            while get_sweep(ws, started).status not in DONE and time.monotonic() < deadline:
                await pilot.pause(0.5)
            sweep = get_sweep(ws, started)
            assert sweep.status == "stopped"
            await pilot.pause(2 * 1.0)  # the detail screen polls once more and shows it
            await settle(pilot)
            assert "stopped" in screen_text(pilot)
    finally:
        if started is not None:
            kill_workers(ws, started)
        ws.close()


@pytest.fixture
def fixed_sweep_workspace() -> Path:
    """A finished sweep in ~/ws: the test's own HOME (tests/conftest.py), shown as ~ on
    screen, so the picture is the same on every machine."""
    root = Path.home() / "ws"
    finished_sweep_workspace(root)
    # The sweep really ran; its scores are pinned so that tuning a model family's search
    # space (which moves them) does not move this picture of the screen.
    ws = open_workspace(root)
    try:
        with ws.db.session_scope() as session:
            session.execute(
                update(RunRow).values(status="complete", value=0.9 + 0.01 * RunRow.trial_number)
            )
    finally:
        ws.close()
    return root


def test_sweeps_screen_snapshot(snap_compare, fixed_sweep_workspace: Path) -> None:
    async def run_before(pilot: Pilot[object]) -> None:
        await open_sweeps(pilot)

    app = WorkbenchApp(fixed_sweep_workspace)
    assert snap_compare(app, terminal_size=(150, 30), run_before=run_before)


async def test_the_launch_form_reads_a_sweep_file(finished: tuple[Path, int]) -> None:
    root, _ = finished
    folder = root / "sweeps"
    folder.mkdir(exist_ok=True)
    (folder / "saved.toml").write_text(
        'name = "from a file"\ndataset = "wine"\nmodel = "extra_trees"\nmetric = "f1"\n'
        "trials = 7\nfolds = 4\n[params]\nn_estimators = 30\n",
        encoding="utf-8",
    )
    app = WorkbenchApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await open_sweeps(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("ctrl+o")  # empty path: the newest file in <workspace>/sweeps
        await settle(pilot)
        form = app.screen
        assert form.query_one("#form-model", Select).value == "extra_trees"
        assert form.query_one("#form-metric", Select).value == "f1"
        assert form.query_one("#form-trials", Input).value == "7"
        assert form.query_one("#form-folds", Input).value == "4"
        assert form.query_one("#form-name", Input).value == "from a file"
        assert any("1 parameter settings kept" in n.message for n in app._notifications)
        assert form.raw_definition()["params"] == {"n_estimators": 30}


async def test_cells_that_change_while_shown_are_measured_again(tmp_path: Path) -> None:
    """A sweep first listed as created, then run for real: its status, best value and a
    trial's status grow past their first widths and must show whole (not finishe, complet)."""
    import asyncio

    from storage import sweeps as repo

    root = tmp_path / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
        sweep_id = create_sweep(ws, {**WINE_SWEEP, "trials": 2, "pruner": "none"}).sweep.id
        app = WorkbenchApp(root)
        async with app.run_test(size=SIZE) as pilot:
            await open_sweeps(pilot)
            assert "created" in screen_text(pilot)
            await asyncio.to_thread(run_worker, ws, sweep_id)
            await pilot.press("ctrl+r")
            await settle(pilot)
            sweep = get_sweep(ws, sweep_id)
            line = next(ln for ln in screen_text(pilot).splitlines() if "wine" in ln)
            assert " finished " in line and number(sweep.best_value) in line, line

            other = create_sweep(ws, {**WINE_SWEEP, "trials": 1, "name": "by hand"}).sweep.id
            run = repo.start_run(  # as a worker of another process records a trial
                ws.db,
                sweep_id=other,
                trial_number=0,
                params={},
                seed=0,
                dataset_sha="0" * 64,
                environment={},
                worker="test:1",
            )
            app.push_screen(SweepDetailScreen(app.workspace, other))
            await settle(pilot)
            assert " running " in screen_text(pilot)
            repo.finish_run(ws.db, run, status="complete", value=0.987654)
            await pilot.press("ctrl+r")
            await settle(pilot)
            line = next(ln for ln in screen_text(pilot).splitlines() if " 0 " in ln[:12])
            assert " complete " in line and "0.9877" in line, line
    finally:
        ws.close()


async def test_runs_export_writes_what_the_table_shows(finished: tuple[Path, int]) -> None:
    import csv
    import json

    root, sweep_id = finished
    app = WorkbenchApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("slash", *"trial < 3", "enter", "o", *"trial DESC", "enter")
        await settle(pilot)
        assert "3 of 6 runs" in screen_text(pilot)
        written = []
        for fmt in ("c", "j"):
            await pilot.press("e")
            await settle(pilot)
            assert "Export the 3 runs shown (filtered)" in screen_text(pilot)
            await pilot.press(fmt)
            await settle(pilot)
            message = list(app._notifications)[-1].message
            assert message.startswith("wrote ") and message.endswith("(3 runs)"), message
            written.append(Path(message.removeprefix("wrote ").rsplit(" (", 1)[0]))
        rows = list(csv.DictReader(written[0].read_text().splitlines()))
        assert [int(row["trial"]) for row in rows] == [2, 1, 0]
        runs = json.loads(written[1].read_text())
        assert [run["trial_number"] for run in runs] == [2, 1, 0]
        assert {run["sweep_id"] for run in runs} == {sweep_id}


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_small_terminals_keep_what_matters(
    finished: tuple[Path, int], size: tuple[int, int]
) -> None:
    """Sweeps shows status, progress and best; the form shows every field and its buttons;
    help scrolls to its last key; the footer keeps ? Help on each screen."""
    root, sweep_id = finished
    ws = open_workspace(root)
    try:
        best = number(get_sweep(ws, sweep_id).best_value)
    finally:
        ws.close()
    app = WorkbenchApp(root)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert "? Help" in screen_text(pilot).splitlines()[-1]
        await open_sweeps(pilot)
        text = screen_text(pilot)
        line = next(ln for ln in text.splitlines() if "wine" in ln)
        assert "finished" in line and "6/6" in line and best in line, line
        assert "? Help" in text.splitlines()[-1]
        await pilot.press("n")
        await settle(pilot)
        text = screen_text(pilot)
        assert "Pruner" in text and "File" in text and "Start (f2)" in text
        assert "ctrl+o or enter loads it; empty: the newest in <workspace>/sweeps" in text
        await pilot.press("escape", "question_mark")
        await settle(pilot)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        assert help_screen.query_one("#help-keys").region.bottom < size[1]  # inside, not cut
        await pilot.press("ctrl+end")  # the list scrolls to its last key
        await settle(pilot)
        assert help_screen.keys[-1][1] in screen_text(pilot)


async def test_every_trial_tied_for_best_gets_a_star(finished: tuple[Path, int]) -> None:
    root, _ = finished
    ws = open_workspace(root)
    try:
        with ws.db.session_scope() as session:
            session.execute(update(RunRow).values(status="complete", value=0.5))
            session.execute(
                update(RunRow).where(RunRow.trial_number.in_([1, 4])).values(value=0.99)
            )
    finally:
        ws.close()
    app = WorkbenchApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await open_sweeps(pilot)
        await pilot.press("enter")
        await settle(pilot)
        starred = [
            ln.split("│")[1].split()[0] for ln in screen_text(pilot).splitlines() if "★" in ln
        ]
        assert starred == ["1", "4"], starred
