"""Model insight per run, on real sweeps over bundled data: held-out predictions recorded at
training time (confusion matrix, residuals), the model's own importances, permutation
importance on held-out rows (cached), the errors for runs without predictions, the CLI."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.datasets.versions import register_dataset
from pipelines.runs import insight
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as repo
from storage.artifacts import ArtifactStore
from storage.errors import NotFoundError
from storage.handle import Workspace
from storage.records import SweepRecord
from tests.sweep_helpers import SAMPLES, add_sample
from workbench.cli import main

WINE_COLUMNS = [
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
]


def run_sweep(ws: Workspace, **definition: Any) -> SweepRecord:
    base = {"folds": 3, "pruner": "none", "keep_top": 0, "trials": 2}
    created = sweeps.create_sweep(ws, base | definition)
    run_worker(ws, created.sweep.id)
    return repo.get_sweep(ws.db, created.sweep.id)


def complete_runs(ws: Workspace, sweep: SweepRecord) -> list[Any]:
    return repo.list_runs(ws.db, sweep_id=sweep.id, status="complete", order_by="trial")


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_kfold_confusion_matrix_holds_every_row_once_and_matches_the_recorded_accuracy(
    workspace: Workspace,
) -> None:
    add_sample(workspace, "wine", "cultivar")
    sweep = run_sweep(
        workspace, dataset="wine", model="random_forest", metric="accuracy", trials=3,
        params={"n_estimators": 20},
    )  # fmt: skip
    runs = complete_runs(workspace, sweep)
    assert len(runs) == 3
    for run in runs:
        assert run.predictions_sha and ArtifactStore(workspace.paths.artifacts).exists(
            run.predictions_sha
        )
        held = insight.held_out_predictions(workspace, run.id)
        assert sorted(held.rows.tolist()) == list(range(178))  # every row held out once
        for fold, recorded in enumerate(run.fold_scores):  # the very predictions scored
            mine = held.folds == fold
            assert np.mean(held.y_true[mine] == held.y_pred[mine]) == pytest.approx(recorded)

        summary = insight.held_out_summary(workspace, run.id)
        confusion = summary.confusion
        assert summary.task == "classification" and summary.residuals is None
        assert (summary.rows, summary.folds) == (178, 3)
        assert confusion.labels == ["class_0", "class_1", "class_2"]
        matrix = np.array(confusion.matrix)
        assert matrix.shape == (3, 3) and matrix.sum() == 178
        assert matrix.sum(axis=1).tolist() == [59, 71, 48]  # true class counts of wine
        # Mean of per-fold accuracies times rows: equal to the correct count within rounding
        # (stratified folds of 60/59/59 rows weigh almost equally).
        assert abs(np.trace(matrix) - run.metrics["accuracy"] * 178) < 1.0
        assert confusion.accuracy == pytest.approx(np.trace(matrix) / 178)
        for i in range(3):
            assert confusion.recall[i] == pytest.approx(matrix[i, i] / matrix[i].sum())
            assert confusion.precision[i] == pytest.approx(matrix[i, i] / matrix[:, i].sum())

        own = insight.own_importances(workspace, run.id)
        assert set(own) == set(WINE_COLUMNS) and sum(own.values()) == pytest.approx(1.0)
        assert list(own.values()) == sorted(own.values(), reverse=True)


def test_regression_residuals_agree_with_the_recorded_mae_and_rmse(workspace: Workspace) -> None:
    add_sample(workspace, "diabetes", "disease_progression")
    sweep = run_sweep(workspace, dataset="diabetes", model="lightgbm", metric="rmse")
    [run, *_] = complete_runs(workspace, sweep)
    held = insight.held_out_predictions(workspace, run.id)
    assert sorted(held.rows.tolist()) == list(range(442))
    # The recorded metrics are means over folds: per fold, the recorded predictions give them
    # exactly; pooled over every row (the summary) they agree closely.
    residual = held.y_true - held.y_pred
    per_fold = [residual[held.folds == f] for f in range(3)]
    assert np.mean([np.abs(r).mean() for r in per_fold]) == pytest.approx(run.metrics["mae"])
    rmse = np.mean([np.sqrt(np.mean(r**2)) for r in per_fold])
    assert rmse == pytest.approx(run.metrics["rmse"]) == pytest.approx(run.value)

    summary = insight.held_out_summary(workspace, run.id)
    r = summary.residuals
    assert summary.task == "regression" and summary.confusion is None
    assert (summary.rows, r.count) == (442, 442)
    assert r.mae == pytest.approx(run.metrics["mae"], rel=0.01)
    assert r.rmse == pytest.approx(run.metrics["rmse"], rel=0.01)
    assert r.mean == pytest.approx(float(residual.mean())) and r.std > 0
    quantiles = [r.quantiles[k] for k in ("p05", "p25", "p50", "p75", "p95")]
    assert quantiles == sorted(quantiles)
    assert len(r.largest) == 5
    sizes = [abs(big.residual) for big in r.largest]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == pytest.approx(
        np.abs(residual).max()
    )
    for big in r.largest:
        assert big.residual == pytest.approx(big.true - big.predicted)


def test_permutation_importance_covers_every_column_beats_noise_and_is_cached(
    workspace: Workspace, tmp_path: Path
) -> None:
    import pandas as pd

    frame = pd.read_csv(SAMPLES / "wine.csv")
    frame.insert(0, "noise", np.random.default_rng(0).normal(size=len(frame)))
    path = tmp_path / "wine_noise.csv"
    frame.to_csv(path, index=False)
    register_dataset(workspace, path, name="wine_noise", target="cultivar")
    sweep = run_sweep(
        workspace, dataset="wine_noise", model="random_forest", metric="log_loss",
        params={"n_estimators": 40},
    )  # fmt: skip
    [run, *_] = complete_runs(workspace, sweep)

    started = time.perf_counter()
    first = insight.permutation_importances(workspace, run.id, repeats=5)
    computed_s = time.perf_counter() - started
    assert set(first.mean) == set(first.std) == {"noise", *WINE_COLUMNS}
    assert (first.scorer, first.direction, first.repeats, first.cached) == (
        "log_loss",
        "minimize",
        5,
        False,
    )
    assert first.rows == 60  # the first of three stratified folds of 178 rows
    assert list(first.mean.values()) == sorted(first.mean.values(), reverse=True)
    assert max(first.mean[c] for c in WINE_COLUMNS) > first.mean["noise"] + 0.05

    started = time.perf_counter()
    second = insight.permutation_importances(workspace, run.id, repeats=5)
    cached_s = time.perf_counter() - started
    assert second.cached and second.mean == first.mean and second.std == first.std
    assert second.baseline == first.baseline and cached_s < computed_s  # read, not refit
    # recomputable and not content-addressed: in cache/, never among the artifacts
    assert len(list(workspace.paths.cache.glob("permutation-*.json"))) == 1
    stored = [p for p in workspace.paths.artifacts.rglob("*") if p.is_file()]
    assert stored and all(
        p.name == hashlib.sha256(p.read_bytes()).hexdigest() and p.parent.name == p.name[:2]
        for p in stored
    )

    fewer = insight.permutation_importances(workspace, run.id, repeats=2, max_rows=25)
    assert not fewer.cached and (fewer.rows, fewer.repeats) == (25, 2)


def test_pruned_failed_and_older_runs_say_in_one_line_why_they_have_no_predictions(
    workspace: Workspace,
) -> None:
    add_sample(workspace, "wine", "cultivar")
    sweep = run_sweep(
        workspace, dataset="wine", model="random_forest", trials=4,
        params={"n_estimators": 10, "max_features": {"choices": [0.5, "not-a-valid-option"]}},
    )  # fmt: skip
    failed = repo.list_runs(workspace.db, sweep_id=sweep.id, status="failed")
    assert failed
    for run in failed:
        assert run.predictions_sha is None
        with pytest.raises(insight.InsightError) as caught:
            insight.held_out_summary(workspace, run.id)
        assert str(caught.value) == f"run {run.id} failed: no held-out predictions"
        with pytest.raises(
            insight.InsightError, match="permutation importance needs a complete run"
        ):
            insight.permutation_importances(workspace, run.id)
        assert insight.own_importances(workspace, run.id) == {}

    # A pruned trial and one recorded before held-out predictions existed (revision 0003
    # wrote runs exactly like this: no predictions named).
    pruned = repo.start_run(
        workspace.db, sweep_id=sweep.id, trial_number=100, params={}, seed=0,
        dataset_sha=sweep.dataset_sha, environment={}, worker="test",
    )  # fmt: skip
    repo.finish_run(workspace.db, pruned, status="pruned", points=[("intermediate", 0, 0.5)])
    older = repo.start_run(
        workspace.db, sweep_id=sweep.id, trial_number=101, params={}, seed=0,
        dataset_sha=sweep.dataset_sha, environment={}, worker="test",
    )  # fmt: skip
    repo.finish_run(workspace.db, older, status="complete", value=0.9, fold_scores=[0.9])
    for run_id, why in ((pruned, "was pruned"), (older, "predates held-out recording")):
        with pytest.raises(insight.InsightError) as caught:
            insight.held_out_summary(workspace, run_id)
        message = str(caught.value)
        assert message.startswith(f"run {run_id} {why}") and "\n" not in message


def test_a_pruned_trial_of_a_real_sweep_records_no_predictions(workspace: Workspace) -> None:
    add_sample(workspace, "breast_cancer", "diagnosis")
    sweep = run_sweep(
        workspace, dataset="breast_cancer", model="lightgbm", metric="log_loss", trials=10,
        pruner="median", seed=3, params={"n_estimators": 60},
    )  # fmt: skip
    pruned = repo.list_runs(workspace.db, sweep_id=sweep.id, status="pruned")
    assert pruned, sweep.counts
    assert all(run.predictions_sha is None for run in pruned)
    with pytest.raises(insight.InsightError, match=f"^run {pruned[0].id} was pruned: no held-out"):
        insight.held_out_summary(workspace, pruned[0].id)
    assert all(run.predictions_sha for run in complete_runs(workspace, sweep))


def test_cli_runs_insight_prints_the_matrix_and_json(
    capsys: pytest.CaptureFixture[str], workspace: Workspace
) -> None:
    add_sample(workspace, "wine", "cultivar")
    sweep = run_sweep(
        workspace, dataset="wine", model="random_forest", trials=1, params={"n_estimators": 20}
    )
    [run] = complete_runs(workspace, sweep)
    code, out, err = cli(capsys, workspace, "runs", "insight", str(run.id))
    assert code == 0, err
    assert "confusion matrix (rows true, columns predicted)" in out
    assert "class_0" in out and "precision" in out and "recall" in out
    assert "model's own importances" in out and "proline" in out
    assert "permutation" not in out

    code, out, err = cli(
        capsys, workspace, "runs", "insight", str(run.id), "--permutation", "--json"
    )
    assert code == 0, err
    shown = json.loads(out)
    summary = insight.held_out_summary(workspace, run.id)
    assert shown["run"] == run.id
    assert shown["held_out"]["confusion"]["matrix"] == summary.confusion.matrix
    assert sum(map(sum, shown["held_out"]["confusion"]["matrix"])) == 178
    assert set(shown["importances"]) == set(WINE_COLUMNS)
    assert set(shown["permutation"]["mean"]) == set(WINE_COLUMNS)
    assert shown["permutation"]["scorer"] == "accuracy"

    code, out, _ = cli(capsys, workspace, "runs", "insight", str(run.id), "--permutation")
    assert code == 0 and "permutation importance: drop in accuracy" in out and "cached" in out

    code, _, err = cli(capsys, workspace, "runs", "insight", "999")
    assert code == 1 and err.count("\n") == 1 and "999" in err


def test_cli_runs_insight_prints_residuals_for_regression_on_a_holdout_split(
    capsys: pytest.CaptureFixture[str], workspace: Workspace
) -> None:
    add_sample(workspace, "diabetes", "disease_progression")
    sweep = run_sweep(
        workspace, dataset="diabetes", model="linear", metric="mae", trials=1, folds=None,
        holdout=0.25,
    )  # fmt: skip
    [run] = complete_runs(workspace, sweep)
    code, out, err = cli(capsys, workspace, "runs", "insight", str(run.id))
    assert code == 0, err
    assert "111 held-out rows from 1 fold" in out  # ceil(442 x 0.25)
    assert "residuals (true − predicted): n 111" in out and "largest absolute residuals" in out
    assert "p95" in out
    code, out, _ = cli(capsys, workspace, "runs", "insight", str(run.id), "--json", "--permutation")
    shown = json.loads(out)
    residuals = shown["held_out"]["residuals"]
    assert shown["held_out"]["confusion"] is None and residuals["count"] == 111
    assert residuals["mae"] == pytest.approx(run.value)  # one split: pooled is the metric
    assert len(residuals["largest"]) == 5
    assert shown["permutation"]["rows"] == 111 and shown["permutation"]["direction"] == "minimize"
    assert shown["permutation"]["baseline"] == pytest.approx(run.value)


def test_gather_insight_is_what_the_cli_prints_and_the_tab_shows(
    capsys: pytest.CaptureFixture[str], workspace: Workspace
) -> None:
    """One pipeline function assembles insight; `runs insight` and the Insight tab only
    render it. Each part carries its own reason when it cannot be had."""
    from workbench.cli_output import jsonable

    add_sample(workspace, "wine", "cultivar")
    sweep = run_sweep(
        workspace, dataset="wine", model="random_forest", trials=4,
        params={"n_estimators": 10, "max_features": {"choices": [0.5, "not-a-valid-option"]}},
    )  # fmt: skip
    [run, *_] = complete_runs(workspace, sweep)
    [failed, *_] = repo.list_runs(workspace.db, sweep_id=sweep.id, status="failed")

    found = insight.gather_insight(workspace, run.id)
    assert found.held_out is not None and found.held_out_note is None
    assert set(found.importances) == set(WINE_COLUMNS) and not found.empty
    assert (found.permutation, found.permutation_note) == (None, None)  # never computed
    code, out, err = cli(capsys, workspace, "runs", "insight", str(run.id), "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["held_out"] == jsonable(found.held_out)
    assert shown["importances"] == found.importances and shown["permutation"] is None

    computed = insight.gather_insight(workspace, run.id, permutation=True).permutation
    assert computed is not None and not computed.cached
    again = insight.gather_insight(workspace, run.id)  # a view reads the cached result
    assert again.permutation is not None and again.permutation.cached
    assert again.permutation.mean == computed.mean
    assert insight.gather_insight(workspace, run.id, cached=False).permutation is None
    code, out, _ = cli(capsys, workspace, "runs", "insight", str(run.id))
    assert code == 0 and "permutation" not in out  # the CLI shows it only when asked

    broken = insight.gather_insight(workspace, failed.id, permutation=True)
    assert broken.empty
    assert broken.held_out_note == f"run {failed.id} failed: no held-out predictions"
    assert "permutation importance needs a complete run" in (broken.permutation_note or "")
    code, _, err = cli(capsys, workspace, "runs", "insight", str(failed.id))
    assert code == 1 and err.count("\n") == 1 and broken.held_out_note in err
    code, _, err = cli(capsys, workspace, "runs", "insight", str(failed.id), "--permutation")
    assert code == 1 and "permutation importance needs a complete run" in err
    with pytest.raises(NotFoundError, match="999"):
        insight.gather_insight(workspace, 999)
