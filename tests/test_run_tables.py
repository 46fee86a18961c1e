"""Runs flattened to Parquet for the runs screen: one row per run, every parameter and metric a
typed column that DuckDB SQL can filter and sort; plus the sweep timing estimate."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.datasets.browse import RowSource
from pipelines.runs.tables import (
    SweepTiming,
    best_so_far,
    new_snapshot_path,
    remaining_s,
    remove_stale_snapshots,
    write_runs_parquet,
)
from storage import sweeps as repo
from storage.handle import Workspace
from storage.processes import this_process
from storage.sweep_workers import register_worker


def make_sweep(ws: Workspace, name: str = "s") -> int:
    sweep = repo.create_sweep(
        ws.db,
        name=name,
        dataset_version_id=None,
        dataset_ref="x@D0",
        dataset_sha="0" * 64,
        target="y",
        task="classification",
        model="lightgbm",
        metric="accuracy",
        direction="maximize",
        spec={},
        study_name=f"study-{name}",
        optuna_storage="journal:optuna/journal.log",
        trials_requested=10,
    )
    return sweep.id


def add_run(ws: Workspace, sweep_id: int, trial: int, params: dict, status: str, **done) -> int:
    run_id = repo.start_run(
        ws.db,
        sweep_id=sweep_id,
        trial_number=trial,
        params=params,
        seed=0,
        dataset_sha="0" * 64,
        environment={"python": "3"},
        worker="here:1",
    )
    if status != "running":
        repo.finish_run(ws.db, run_id, status=status, **done)
    return run_id


def test_runs_become_typed_columns_that_sql_filters_and_sorts(
    workspace: Workspace, tmp_path: Path
) -> None:
    sweep_id = make_sweep(workspace)
    other = make_sweep(workspace, "other")
    first = {"learning_rate": 0.01, "leaves": 8, "boosting": "gbdt"}
    second = {"learning_rate": 0.1, "leaves": 64, "boosting": "dart"}
    third = {"learning_rate": 0.2, "leaves": 16, "boosting": "gbdt"}
    scores = {"accuracy": 0.91, "f1": 0.9}
    add_run(workspace, sweep_id, 0, first, "complete", value=0.91, value_std=0.01, metrics=scores)
    add_run(
        workspace,
        sweep_id,
        1,
        second,
        "complete",
        value=0.95,
        metrics={"accuracy": 0.95, "f1": 0.93},
    )
    add_run(workspace, sweep_id, 2, third, "pruned")
    # A parameter called "value" must not overwrite the run's value; a mixed column is text.
    add_run(workspace, other, 0, {"value": 3, "choice": 1}, "complete", value=0.5)
    add_run(workspace, other, 1, {"value": 4, "choice": "auto"}, "running")

    path = tmp_path / "runs.parquet"
    assert write_runs_parquet(workspace, path) == 5
    table = pq.read_table(path)
    assert table.column_names == [
        "run", "sweep", "trial", "status", "value", "value_std", "duration_s", "started",
        "learning_rate", "leaves", "boosting", "p_value", "choice", "m_accuracy", "m_f1",
    ]  # fmt: skip
    types = {field.name: str(field.type) for field in table.schema}
    assert types["learning_rate"] == "double" and types["leaves"] == "int64"
    assert types["choice"] == "string" and types["started"] == "string"
    assert table.column("value").to_pylist() == [0.91, 0.95, None, 0.5, None]
    assert not list(tmp_path.glob(".*partial"))

    view = RowSource(path).query("learning_rate < 0.15 AND m_accuracy > 0.9", "m_f1 DESC")
    assert [row[0] for row in view.page(0, 10).rows] == [2, 1]

    only = tmp_path / "one.parquet"
    assert write_runs_parquet(workspace, only, sweep_id=other) == 2
    assert pq.read_table(only).column_names[8:] == ["p_value", "choice"]


def test_an_empty_workspace_writes_an_empty_table(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "runs.parquet"
    assert write_runs_parquet(workspace, path) == 0
    assert RowSource(path).query().row_count == 0


def test_only_stale_snapshots_are_removed(workspace: Workspace) -> None:
    fresh, stale = new_snapshot_path(workspace), new_snapshot_path(workspace)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"x")
    stale.write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    assert remove_stale_snapshots(fresh.parent) == 1
    assert fresh.exists() and not stale.exists()


def test_remaining_time_and_best_so_far(workspace: Workspace) -> None:
    sweep_id = make_sweep(workspace)
    for trial in range(4):
        add_run(workspace, sweep_id, trial, {}, "complete", value=0.5)
    repo.set_sweep_state(workspace.db, sweep_id, "running")
    # A running sweep has a live worker (else it reads as stalled): this test's process.
    register_worker(workspace.db, sweep_id, this_process())
    sweep = repo.get_sweep(workspace.db, sweep_id)
    # 6 trials left, 10 s each, 2 workers: 3 rounds.
    assert remaining_s(sweep, SweepTiming(10.0, 2)) == 30.0
    assert remaining_s(sweep, SweepTiming(None, 2)) is None
    curve = best_so_far([(2, 0.7), (0, 0.5), (1, 0.9)], "maximize")
    assert curve == [(0, 0.5), (1, 0.9), (2, 0.9)]
    assert best_so_far([(0, 3.0), (1, 1.0), (2, 2.0)], "minimize")[-1] == (2, 1.0)


def test_the_first_page_flattened_in_python_is_what_the_snapshot_shows(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The Runs screen paints `first_runs` before the snapshot exists, then swaps in the
    snapshot's pages: the two must hold the same columns, types and values."""
    from pipelines.runs.tables import first_runs

    sweep_id = make_sweep(workspace)
    other = make_sweep(workspace, "other")
    for trial in range(12):
        params = {"learning_rate": 0.01 * (trial + 1), "leaves": 8 + trial, "boosting": "gbdt"}
        status = ("complete", "pruned", "failed", "running")[trial % 4]
        done = {"value": 0.5 + trial / 100, "metrics": {"accuracy": 0.5 + trial / 100}}
        add_run(
            workspace, sweep_id, trial, params, status, **(done if status == "complete" else {})
        )
    add_run(workspace, other, 0, {"value": 3, "choice": 1}, "complete", value=0.5)
    add_run(workspace, other, 1, {"value": 4, "choice": "auto"}, "running")
    path = tmp_path / "runs.parquet"
    for sweep, limit in ((None, 200), (None, 5), (sweep_id, 200), (other, 200)):
        first = first_runs(workspace, sweep_id=sweep, limit=limit)
        write_runs_parquet(workspace, path, sweep_id=sweep)
        source = RowSource(path)
        page = source.query("", "").page(0, limit).rows
        assert first.total == source.query("", "").row_count
        if limit >= first.total:  # the whole table: the same columns and types
            assert first.rows.columns == source.columns
            assert first.rows.types == source.column_types
        at = [source.columns.index(c) for c in first.rows.columns]  # a page may lack some
        shown = [tuple(row[i] for i in at) for row in page[: len(first.rows.rows)]]
        assert first.rows.rows == shown and len(shown) == min(limit, first.total)
