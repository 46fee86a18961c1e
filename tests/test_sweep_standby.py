"""The standby worker (pipelines.sweeps.standby): `workbench sweep start` starts a worker
before the sweep exists so its imports overlap the CLI's, then hands it the sweep. Real
processes throughout: the sweep is worked by the standby itself, a start that fails leaves
neither a process nor a log behind, and a standby that died is replaced."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from pipelines import supervisor
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.standby import start_standby
from storage import sweep_workers as workers_repo
from storage import sweeps as repo
from storage.handle import Workspace
from tests.sweep_helpers import add_sample, wait_until, write_sweep
from workbench.cli import main

QUICK = 'dataset = "wine"\nmodel = "linear"\nmetric = "accuracy"\ntrials = 4\nfolds = 2\n'


def standbys(root: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = process.info["cmdline"] or []
        if "pipelines.sweeps.standby" in line and str(root) in line:
            found.append(process)
    return found


def test_sweep_start_is_worked_by_the_standby_it_started_first(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "wine", "cultivar")
    code = main(
        ["--workspace", str(workspace.root), "sweep", "start", str(write_sweep(tmp_path, QUICK))]
    )
    assert code == 0, capsys.readouterr().err
    [sweep] = repo.list_sweeps(workspace.db)
    [standby] = standbys(workspace.root)  # the registered worker is the standby process
    [row] = workers_repo.live_processes(workspace.db, sweep.id)
    assert row.pid == standby.pid
    wait_until(lambda: repo.get_sweep(workspace.db, sweep.id).status == "finished", "the sweep")
    sweep = repo.get_sweep(workspace.db, sweep.id)
    assert sum(sweep.counts.values()) == 4 and sweep.counts.get("complete") == 4
    logs = sorted(p.name for p in (workspace.root / "logs").iterdir())
    assert logs == [f"sweep-{sweep.id}-worker-0.log"]  # the standby's log, renamed
    assert "Traceback" not in (workspace.root / "logs" / logs[0]).read_text()


def test_a_refused_start_leaves_no_standby_and_no_log(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "wine", "cultivar")
    bad = write_sweep(tmp_path, QUICK.replace('"linear"', '"no_such_model"'))
    assert main(["--workspace", str(workspace.root), "sweep", "start", str(bad)]) == 1
    assert "no_such_model" in capsys.readouterr().err
    wait_until(lambda: not standbys(workspace.root), "the standby to exit")
    wait_until(lambda: not list((workspace.root / "logs").glob("standby-*")), "its log to go")
    assert repo.list_sweeps(workspace.db) == []


def test_a_standby_that_died_is_replaced_by_a_worker_of_the_launchers_own(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "wine", "cultivar")
    standby = start_standby(workspace.root)
    assert standby is not None
    supervisor.kill(standby.process)
    supervisor.wait_gone(standby.process, 10)
    created = sweeps.read_and_create(workspace, write_sweep(tmp_path, QUICK))
    [pid] = sweeps.start_sweep(workspace, created.sweep.id, standby=standby)
    assert pid != standby.process.pid
    wait_until(
        lambda: repo.get_sweep(workspace.db, created.sweep.id).status == "finished", "the sweep"
    )
    assert repo.get_sweep(workspace.db, created.sweep.id).counts.get("complete") == 4
