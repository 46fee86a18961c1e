"""A sweep's life told truthfully: workers killed with real signals (mid-trial and during the
final refit), resumed and joining workers, stops, exact budgets, and what the CLI says."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import supervisor
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker, suggest_params
from storage import sweeps as repo
from storage.handle import Workspace
from storage.models_sweeps import SweepWorkerRow
from tests.sweep_helpers import add_sample, kill_workers, wait_until, write_sweep
from workbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
SLOW_TRIALS = (  # about a second per trial here: time enough to send a signal mid-trial
    'dataset = "breast_cancer"\nmodel = "random_forest"\nmetric = "accuracy"\nfolds = 2\n'
    'pruner = "none"\n'
)


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def kill(ws: Workspace, sweep_id: int, pid: int) -> None:
    """SIGKILL one worker through the supervisor and wait until it is really gone."""
    [process] = [p for p in sweeps.worker_processes(ws, sweep_id) if p.pid == pid]
    assert supervisor.kill(process) and supervisor.wait_gone(process, 10)


def worker_pids(ws: Workspace, sweep_id: int) -> list[int]:
    with ws.db.session_scope() as session:
        rows = session.query(SweepWorkerRow.pid).filter(SweepWorkerRow.sweep_id == sweep_id)
        return [pid for (pid,) in rows]


def kept(ws: Workspace, sweep_id: int) -> int:
    return sum(1 for r in repo.list_runs(ws.db, sweep_id=sweep_id) if r.artifact_sha)


def test_a_resumed_worker_continues_the_search_and_records_its_seed(workspace: Workspace) -> None:
    """Stopped after 4 trials and resumed: trials 4-7 are new draws, not trials 0-3 again,
    and each run's recorded sampler seed reproduces its parameters."""
    import optuna

    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace,
        {"dataset": "wine", "model": "linear", "trials": 8, "folds": 2, "sampler": "random"},
    )
    sweep_id = created.sweep.id
    run_worker(workspace, sweep_id, trials=4)  # this worker's part ends after 4 trials
    run_worker(workspace, sweep_id)  # a new worker resumes the study
    runs = repo.list_runs(workspace.db, sweep_id=sweep_id, order_by="trial")
    assert [r.trial_number for r in runs] == list(range(8))
    first, second = [r.params["C"] for r in runs[:4]], [r.params["C"] for r in runs[4:]]
    assert not set(first) & set(second), (first, second)
    seeds = [r.environment["sampler_seed"] for r in runs]
    assert seeds == [0] * 4 + [1] * 4
    space = created.sweep.spec["search_space"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seeds[4]))
    assert suggest_params(study.ask(), space) == runs[4].params
    assert repo.get_sweep(workspace.db, sweep_id).status == "finished"


def test_a_sweep_whose_worker_died_is_stalled_not_finished_and_resume_finishes_it(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    """One of two workers is killed mid-trial: the other takes over the rest of the budget,
    but the dead one's trial holds a slot, so the sweep says 'stalled' with the stale trial
    counted and no model is refit on partial results; resume fails it, finishes the sweep
    and refits exactly keep_top models."""
    add_sample(workspace, "breast_cancer", "diagnosis")
    text = SLOW_TRIALS + "trials = 6\nkeep_top = 2\n[params]\nn_estimators = 150\n"
    code, _, err = cli(capsys, workspace, "sweep", "start", str(write_sweep(tmp_path, text)),
                       "--workers", "2")  # fmt: skip
    assert code == 0, err
    try:
        running: list = []

        def two_running() -> bool:
            running[:] = repo.list_runs(workspace.db, sweep_id=1, status="running")
            return len({r.worker for r in running}) == 2

        wait_until(two_running, "both workers running a trial")
        victim = running[0]
        kill(workspace, 1, int(victim.worker.rpartition(":")[2]))
        sweep = sweeps.wait_for_sweep(workspace, 1, poll_s=0.2)
    finally:
        kill_workers(workspace, 1)
    assert sweep.status == "stalled", sweep
    assert sweep.counts.get("stale") == 1 and "running" not in sweep.counts
    assert sum(sweep.counts.values()) == 6 and kept(workspace, 1) == 0
    code, out, _ = cli(capsys, workspace, "sweep", "show", "1")
    assert "stalled" in out and "stale 1 of 6" in out and "sweep resume 1" in out
    code, out, _ = cli(capsys, workspace, "sweep", "show", "1", "--json")
    shown = json.loads(out)
    assert shown["status"] == "stalled" and shown["counts"]["stale"] == 1
    assert shown["live_workers"] == 0
    assert sweeps.list_sweeps(workspace)[0].status == "stalled"  # what the TUI lists
    report = tmp_path / "report.md"
    code, _, err = cli(capsys, workspace, "report", "sweep", "1", "--format", "md",
                       "-o", str(report))  # fmt: skip
    assert code == 0 and "stalled" in report.read_text(), err

    code, out, err = cli(capsys, workspace, "sweep", "resume", "1", "--wait")
    assert code == 0 and "1 stale trial(s) marked failed" in out, err
    sweep = repo.get_sweep(workspace.db, 1)
    assert sweep.status == "finished" and sum(sweep.counts.values()) == 6
    assert sweep.counts.get("failed") == 1 and kept(workspace, 1) == 2
    [failed] = repo.list_runs(workspace.db, sweep_id=1, status="failed")
    assert failed.id == victim.id and "worker died" in (failed.error or "")


def test_a_kill_during_the_final_refit_is_stalled_and_resume_finishes_the_refit(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "breast_cancer", "diagnosis")
    text = SLOW_TRIALS + "trials = 2\nkeep_top = 2\n[params]\nn_estimators = 400\n"
    cli(capsys, workspace, "sweep", "start", str(write_sweep(tmp_path, text)))
    try:
        wait_until(lambda: repo.sweep_status(workspace.db, 1) == "finalizing", "the refit", 120)
        [pid] = worker_pids(workspace, 1)
        kill(workspace, 1, pid)
        started = time.monotonic()
        sweep = sweeps.wait_for_sweep(workspace, 1, poll_s=0.2)  # returns: it does not hang
    finally:
        kill_workers(workspace, 1)
    assert sweep.status == "stalled" and time.monotonic() - started < 15
    assert sweep.counts == {"complete": 2} and kept(workspace, 1) < 2
    code, out, err = cli(capsys, workspace, "sweep", "resume", "1", "--wait")
    assert code == 0 and "finished" in out, err
    assert repo.get_sweep(workspace.db, 1).counts == {"complete": 2} and kept(workspace, 1) == 2


def test_stop_lets_running_trials_finish_and_starts_none(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    """From the moment `sweep stop` answers, no new trial starts: the runs then recorded
    (finished or running) are all the sweep ever has."""
    add_sample(workspace, "wine", "cultivar")
    text = 'dataset = "wine"\nmodel = "linear"\ntrials = 500\nfolds = 2\n'
    cli(capsys, workspace, "sweep", "start", str(write_sweep(tmp_path, text)))
    try:
        wait_until(
            lambda: repo.get_sweep(workspace.db, 1).counts.get("complete", 0) >= 3, "3 trials"
        )
        code, out, _ = cli(capsys, workspace, "sweep", "stop", "1")
        at_stop = repo.count_runs(workspace.db, sweep_id=1)
        assert code == 0 and "no new trial starts" in out  # stopping, or finalizing already
        sweep = sweeps.wait_for_sweep(workspace, 1, poll_s=0.2)
    finally:
        kill_workers(workspace, 1)
    assert sweep.status == "stopped" and sum(sweep.counts.values()) == at_stop
    assert "running" not in sweep.counts


def test_a_stop_before_the_workers_came_up_ends_stopped(workspace: Workspace) -> None:
    """Stopped the moment it was launched: the worker, registered by the launcher, comes up
    to a stop, runs nothing and ends the sweep as stopped (not stalled)."""
    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace, {"dataset": "wine", "model": "linear", "trials": 50, "folds": 2}
    )
    try:
        sweeps.start_sweep(workspace, created.sweep.id)
        assert sweeps.stop_sweep(workspace, created.sweep.id).status == "stopping"
        sweep = sweeps.wait_for_sweep(workspace, created.sweep.id, poll_s=0.2)
    finally:
        kill_workers(workspace, created.sweep.id)
    assert sweep.status == "stopped" and sweep.counts == {}


def test_a_joining_worker_keeps_the_budget_exact(workspace: Workspace) -> None:
    """`workbench worker SWEEP` joining a launched worker: together they run exactly the
    budget (every trial is claimed before it starts, running ones counted)."""
    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace,
        {"dataset": "wine", "model": "linear", "trials": 12, "folds": 2, "pruner": "none"},
    )
    sweeps.start_sweep(workspace, created.sweep.id, workers=1)
    command = [sys.executable, "-m", "workbench", "--workspace", str(workspace.root)]
    joiner = subprocess.run(
        [*command, "worker", str(created.sweep.id)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert joiner.returncode == 0, joiner.stderr
    sweep = sweeps.wait_for_sweep(workspace, created.sweep.id, poll_s=0.2)
    assert sweep.status == "finished" and sweep.counts == {"complete": 12}
    assert len(worker_pids(workspace, created.sweep.id)) == 2


def test_workers_flag_is_the_one_recorded_and_capped_at_the_cores(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "wine", "cultivar")
    path = write_sweep(tmp_path, 'dataset = "wine"\nmodel = "linear"\ntrials = 2\nfolds = 2\n')
    code, out, err = cli(capsys, workspace, "sweep", "start", str(path), "--workers", "2",
                         "--wait")  # fmt: skip
    assert code == 0, err
    assert "workers: 2" in out and "workers: 1" not in out
    assert repo.get_sweep(workspace.db, 1).spec["workers"] == 2
    cores = sweeps.usable_cores()
    many = cores + 3
    code, out, err = cli(capsys, workspace, "sweep", "start", str(path), "--workers", str(many),
                         "--wait")  # fmt: skip
    assert code == 0, err
    assert f"workers: {cores}, not {many} (this machine has {cores} CPU cores)" in err
    assert len(worker_pids(workspace, 2)) == cores


def test_ctrl_c_on_wait_says_the_sweep_goes_on_and_how_to_stop_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "wine", "cultivar")
    path = write_sweep(tmp_path, 'dataset = "wine"\nmodel = "linear"\ntrials = 500\nfolds = 2\n')
    command = [sys.executable, "-m", "workbench", "--workspace", str(workspace.root)]
    follower = subprocess.Popen(
        [*command, "sweep", "start", str(path), "--wait"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: repo.count_runs(workspace.db, sweep_id=1) >= 2, "trials")
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=30)
        assert follower.returncode == 130
        assert "sweep 1 goes on in the background" in err, err
        assert "`workbench sweep stop 1`" in err and "`workbench sweep show 1`" in err
        assert sweeps.live_worker_count(workspace, 1) == 1  # it really does go on
    finally:
        follower.kill()
        kill_workers(workspace, 1)
