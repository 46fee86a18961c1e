"""The compare screen as a person uses it: select runs of a real finished sweep on the Runs
screen, compare them, hide identical rows, pin another baseline and transpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable

from pipelines.runs.details import get_run
from pipelines.sweeps.lifecycle import create_sweep
from pipelines.sweeps.worker import run_worker
from screens.compare import CompareScreen
from screens.formatting import number, value_text
from screens.runs import RunsScreen
from storage.handle import open_workspace
from tests.app_helpers import first_words, screen_text, settle, text_showing
from tests.sweep_helpers import add_sample
from workbench.app import WorkbenchApp

SIZE = (160, 48)
WINE_SWEEP = {
    "dataset": "wine",
    "target": "cultivar",
    "model": "random_forest",
    "metric": "accuracy",
    "trials": 4,
    "folds": 3,
    "pruner": "none",
}


@pytest.fixture(scope="module")
def sweep_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with wine and one finished 4-trial sweep, built once."""
    root = tmp_path_factory.mktemp("compare-screen") / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
        created = create_sweep(ws, WINE_SWEEP)
        run_worker(ws, created.sweep.id)
    finally:
        ws.close()
    return root


@pytest.fixture
def workspace(sweep_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(sweep_template, root)
    return root


async def test_compare_selected_runs(workspace: Path) -> None:
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        runs_screen = app.screen
        assert isinstance(runs_screen, RunsScreen)

        await pilot.press("space", "c")  # one run is not a comparison
        await settle(pilot)
        assert any("select 2 or more runs" in n.message for n in app._notifications)
        assert app.screen is runs_screen

        await pilot.press("space", "space", "c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        run_ids = sorted(runs_screen.selected_run_ids)
        assert len(run_ids) == 3 and screen.run_ids == run_ids
        ws = open_workspace(workspace)
        try:
            runs = [get_run(ws, run_id) for run_id in run_ids]
        finally:
            ws.close()

        text = await text_showing(pilot, "accuracy")
        assert all(f"run {run_id}" in text for run_id in run_ids)
        assert f"Compare 3 runs · baseline run {run_ids[0]}" in text
        lines = first_words(text)
        assert "accuracy" in lines, text
        metric_line = lines["accuracy"]  # the sweep metric's row: every run's value
        assert all(number(run.value) in metric_line for run in runs)
        for name in runs[1].params:
            assert all(value_text(run.params[name]) in lines[name] for run in runs)
        assert "★" in text
        assert "seed" in text and runs[0].seed == runs[1].seed == runs[2].seed

        await pilot.press("x")
        await settle(pilot)
        text = screen_text(pilot)
        assert "differences only" in text and "seed" not in text

        await pilot.press("right", "p")  # the cursor is on the first run's column
        await settle(pilot)
        assert f"baseline run {run_ids[1]}" in screen_text(pilot)
        assert screen.comparison is not None and screen.comparison.baseline == 1

        await pilot.press("t")
        await settle(pilot)
        table = screen.query_one(DataTable)
        labels = [row.label.plain for row in table.rows.values() if row.label is not None]
        assert labels == [f"run {run_ids[0]}", f"run {run_ids[1]} (base)", f"run {run_ids[2]}"]
        assert f"run {run_ids[2]}" in screen_text(pilot)

        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is runs_screen


async def test_sort_filter_tabs_and_export(workspace: Path) -> None:
    ws = open_workspace(workspace)
    try:
        runs = [get_run(ws, run_id) for run_id in (1, 2, 3, 4)]
    finally:
        ws.close()
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, [r.id for r in runs]))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)

        await pilot.press("o")  # the cursor starts on the first field, accuracy: order by it
        await settle(pilot)
        best_first = sorted(runs, key=lambda r: (-(r.value or 0), r.id))
        header = next(line for line in screen_text(pilot).splitlines() if "(base)" in line)
        positions = [header.index(f"run {r.id}") for r in best_first]
        assert positions == sorted(positions), header
        assert "sorted by accuracy ↓" in screen_text(pilot)

        await pilot.press("slash", *"seed", "enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert "filter “seed”" in text and "seed" in text
        assert "learning" not in text and "n_estimators" not in text

        await pilot.press("3")  # per-fold scores: every fold of every run, as numbers
        await settle(pilot)
        text = screen_text(pilot)
        assert "score per fold" in text
        for run in runs:
            line = next(
                line for line in text.splitlines() if line.strip().startswith(f"run {run.id} ")
            )
            assert all(number(score) in line for score in run.fold_scores)

        await pilot.press("4")  # the sweep's slice: every complete trial
        await settle(pilot)
        assert "4 complete trials of sweep 1" in screen_text(pilot)

        await pilot.press("1", "e", "c")  # export the table as shown (filtered, sorted)
        await settle(pilot)
        wrote = [n.message for n in app._notifications if n.message.startswith("wrote ")]
        assert wrote, [n.message for n in app._notifications]
        exported = Path(wrote[-1].removeprefix("wrote ")).read_text()
        lines = exported.splitlines()
        assert lines[0] == "section,field,differs," + ",".join(f"run {r.id}" for r in best_first)
        assert [line.split(",")[1] for line in lines[1:]] == ["seed"]


async def test_insight_tab_shows_the_confusion_matrix_and_permutation_importance(
    workspace: Path,
) -> None:
    from pipelines.runs.insight import held_out_summary

    ws = open_workspace(workspace)
    try:
        summary = held_out_summary(ws, 2)
    finally:
        ws.close()
    confusion = summary.confusion
    assert confusion is not None and sum(map(sum, confusion.matrix)) == 178  # every wine row
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, [1, 2, 3]))
        await settle(pilot)
        await pilot.press("right", "5")  # the cursor's run (run 2) goes to the Insight tab
        await settle(pilot)
        text = screen_text(pilot)
        assert "run 2" in text and "Confusion matrix · 178 held-out rows from 3 fold(s)" in text
        for label, counts in zip(confusion.labels, confusion.matrix, strict=True):
            line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{label} "))
            assert line.split()[1 : 1 + len(counts)] == [str(c) for c in counts]
        assert "press i to compute" in text

        await pilot.press("i")
        await settle(pilot)
        text = screen_text(pilot)
        assert "drop in accuracy when a column is shuffled (5 repeats" in text
        assert "alcohol" in text

        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "run 3" in screen_text(pilot)


async def test_runs_of_two_sweeps_a_failed_run_and_regression_insight(workspace: Path) -> None:
    """A random forest on wine (classification), a failed run and a linear model on diabetes
    (regression): the value row, empty folds, the slice following the baseline's sweep, and
    residuals in the Insight tab."""
    from storage import sweeps as repo

    ws = open_workspace(workspace)
    try:
        add_sample(ws, "diabetes", "disease_progression")
        spec = {"dataset": "diabetes", "model": "linear", "trials": 2, "holdout": 0.25}
        regression = create_sweep(ws, {**spec, "pruner": "none"}).sweep.id
        run_worker(ws, regression)
        other = repo.list_runs(ws.db, sweep_id=regression, order_by="trial")[0]
        first = get_run(ws, 1)
        failed = repo.start_run(
            ws.db,
            sweep_id=first.sweep_id,
            trial_number=99,
            params=first.params,
            seed=first.seed,
            dataset_sha=first.dataset_sha,
            environment=first.environment,
            worker="test:1",
        )
        repo.finish_run(ws.db, failed, status="failed", error="ValueError: boom")
    finally:
        ws.close()
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, [1, failed, other.id]))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        text = await text_showing(pilot, "value", "status")
        lines = first_words(text)
        assert "value" in lines, text
        assert number(other.value) in lines["value"]  # two metrics: one neutral value row
        assert "failed" in lines["status"]

        await pilot.press("3")
        await settle(pilot)
        folds = screen_text(pilot)
        assert f"run {failed} " in folds and "–" in folds  # the failed run has no folds

        await pilot.press("4")
        await settle(pilot)
        assert "complete trials of sweep 1" in screen_text(pilot)
        await pilot.press("1", "right", "right", "p", "4")  # pin the diabetes run
        await settle(pilot)
        assert f"baseline run {other.id}" in screen_text(pilot)
        assert f"2 complete trials of sweep {regression}" in screen_text(pilot)

        await pilot.press("1", "5")
        await settle(pilot)
        text = screen_text(pilot)
        assert f"run {other.id}" in text and "Residuals (true − predicted)" in text
        assert "held-out rows from 1 fold(s)" in text and "RMSE" in text
        await pilot.press("left_square_bracket")  # the failed run says why it has nothing
        await settle(pilot)
        assert f"run {failed} failed: no held-out predictions" in screen_text(pilot)


async def test_after_a_dialog_keys_never_reach_the_hidden_filter(workspace: Path) -> None:
    """Tab 5, e then h (an export), or ? then escape: focus comes back to a widget on screen,
    the footer keeps the compare keys and the next 1 switches tabs instead of being typed."""
    from textual.widgets import Input

    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, [1, 2, 3]))
        await settle(pilot)
        screen = app.screen
        field = screen.query_one("#compare-filter", Input)
        for keys in (("5", "e", "h"), ("5", "question_mark", "escape"), ("2", "e", "escape")):
            await pilot.press(*keys)
            await settle(pilot)
            assert app.screen is screen
            assert app.focused is None or app.focused in screen.focus_chain, app.focused
            assert "Transpose" in screen_text(pilot).splitlines()[-1]  # the compare footer
            await pilot.press("1")
            await settle(pilot)
            assert field.value == "" and not field.display
            assert screen.active_tab() == "table" and app.focused is screen.query_one(DataTable)
        assert any(n.message.startswith("wrote ") for n in app._notifications)


async def test_the_palette_offers_every_global_action_on_compare(workspace: Path) -> None:
    from screens.sweep_form import SweepFormScreen

    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, [1, 2]))
        await settle(pilot)
        await pilot.press("ctrl+p", *"new sweep")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SweepFormScreen)
        assert "New sweep" in screen_text(pilot)


async def test_every_tied_best_gets_a_star_and_deltas_read_short(workspace: Path) -> None:
    """Runs 1 and 3 tie on the sweep metric (both ★), run 2 trails by 2.338e-06 (shown with
    two significant digits, not as -2.338e-06)."""
    from sqlalchemy import update

    from storage.models_sweeps import RunRow

    ws = open_workspace(workspace)
    try:
        with ws.db.session_scope() as session:
            for run_id, value in ((1, 0.9), (2, 0.9 - 2.338e-06), (3, 0.9)):
                session.execute(update(RunRow).where(RunRow.id == run_id).values(value=value))
    finally:
        ws.close()
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, [1, 2, 3]))
        await settle(pilot)
        line = next(ln for ln in screen_text(pilot).splitlines() if ln.split()[:1] == ["accuracy"])
        assert line.count("★") == 2, line
        assert "(-2.3e-06)" in line and "2.338e-06" not in line, line
