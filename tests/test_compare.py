"""Comparing real runs of a real sweep, and exporting them: the model, the CLI and the files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pipelines.runs.compare import compare_runs
from pipelines.runs.export import export_runs
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RunRecord
from tests.sweep_helpers import add_sample
from workbench.cli import main


def small_sweep(ws: Workspace) -> list[RunRecord]:
    add_sample(ws, "wine", "cultivar")
    created = sweeps.create_sweep(
        ws,
        {
            "dataset": "wine",
            "model": "random_forest",
            "metric": "accuracy",
            "trials": 4,
            "folds": 3,
            "pruner": "none",
        },
    )
    run_worker(ws, created.sweep.id)
    return repo.list_runs(ws.db, sweep_id=created.sweep.id, order_by="trial")


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compare_rows_deltas_best_and_differences(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = small_sweep(workspace)
    chosen = runs[:3]
    ids = [r.id for r in chosen]
    comparison = compare_runs(workspace, ids, baseline=ids[1])
    assert comparison.baseline == 1 and [r.id for r in comparison.runs] == ids
    rows = {(row.section, row.name): row for row in comparison.rows}
    assert comparison.rows[0].name == "accuracy" and comparison.rows[1].name == "± std"
    assert [row.section for row in comparison.rows] == sorted(
        (row.section for row in comparison.rows), key=("metric", "param", "lineage").index
    )

    value = rows[("metric", "accuracy")]
    assert value.values == [r.value for r in chosen]
    assert value.deltas[1] == 0.0
    for i, run in enumerate(chosen):
        assert value.deltas[i] == pytest.approx(run.value - chosen[1].value)
    best = max(range(3), key=lambda i: (chosen[i].value, -i))
    assert value.best == best
    f1 = rows[("metric", "f1")]
    assert f1.values == [r.metrics["f1"] for r in chosen]
    assert f1.best == max(range(3), key=lambda i: (chosen[i].metrics["f1"], -i))

    for name in chosen[0].params:
        row = rows[("param", name)]
        assert row.values == [r.params[name] for r in chosen]
        assert row.deltas == [None, None, None] and row.best is None
    assert rows[("lineage", "seed")].values == [r.seed for r in chosen]
    assert not rows[("lineage", "seed")].differs and not rows[("lineage", "python")].differs
    assert (
        rows[("lineage", "scikit-learn")].values[0]
        == chosen[0].environment["libraries"]["scikit-learn"]
    )
    assert rows[("lineage", "dataset")].values[0].startswith("wine@D0 (")

    only = comparison.only_differences()
    names = {(row.section, row.name) for row in only.rows}
    assert ("lineage", "seed") not in names and ("lineage", "python") not in names
    assert all(row.differs for row in only.rows) and len(only.rows) < len(comparison.rows)
    assert ("lineage", "duration_s") in names

    code, out, _ = cli(capsys, workspace, "compare", *map(str, ids))
    assert code == 0 and "★" in out
    for run in chosen:
        assert f"run {run.id} (trial {run.trial_number})" in out

    code, out, _ = cli(capsys, workspace, "compare", *map(str, ids), "--diff-only", "--json")
    data = json.loads(out)
    assert code == 0 and [r["id"] for r in data["runs"]] == ids and data["baseline"] == 0
    assert all(row["differs"] for row in data["rows"])

    code, out, err = cli(capsys, workspace, "compare", str(ids[0]))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "2 runs" in err
    code, out, err = cli(capsys, workspace, "compare", str(ids[0]), "9999")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "9999" in err
    with pytest.raises(WorkbenchError, match="baseline"):
        compare_runs(workspace, ids, baseline=9999)


def test_export_runs_as_csv_and_json(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    runs = small_sweep(workspace)
    target = tmp_path / "out" / "runs.csv"
    code, out, err = cli(capsys, workspace, "runs", "export", "--format", "csv", "-o", str(target))
    assert code == 0 and out == "" and f"wrote {len(runs)} runs to {target}" in err
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(runs)
    for row, run in zip(rows, sorted(runs, key=lambda r: r.id), strict=True):
        assert int(row["run"]) == run.id and int(row["trial"]) == run.trial_number
        assert float(row["value"]) == pytest.approx(run.value)
        assert float(row["m_accuracy"]) == pytest.approx(run.metrics["accuracy"])
        for name, param in run.params.items():
            assert row[name] == str(param)
    assert not list(target.parent.glob(".*partial"))

    code, out, _ = cli(capsys, workspace, "runs", "export", "--format", "json")
    records = json.loads(out)
    assert code == 0 and [r["id"] for r in records] == sorted(r.id for r in runs)
    assert records[0]["environment"]["python"] and len(records[0]["fold_scores"]) == 3

    written = export_runs(workspace, tmp_path / "runs.json", "json", sweep_id=runs[0].sweep_id)
    assert isinstance(written, Path) and len(json.loads(written.read_text())) == len(runs)
    text = export_runs(workspace, None, "csv")
    assert isinstance(text, str) and len(text.strip().splitlines()) == len(runs) + 1

    code, _, err = cli(capsys, workspace, "runs", "export", "--sweep", "9999")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "9999" in err
    code, alias, _ = cli(capsys, workspace, "export", "runs", "--format", "json")  # the alias
    assert code == 0 and json.loads(alias) == records


def test_the_cli_stars_every_run_tied_for_best(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """Trials with the same fixed parameters of a deterministic model tie on every metric:
    every one of them gets the ★, not only the first."""
    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace,
        {"dataset": "wine", "model": "linear", "metric": "accuracy", "trials": 2, "folds": 2,
         "pruner": "none", "params": {"C": 1.0}},
    )  # fmt: skip
    run_worker(workspace, created.sweep.id)
    ids = [r.id for r in repo.list_runs(workspace.db, sweep_id=created.sweep.id)]
    code, out, err = cli(capsys, workspace, "compare", *map(str, ids))
    assert code == 0, err
    metric_lines = [line for line in out.splitlines() if "│ accuracy " in line]
    assert metric_lines and all(line.count("★") == 2 for line in metric_lines), out
