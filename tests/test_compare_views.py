"""The data behind the compare screen's tabs, from a real LightGBM sweep and a real random
forest sweep: curves, importances, the parameter slice, sorting and the table exports."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pipelines.runs.compare import compare_runs
from pipelines.runs.compare_views import (
    render_comparison,
    run_curves,
    sort_runs,
    sweep_slice,
)
from pipelines.runs.insight import own_importances
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RunRecord
from tests.sweep_helpers import add_sample


def lightgbm_sweep(ws: Workspace) -> tuple[int, list[RunRecord]]:
    add_sample(ws, "wine", "cultivar")
    created = sweeps.create_sweep(
        ws,
        {
            "dataset": "wine",
            "model": "lightgbm",
            "metric": "accuracy",
            "trials": 4,
            "folds": 3,
            "pruner": "none",
            "params": {"n_estimators": 20},
        },
    )
    run_worker(ws, created.sweep.id)
    runs = repo.list_runs(ws.db, sweep_id=created.sweep.id, order_by="trial")
    return created.sweep.id, runs


def test_curves_importances_and_slice_come_from_the_runs(workspace: Workspace) -> None:
    sweep_id, runs = lightgbm_sweep(workspace)
    complete = [r for r in runs if r.status == "complete"]
    assert len(complete) == 4
    curves = run_curves(workspace, [r.id for r in complete])
    for run in complete:
        assert "fold_score" not in curves[run.id]
        assert not any(k.startswith("importance:") for k in curves[run.id])
        assert len(curves[run.id]["valid_accuracy"]) == 20  # one point per boosting round
    importances = own_importances(workspace, complete[0].id)
    assert "alcohol" in importances  # named by input column, not by encoded feature
    assert abs(sum(importances.values()) - 1) < 1e-6
    assert list(importances.values()) == sorted(importances.values(), reverse=True)

    data = sweep_slice(workspace, sweep_id)
    assert "n_estimators" not in data.params  # fixed, so not searched
    assert "learning_rate" in data.params
    points = data.points("learning_rate")
    assert {p.run_id for p in points} == {r.id for r in complete}
    by_id = {r.id: r for r in complete}
    for point in points:
        assert point.value == by_id[point.run_id].value
        assert point.param == by_id[point.run_id].params["learning_rate"]


@pytest.fixture
def comparison(workspace: Workspace):
    _, runs = lightgbm_sweep(workspace)
    return compare_runs(workspace, [r.id for r in runs])


def test_sort_by_a_metric_puts_the_best_first_and_keeps_cells_with_their_run(comparison) -> None:
    row = next(r for r in comparison.rows if r.name == "accuracy")
    ordered = sort_runs(comparison, row)
    values = [run.value for run in ordered.runs]
    assert values == sorted(values, reverse=True)
    assert any(r.best is not None for r in comparison.rows)  # some best to follow
    for new_row in ordered.rows:  # every cell moved with its run
        old = next(
            r for r in comparison.rows if (r.section, r.name) == (new_row.section, new_row.name)
        )
        expected = {run.id: v for run, v in zip(comparison.runs, old.values, strict=True)}
        assert new_row.values == [expected[run.id] for run in ordered.runs]
        old_best = None if old.best is None else comparison.runs[old.best].id
        assert (None if new_row.best is None else ordered.runs[new_row.best].id) == old_best
    base_id = comparison.runs[comparison.baseline].id
    assert ordered.runs[ordered.baseline].id == base_id
    ascending = sort_runs(comparison, row, descending=False)
    assert [r.value for r in ascending.runs] == sorted(values)


def test_comparison_exports_as_csv_and_json(comparison) -> None:
    ids = [run.id for run in comparison.runs]
    rows = list(csv.reader(io.StringIO(render_comparison(comparison, "csv"))))
    assert rows[0] == ["section", "field", "differs", *(f"run {i}" for i in ids)]
    accuracy = next(r for r in rows if r[1] == "accuracy")
    assert [float(v) for v in accuracy[3:]] == [run.value for run in comparison.runs]
    document = json.loads(render_comparison(comparison, "json"))
    assert document["runs"] == ids and document["baseline"] == ids[0]
    seed = next(r for r in document["rows"] if r["field"] == "seed")
    assert seed["differs"] is False and set(seed["values"]) == {str(i) for i in ids}
    with pytest.raises(WorkbenchError, match="unknown export format 'xlsx'"):
        render_comparison(comparison, "xlsx")
