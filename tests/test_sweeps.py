"""Real sweeps: Optuna studies over real models on bundled data, run in this process and in
background worker processes; a worker killed mid-trial; the sweep resumed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.runs.models import load_run_model
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as repo
from storage.handle import Workspace, open_workspace
from tests.conftest import POSTGRES_URL
from tests.sweep_helpers import add_sample, kill_workers, wait_until, write_sweep
from workbench.cli import main

ROOT = Path(__file__).resolve().parent.parent


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_inline_sweep_records_every_trial_as_a_run_and_keeps_the_top_models(
    workspace: Workspace,
) -> None:
    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace,
        {
            "dataset": "wine",
            "model": "random_forest",
            "metric": "accuracy",
            "trials": 6,
            "folds": 3,
            "keep_top": 2,
            "pruner": "none",
        },
    )
    assert any("task: classification" in line for line in created.choices)
    run_worker(workspace, created.sweep.id)

    sweep = repo.get_sweep(workspace.db, created.sweep.id)
    assert sweep.status == "finished" and sweep.counts == {"complete": 6}
    assert sweep.best_value is not None and sweep.best_value > 0.85
    runs = repo.list_runs(workspace.db, sweep_id=sweep.id, order_by="trial")
    assert [r.trial_number for r in runs] == list(range(6))
    first = runs[0]
    assert len(first.fold_scores) == 3 and set(first.params) >= {"n_estimators"}
    assert {"accuracy", "f1"} <= set(first.metrics)
    assert first.environment["python"] and "git" in first.environment
    assert first.environment["libraries"]["scikit-learn"] != "not installed"
    assert first.dataset_sha == sweep.dataset_sha and first.seed == 0

    kept = [r for r in runs if r.artifact_sha]
    assert len(kept) == 2 and sweep.best_run_id in {r.id for r in kept}
    assert all(r.manifest_sha for r in kept)
    model = load_run_model(workspace, sweep.best_run_id)
    from pipelines.datasets.versions import browsable_path
    from pipelines.sweeps.training import load_frame
    from storage.datasets import get_version

    X, y = load_frame(browsable_path(workspace, get_version(workspace.db, "wine")), "cultivar")
    assert (model.predict(X.head(20)) == y.head(20).to_numpy()).mean() > 0.8


def test_identifier_columns_stay_out_of_training_and_the_kept_model(
    workspace: Workspace,
) -> None:
    """churn's customer_id is detected as an identifier: no run sees it, the kept model
    predicts without it, and reproducing a run gives the same score."""
    from pipelines.datasets.versions import register_dataset
    from pipelines.runs.details import reproduce_run
    from pipelines.runs.insight import own_importances
    from tests.sweep_helpers import SAMPLES

    register_dataset(workspace, SAMPLES / "churn_v1.csv", name="churn", target="churned")
    spec = {"dataset": "churn", "model": "random_forest", "trials": 2, "folds": 2}
    created = sweeps.create_sweep(workspace, {**spec, "keep_top": 1, "pruner": "none"})
    assert any(line.startswith("exclude: customer_id") for line in created.choices)
    run_worker(workspace, created.sweep.id)
    runs = repo.list_runs(workspace.db, sweep_id=created.sweep.id, order_by="trial")
    importances = own_importances(workspace, runs[0].id)
    assert "customer_id" not in importances and "contract" in importances
    kept = next(r for r in runs if r.artifact_sha)
    model = load_run_model(workspace, kept.id)
    assert "customer_id" not in list(model.feature_names_in_)
    assert reproduce_run(workspace, runs[0].id).difference == 0


def test_lightgbm_reports_per_iteration_and_bad_trials_are_pruned(workspace: Workspace) -> None:
    add_sample(workspace, "breast_cancer", "diagnosis")
    created = sweeps.create_sweep(
        workspace,
        {
            "dataset": "breast_cancer",
            "model": "lightgbm",
            "metric": "log_loss",
            "trials": 14,
            "folds": 3,
            "pruner": "median",
            "seed": 3,
        },
    )
    run_worker(workspace, created.sweep.id)
    sweep = repo.get_sweep(workspace.db, created.sweep.id)
    assert sweep.status == "finished"
    assert sweep.counts.get("pruned", 0) >= 1, sweep.counts
    complete = repo.list_runs(workspace.db, sweep_id=sweep.id, status="complete")
    curves = repo.metric_points(workspace.db, complete[0].id)
    iteration_keys = [
        k
        for k in curves
        if k not in ("fold_score", "intermediate") and not k.startswith("importance:")
    ]
    assert iteration_keys and len(curves[iteration_keys[0]]) > 5


def test_cli_start_wait_show_and_runs_with_two_background_workers(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "diabetes", "disease_progression")
    path = write_sweep(
        tmp_path,
        'dataset = "diabetes"\nmodel = "linear"\nmetric = "rmse"\ntrials = 16\nfolds = 3\n',
    )
    code, out, err = cli(capsys, workspace, "sweep", "start", str(path), "--workers", "2", "--wait")
    assert code == 0, err
    assert "task: regression" in out and "finished" in out
    code, out, _ = cli(capsys, workspace, "sweep", "show", "1", "--json")
    shown = json.loads(out)
    assert shown["status"] == "finished" and shown["direction"] == "minimize"
    assert sum(shown["counts"].values()) == 16 and shown["best_params"]
    code, out, _ = cli(capsys, workspace, "runs", "ls", "--sweep", "1", "--json")
    runs = json.loads(out)
    assert len(runs) == 16 and len({r["worker"] for r in runs}) == 2  # both workers worked
    logs = "".join(p.read_text() for p in (workspace.root / "logs").glob("*.log"))
    assert "database is locked" not in logs and "Traceback" not in logs
    complete = next(r for r in runs if r["status"] == "complete")
    code, out, err = cli(capsys, workspace, "runs", "reproduce", str(complete["id"]))
    assert code == 0 and "difference +0" in out, err


def test_a_worker_killed_mid_trial_leaves_a_failed_trial_and_the_study_resumes(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "breast_cancer", "diagnosis")
    path = write_sweep(
        tmp_path,
        'dataset = "breast_cancer"\nmodel = "random_forest"\nmetric = "accuracy"\n'
        'trials = 5\nfolds = 3\npruner = "none"\n[params]\nn_estimators = 400\n',
    )
    code, out, err = cli(capsys, workspace, "sweep", "start", str(path))
    assert code == 0, err
    wait_until(lambda: repo.list_runs(workspace.db, sweep_id=1, status="running"), "a trial")
    assert kill_workers(workspace, 1) == 1
    code, out, err = cli(capsys, workspace, "sweep", "resume", "1", "--wait")
    assert code == 0 and "1 stale trial(s) marked failed" in out, err
    sweep = repo.get_sweep(workspace.db, 1)
    assert sweep.status == "finished" and sweep.counts.get("failed") == 1
    assert sum(sweep.counts.values()) == 5
    [failed] = repo.list_runs(workspace.db, sweep_id=1, status="failed")
    assert "worker died" in (failed.error or "")


def test_stop_finishes_running_trials_then_stops(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "wine", "cultivar")
    path = write_sweep(
        tmp_path, 'dataset = "wine"\nmodel = "extra_trees"\ntrials = 200\nfolds = 3\n'
    )
    cli(capsys, workspace, "sweep", "start", str(path))
    wait_until(lambda: repo.list_runs(workspace.db, sweep_id=1, status="complete"), "a run")
    code, out, _ = cli(capsys, workspace, "sweep", "stop", "1")
    assert code == 0 and "stopping" in out
    sweep = sweeps.wait_for_sweep(workspace, 1)
    assert sweep.status == "stopped" and sweep.counts.get("running", 0) == 0
    assert sum(sweep.counts.values()) < 200


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ('dataset = "wine"\nmodel = "random_forest"\ntrails = 5\n', "unknown key 'trails'"),
        ('dataset = "wine"\nmodel = "random_forest"\ntarget = "nope"\n', "target"),
        ('dataset = "wine"\nmodel = "random_forest"\nmetric = "rmse"\n', "metric"),
        ('dataset = "wine"\nmodel = "xgb"\n', "model"),
        (
            'dataset = "wine"\nmodel = "lightgbm"\n'
            "[params]\nlearning_rate = { low = 0.5, high = 0.1 }\n",
            "low 0.5 > high 0.1",
        ),
        ('dataset = "wine"\nmodel = "random_forest"\nfolds = 500\n', "folds"),
        ('dataset = "nothing"\nmodel = "random_forest"\n', "no dataset named 'nothing'"),
    ],
)
def test_bad_sweep_files_are_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path, text: str, phrase: str
) -> None:
    add_sample(workspace, "wine", "cultivar")
    code, _, err = cli(capsys, workspace, "sweep", "start", str(write_sweep(tmp_path, text)))
    assert code == 1 and phrase in err and err.count("\n") == 1
    assert repo.list_sweeps(workspace.db) == []


def test_optuna_dashboard_opens_the_workspace_studies(workspace: Workspace) -> None:
    """The studies are ordinary Optuna studies: optuna-dashboard, pointed at the workspace's
    journal file, serves them over HTTP on 127.0.0.1."""
    import socket
    import urllib.request

    from pipelines.sweeps.studies import dashboard_target

    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace, {"dataset": "wine", "model": "linear", "trials": 3, "folds": 3}
    )
    run_worker(workspace, created.sweep.id)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dashboard = Path(sys.executable).parent / "optuna-dashboard"
    target = dashboard_target(workspace, created.sweep.optuna_storage)
    server = subprocess.Popen(
        [str(dashboard), target, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    answer: list[dict] = []

    def answered() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as r:
                answer.extend(json.load(r)["study_summaries"])
        except OSError:
            return False
        return True

    try:
        wait_until(answered, "optuna-dashboard to answer", timeout_s=30)
    finally:
        server.terminate()
        server.wait(timeout=10)
    [study] = [s for s in answer if s["study_name"] == created.sweep.study_name]
    assert study["directions"] == ["maximize"]


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs WORKBENCH_TEST_POSTGRES_URL (CI starts one)")
def test_distributed_sweep_on_postgresql_with_a_joining_worker(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:  # a clean database: ours and Optuna's tables
        for table in inspect(connection).get_table_names():
            connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    engine.dispose()
    ws = open_workspace(tmp_path / "ws", database_url=POSTGRES_URL)
    try:
        add_sample(ws, "wine", "cultivar")
        created = sweeps.create_sweep(
            ws, {"dataset": "wine", "model": "random_forest", "trials": 20, "folds": 3}
        )
        assert created.sweep.optuna_storage == "rdb:workspace"
        sweeps.start_sweep(ws, created.sweep.id, workers=1)
        # Another machine mounts the same workspace folder (the frozen data lives there) and
        # points at the same database: `workbench worker SWEEP --database-url URL`.
        command = [
            sys.executable,
            "-m",
            "workbench",
            "--workspace",
            str(ws.root),
            "--database-url",
            POSTGRES_URL,
            "worker",
            str(created.sweep.id),
        ]
        joiner = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        sweep = sweeps.wait_for_sweep(ws, created.sweep.id)
        output, _ = joiner.communicate(timeout=120)
        assert joiner.returncode == 0, output
        # Every trial is claimed before it starts, so the joiner keeps the budget exact.
        assert sweep.status == "finished" and sum(sweep.counts.values()) == 20
        assert len({r.worker for r in repo.list_runs(ws.db, sweep_id=created.sweep.id)}) == 2
        names = inspect(ws.db.engine).get_table_names()
        assert "studies" in names and "wb_run" in names  # Optuna's and ours, side by side
    finally:
        ws.close()


def test_gp_without_pytorch_is_refused_with_the_install_hint(workspace: Workspace) -> None:
    import importlib.util

    from storage.errors import SweepInputError

    add_sample(workspace, "wine", "cultivar")
    definition = {"dataset": "wine", "model": "linear", "trials": 3, "folds": 3, "sampler": "gp"}
    if importlib.util.find_spec("torch") is None:
        with pytest.raises(SweepInputError, match=r"workbench\[gp\]"):
            sweeps.create_sweep(workspace, definition)
        assert repo.list_sweeps(workspace.db) == []
    else:  # with PyTorch installed, GP sweeps run like any other
        run_worker(workspace, sweeps.create_sweep(workspace, definition).sweep.id)
        assert repo.list_sweeps(workspace.db)[0].status == "finished"


def test_a_failing_trial_records_its_error_and_the_sweep_goes_on(workspace: Workspace) -> None:
    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace,
        {
            "dataset": "wine",
            "model": "random_forest",
            "trials": 6,
            "folds": 3,
            "pruner": "none",
            "params": {"max_features": {"choices": [0.5, "not-a-valid-option"]}},
        },
    )
    run_worker(workspace, created.sweep.id)
    sweep = repo.get_sweep(workspace.db, created.sweep.id)
    assert sweep.status == "finished" and sum(sweep.counts.values()) == 6
    failed = repo.list_runs(workspace.db, sweep_id=sweep.id, status="failed")
    complete = repo.list_runs(workspace.db, sweep_id=sweep.id, status="complete")
    assert failed and complete  # both choices were tried; the bad one failed, the rest went on
    assert all("max_features" in (run.error or "") for run in failed)


def test_without_a_pruner_the_study_gets_no_reports_and_the_runs_keep_them(
    workspace: Workspace,
) -> None:
    """Each report is a journal record: with no pruner to read them nothing is sent to
    Optuna, and every run still records the values a pruner would have been given."""
    import optuna

    from pipelines.sweeps.studies import open_storage

    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace,
        {
            "dataset": "wine",
            "model": "lightgbm",
            "trials": 2,
            "folds": 2,
            "pruner": "none",
            "keep_top": 0,
            "params": {"n_estimators": 12},
        },
    )
    run_worker(workspace, created.sweep.id)
    sweep = repo.get_sweep(workspace.db, created.sweep.id)
    study = optuna.load_study(
        study_name=sweep.study_name, storage=open_storage(workspace, sweep.optuna_storage)
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert all(t.intermediate_values == {} for t in study.trials)
    for run in repo.list_runs(workspace.db, sweep_id=sweep.id):
        reported = repo.metric_points(workspace.db, run.id)["intermediate"]
        assert [step for step, _ in reported] == list(range(12))
