"""Sweep workers under the process supervisor: known by pid and creation time, given the
database URL in their environment only, and launched, stopped and resumed by one
conditional update each, so two clients racing never both win."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import func, select, update

from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweep_workers as workers_repo
from storage import sweeps as repo
from storage.datasets import utcnow
from storage.errors import WorkbenchError
from storage.handle import Workspace, open_workspace
from storage.models_sweeps import SweepRow, SweepWorkerRow
from storage.processes import HOST, Supervised, this_process
from tests.conftest import POSTGRES_URL
from tests.sweep_helpers import add_sample, kill_workers, wait_until

LONG_SWEEP = {"dataset": "wine", "model": "linear", "trials": 500, "folds": 2}


def worker_rows(ws: Workspace, sweep_id: int) -> int:
    with ws.db.session_scope() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(SweepWorkerRow)
                .where(SweepWorkerRow.sweep_id == sweep_id)
            )
            or 0
        )


def race(count: int, action: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run `action(i)` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def one(index: int) -> None:
        barrier.wait()
        try:
            results.append(action(index))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def check_worker_commands(ws: Workspace, sweep_id: int, url: str, secret: str) -> None:
    """Every live worker got the URL in its environment, and nothing of it on its argv
    (which every local user can read in `ps`); its output goes to the workspace's logs."""
    wait_until(lambda: sweeps.worker_processes(ws, sweep_id), "a live worker")
    for process in sweeps.worker_processes(ws, sweep_id):
        found = psutil.Process(process.pid)
        assert found.create_time() == pytest.approx(process.started_at)
        command = found.cmdline()
        assert all(secret not in arg for arg in command), command
        assert "--database-url" not in command
        assert found.environ()["WORKBENCH_DATABASE_URL"] == url
    logs = list((ws.root / "logs").glob(f"sweep-{sweep_id}-worker-*.log"))
    assert logs


def test_workers_get_the_database_url_in_their_environment_never_on_argv(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'metadata.db'}"
    (tmp_path / "elsewhere").mkdir()
    ws = open_workspace(tmp_path / "ws", database_url=url)
    try:
        add_sample(ws, "wine", "cultivar")
        sweep = sweeps.create_sweep(ws, LONG_SWEEP).sweep
        sweeps.start_sweep(ws, sweep.id, workers=1)
        check_worker_commands(ws, sweep.id, url, str(tmp_path / "elsewhere"))
        # ...and it works on that database: its trials are recorded there.
        wait_until(lambda: repo.count_runs(ws.db, sweep_id=sweep.id) >= 2, "trials recorded")
        assert sweeps.stop_sweep(ws, sweep.id).status == "stopping"
        assert sweeps.wait_for_sweep(ws, sweep.id, poll_s=0.2).status == "stopped"
    finally:
        kill_workers(ws, 1)
        ws.close()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs WORKBENCH_TEST_POSTGRES_URL (CI starts one)")
def test_a_postgresql_password_never_shows_in_a_workers_command_line(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, make_url, text

    assert POSTGRES_URL is not None
    server = make_url(POSTGRES_URL)
    name = f"wb_supervision_{uuid.uuid4().hex[:8]}"  # its own database: nothing shared
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    ws = open_workspace(tmp_path / "ws", database_url=url)
    try:
        add_sample(ws, "wine", "cultivar")
        sweep = sweeps.create_sweep(ws, LONG_SWEEP).sweep
        sweeps.start_sweep(ws, sweep.id, workers=1)
        check_worker_commands(ws, sweep.id, url, f":{server.password}@")
        wait_until(lambda: repo.count_runs(ws.db, sweep_id=sweep.id) >= 1, "a trial recorded")
        sweeps.stop_sweep(ws, sweep.id)
        assert sweeps.wait_for_sweep(ws, sweep.id, poll_s=0.2).status == "stopped"
    finally:
        kill_workers(ws, 1)
        ws.close()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_process_that_got_a_dead_workers_pid_is_not_that_worker(workspace: Workspace) -> None:
    """A worker row whose pid is now this (live) test process, but whose creation time is
    an hour earlier: that worker is dead, the sweep reads stalled, and this process joining
    gets a row of its own rather than the dead worker's."""
    add_sample(workspace, "wine", "cultivar")
    sweep = sweeps.create_sweep(workspace, LONG_SWEEP).sweep
    me = this_process()
    assert me.started_at is not None
    dead = Supervised(me.pid, me.started_at - 3600, HOST)
    old = utcnow() - timedelta(seconds=10)
    with workspace.db.session_scope() as session:
        session.add(
            SweepWorkerRow(
                sweep_id=sweep.id,
                host=dead.host,
                pid=dead.pid,
                process_started_at=dead.started_at,
                started_at=old,
                heartbeat_at=utcnow(),
            )
        )
        session.execute(
            update(SweepRow)
            .where(SweepRow.id == sweep.id)
            .values(status="running", heartbeat_at=old)
        )
    assert sweeps.live_worker_count(workspace, sweep.id) == 0
    assert sweeps.worker_processes(workspace, sweep.id) == []
    assert sweeps.get_sweep(workspace, sweep.id).status == "stalled"
    worker_id, ordinal = workers_repo.register_worker(workspace.db, sweep.id, me)
    assert ordinal == 1 and worker_rows(workspace, sweep.id) == 2
    assert sweeps.live_worker_count(workspace, sweep.id) == 1
    assert sweeps.worker_processes(workspace, sweep.id) == [me]
    workers_repo.finish_worker(workspace.db, worker_id)


def test_two_clients_launching_one_sweep_at_once_launch_it_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_sample(workspace, "wine", "cultivar")
    sweep = sweeps.create_sweep(workspace, LONG_SWEEP).sweep
    clients = [open_workspace(workspace.root) for _ in range(2)]  # two TUIs, two engines
    try:
        launched, refused = race(2, lambda i: sweeps.start_sweep(clients[i], sweep.id, workers=1))
        assert len(launched) == 1 and len(launched[0]) == 1, (launched, refused)
        assert [str(e) for e in refused] == [
            f"sweep {sweep.id} is already running (1 live workers)"
        ]
        assert worker_rows(workspace, sweep.id) == 1
        assert [p.pid for p in sweeps.worker_processes(workspace, sweep.id)] == launched[0]
    finally:
        kill_workers(workspace, sweep.id)
        for client in clients:
            client.close()


def test_two_clients_resuming_one_sweep_at_once_launch_it_once(workspace: Workspace) -> None:
    add_sample(workspace, "wine", "cultivar")
    sweep = sweeps.create_sweep(workspace, LONG_SWEEP).sweep
    assert sweeps.stop_sweep(workspace, sweep.id).status == "stopped"  # never started
    clients = [open_workspace(workspace.root) for _ in range(2)]
    try:
        resumed, refused = race(2, lambda i: sweeps.resume_sweep(clients[i], sweep.id, 1))
        assert len(resumed) == 1 and len(resumed[0][1]) == 1, (resumed, refused)
        assert len(refused) == 1 and "already running" in str(refused[0])
        assert worker_rows(workspace, sweep.id) == 1
    finally:
        kill_workers(workspace, sweep.id)
        for client in clients:
            client.close()


def test_a_stop_decided_on_an_old_view_never_undoes_the_end(workspace: Workspace) -> None:
    """A client saw the sweep running and asks to stop just after its last worker finished
    it: the stop is refused and the sweep stays finished; a late failure of a worker does
    not turn a stopped sweep into a failed one either."""
    add_sample(workspace, "wine", "cultivar")
    finished = sweeps.create_sweep(workspace, {**LONG_SWEEP, "trials": 2}).sweep
    run_worker(workspace, finished.id)
    with pytest.raises(WorkbenchError, match=f"sweep {finished.id} is already finished"):
        workers_repo.request_stop(workspace.db, finished.id)
    assert repo.sweep_status(workspace.db, finished.id) == "finished"

    stopped = sweeps.create_sweep(workspace, LONG_SWEEP).sweep
    worker_id, _ = workers_repo.register_worker(workspace.db, stopped.id, this_process())
    workers_repo.finish_worker(workspace.db, worker_id)
    assert sweeps.stop_sweep(workspace, stopped.id).status == "stopped"
    workers_repo.finish_sweep(workspace.db, worker_id, stopped.id, "failed", error="late")
    record = sweeps.get_sweep(workspace, stopped.id)
    assert record.status == "stopped" and record.error is None
