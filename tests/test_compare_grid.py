"""Comparing many runs (GridTable, from 16 runs): 1,000 runs of a real sweep (its complete
run copied, as a long sweep records them), the last of them reachable with the keys, the
screen painted and answering keys while the comparison is built, and the same features as
the DataTable of a few runs: differences only, the filter, ordering, pinning, transposing
and exporting what is shown."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from textual.coordinate import Coordinate

from pipelines.runs.compare import compare_runs
from pipelines.sweeps.lifecycle import create_sweep
from pipelines.sweeps.worker import run_worker
from screens.compare import CompareScreen
from screens.compare_table import cell_plain
from screens.widgets.grid_table import GridTable
from storage.handle import open_workspace
from tests.app_helpers import first_words, screen_text, settle
from tests.sweep_helpers import add_sample
from workbench.app import WorkbenchApp

RUNS = 1_000
SWEEP = {
    "dataset": "wine",
    "target": "cultivar",
    "model": "random_forest",
    "metric": "accuracy",
    "trials": 2,
    "folds": 2,
    "pruner": "none",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 2-trial sweep, its first complete run copied until there are RUNS runs."""
    from sqlalchemy import insert

    from storage import sweeps as repo
    from storage.models_sweeps import RunRow

    root = tmp_path_factory.mktemp("compare-grid") / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
        sweep_id = create_sweep(ws, SWEEP).sweep.id
        run_worker(ws, sweep_id)
        runs = repo.list_runs(ws.db, sweep_id=sweep_id)
        model = next(r for r in runs if r.status == "complete")
        rng = random.Random(7)
        copies = []
        for trial in range(len(runs), RUNS):
            value = round(rng.uniform(0.8, 1.0), 6)
            copies.append(
                {
                    "sweep_id": sweep_id,
                    "trial_number": trial,
                    "status": "complete",
                    "params": {**model.params, "n_estimators": rng.randint(10, 500)},
                    "value": value,
                    "value_std": rng.uniform(0, 0.05),
                    "fold_scores": [value, value],
                    "metrics": {k: rng.uniform(0.5, 1.0) for k in model.metrics},
                    "started_at": model.started_at,
                    "finished_at": model.finished_at,
                    "duration_s": rng.uniform(0.5, 2.0),
                    "seed": model.seed,
                    "dataset_sha": model.dataset_sha,
                    "environment": model.environment,
                    "worker": model.worker,
                }
            )
        with ws.db.session_scope() as session:
            session.execute(insert(RunRow), copies)
    finally:
        ws.close()
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    return root


async def open_compare(pilot, run_ids: list[int]) -> CompareScreen:  # type: ignore[no-untyped-def]
    app = pilot.app
    await settle(pilot)
    app.push_screen(CompareScreen(app.workspace, run_ids))
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    assert isinstance(screen.table(), GridTable)
    return screen


async def test_the_last_of_1000_runs_is_reachable_both_ways(workspace: Path) -> None:
    ids = list(range(1, RUNS + 1))
    app = WorkbenchApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(pilot, ids)
        text = screen_text(pilot)
        lines = first_words(text)
        assert "Compare 1000 runs · baseline run 1" in text
        assert "Metrics" in text and "accuracy" in text, text
        assert "run" in lines and "run 1 (base)" in text
        assert screen.field_at_cursor() is not None  # on accuracy, not the Metrics title
        assert screen.field_at_cursor().name == "accuracy"  # type: ignore[union-attr]

        await pilot.press("ctrl+end")  # runs as rows: the last row is the last run
        await settle(pilot)
        text = screen_text(pilot)
        assert f"run {RUNS}" in text and "run 1 (base)" not in text, text
        assert screen.run_at_cursor() == RUNS

        await pilot.press("t")  # runs as columns: the same run stays under the cursor
        await settle(pilot)
        assert screen.run_at_cursor() == RUNS
        text = screen_text(pilot)
        assert f"run {RUNS}" in text.splitlines()[4], text  # the header line
        await pilot.press("home")
        await settle(pilot)
        assert screen.run_at_cursor() == 1 and "run 1 (base)" in screen_text(pilot)
        await pilot.press("end")
        await settle(pilot)
        assert screen.run_at_cursor() == RUNS
        header = screen_text(pilot).splitlines()[4]
        assert f"run {RUNS}" in header and "run 1 " not in header, header


async def test_every_cell_reads_as_the_comparison_says(workspace: Path) -> None:
    """The grid's cells are the texts the DataTable of few runs shows (value, delta, ★)."""
    ids = list(range(1, 41))
    ws = open_workspace(workspace)
    try:
        comparison = compare_runs(ws, ids)
    finally:
        ws.close()
    app = WorkbenchApp(workspace)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(pilot, ids)
        grid = screen.table().source
        assert grid is not None and grid.row_count == 40
        accuracy = comparison.rows[0]
        column = screen.shown.index(screen.comparison.rows[0])  # type: ignore[union-attr]
        for index in range(40):
            text, _ = grid.cell(index, column)
            assert text == cell_plain(accuracy, index, 0)
        best = accuracy.best
        assert best is not None and "★" in grid.cell(best, column)[0]


async def test_differences_filter_order_pin_and_export(workspace: Path) -> None:
    ids = list(range(1, 61))
    app = WorkbenchApp(workspace)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_compare(pilot, ids)
        assert "seed" in [row.name for row in screen.shown if row is not None]

        await pilot.press("x")  # every run has the same seed: its column goes
        await settle(pilot)
        assert "differences only" in screen_text(pilot)
        assert all(row is None or row.differs for row in screen.shown)
        await pilot.press("x")
        await settle(pilot)

        await pilot.press("o")  # order the runs by accuracy, best first
        await settle(pilot)
        assert screen.comparison is not None
        values = [run.value or 0 for run in screen.comparison.runs]
        assert values == sorted(values, reverse=True)
        best = screen.comparison.runs[0].id
        rows = [ln for ln in screen_text(pilot).splitlines() if ln.strip().startswith("run ")]
        assert rows[0].split()[:2] == ["run", str(best)], rows[:3]
        assert "sorted by accuracy ↓" in screen_text(pilot)

        await pilot.press("p")  # pin the best run: it becomes the baseline, still first
        await settle(pilot)
        assert f"baseline run {best}" in screen_text(pilot)
        assert screen.comparison.runs[screen.comparison.baseline].id == best
        assert f"run {best} (base)" in screen_text(pilot)
        assert [run.value or 0 for run in screen.comparison.runs] == values  # still ordered

        await pilot.press("slash", *"seed", "enter")
        await settle(pilot)
        assert [row.name for row in screen.shown if row is not None] == ["seed"]
        await pilot.press("e", "c")
        await settle(pilot)
        wrote = [n.message for n in app._notifications if n.message.startswith("wrote ")]
        lines = Path(wrote[-1].removeprefix("wrote ")).read_text().splitlines()
        order = [f"run {run.id}" for run in screen.comparison.runs]
        assert lines[0] == "section,field,differs," + ",".join(order)
        assert [line.split(",")[1] for line in lines[1:]] == ["seed"]


async def test_the_screen_paints_and_answers_while_the_comparison_is_built(
    workspace: Path,
) -> None:
    """The comparison and its cells are built in a worker: a frame with the screen (and no
    table yet) is painted first, and keys work meanwhile (a tab switch, then back)."""
    ids = list(range(1, RUNS + 1))
    app = WorkbenchApp(workspace)
    frames: list[str] = []
    display = app._display

    def hooked(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        display(screen, renderable)
        if renderable is not None and isinstance(screen, CompareScreen):
            update = screen._compositor.render_update(full=True)
            frames.append("\n".join("".join(s.text for s in line) for line in update.strips))

    app._display = hooked  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(app.workspace, ids))
        await pilot.pause()
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.active_tab() == "curves"
        await pilot.press("1")
        await settle(pilot)
        assert "run 1 (base)" in screen_text(pilot)
    loading = [i for i, f in enumerate(frames) if "Comparing 1000 runs — loading…" in f]
    table = [i for i, f in enumerate(frames) if "run 1 (base)" in f]
    assert loading and table and loading[0] < table[0]
    assert "run 1 (base)" not in frames[loading[0]]


async def test_cursor_keys_and_clicks_move_over_cells(workspace: Path) -> None:
    ids = list(range(1, 21))
    app = WorkbenchApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, ids)
        table = screen.table()
        assert isinstance(table, GridTable)
        assert table.cursor_coordinate == Coordinate(0, 1)
        await pilot.press("down", "down", "right")
        assert table.cursor_coordinate == Coordinate(2, 2)
        await pilot.press("ctrl+home", "home")
        assert table.cursor_coordinate == Coordinate(0, 0)
        await pilot.press("pagedown")
        assert table.cursor_coordinate.row > 5
        await pilot.press("ctrl+end", "end")
        assert table.cursor_coordinate == Coordinate(19, table.column_count - 1)
        table.cursor_coordinate = Coordinate(500, 500)  # clamped to the table
        assert table.cursor_coordinate == Coordinate(19, table.column_count - 1)
        await pilot.press("ctrl+home", "home")
        # "run 1 (base)" and "Metrics" with their padding: 14 + 9 cells, then accuracy
        await pilot.click(table, offset=(14 + 9 + 2, 3))
        assert table.cursor_coordinate == Coordinate(2, 1)
        assert screen.run_at_cursor() == 3 and screen.field_at_cursor().name == "accuracy"  # type: ignore[union-attr]


def test_rows_differ_exactly_when_their_values_differ_as_json() -> None:
    """The fast path (plain scalars by type and repr) agrees with JSON on every edge."""
    import json

    from pipelines.runs.compare import _differs

    nan, inf = float("nan"), float("inf")
    cases: list[list[object]] = [
        [1, 1.0],
        [1, True],
        [0, False],
        [0.0, -0.0],
        [nan, float("nan")],
        [inf, inf],
        [inf, -inf],
        [None, None],
        [None, "None"],
        ["1", 1],
        ["a", "a", "a"],
        [0.1 + 0.2, 0.3],
        [0.5, 0.5],
        [{"a": 1, "b": 2}, {"b": 2, "a": 1}],
        [{"a": 1}, {"a": 2}],
        [[1, 2], [1, 2]],
        [[1, 2], 1],
        [7, 7, 7],
    ]
    for values in cases:
        expected = len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1
        assert _differs(values) is expected, values
