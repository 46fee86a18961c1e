"""The live layer's poll of sweeps, on a real SQLite workspace: a fixed number of queries
however many sweeps there are, and only the runs that are new or changed since the last poll."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, update

from pipelines.sweeps.lifecycle import create_sweep, list_sweeps
from pipelines.sweeps.live import poll_sweeps
from storage import sweeps as repo
from storage.handle import Workspace, open_workspace
from storage.models_sweeps import SweepRow
from storage.sweep_progress import RunCursor
from tests.sweep_helpers import add_sample

WINE = {"dataset": "wine", "target": "cultivar", "model": "random_forest", "trials": 10}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / "ws")
    add_sample(workspace, "wine", "cultivar")
    yield workspace
    workspace.close()


@contextmanager
def counted(ws: Workspace) -> Iterator[list[str]]:
    """Every SQL statement the workspace's engine runs inside the block."""
    statements: list[str] = []

    def seen(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(ws.db.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(ws.db.engine, "before_cursor_execute", seen)


def add_trial(ws: Workspace, sweep_id: int, trial: int, value: float | None = None) -> int:
    """A trial as a worker records it: started, and finished when it has a value."""
    run = repo.start_run(
        ws.db,
        sweep_id=sweep_id,
        trial_number=trial,
        params={"n_estimators": 10 + trial},
        seed=trial,
        dataset_sha="0" * 64,
        environment={"python": "3.x", "packages": {"big": "x" * 1000}},
        worker="elsewhere:1",
    )
    if value is not None:
        repo.finish_run(ws.db, run, status="complete", value=value)
    return run


def add_sweeps(ws: Workspace, count: int) -> list[int]:
    ids = []
    for n in range(count):
        sweep_id = create_sweep(ws, {**WINE, "name": f"s{n}"}).sweep.id
        for trial in range(3):
            add_trial(ws, sweep_id, trial, 0.5 + 0.1 * trial)
        ids.append(sweep_id)
    # Running, their worker's last beat still ahead (so not 'stalled' while the test runs).
    soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    with ws.db.session_scope() as session:
        session.execute(update(SweepRow).values(status="running", heartbeat_at=soon))
    return ids


def test_listing_sweeps_takes_the_same_queries_for_two_or_six_sweeps(ws: Workspace) -> None:
    add_sweeps(ws, 2)
    with counted(ws) as two:
        assert len(list_sweeps(ws)) == 2
    add_sweeps(ws, 4)
    with counted(ws) as six:
        sweeps = list_sweeps(ws)
    assert len(sweeps) == 6 and all(s.best_value == pytest.approx(0.7) for s in sweeps)
    assert len(six) == len(two) <= 6, six


def test_a_poll_takes_the_same_queries_for_two_or_six_sweeps(ws: Workspace) -> None:
    ids = add_sweeps(ws, 2)
    with counted(ws) as two:
        polled = poll_sweeps(ws, None, {i: RunCursor() for i in ids})
    assert [len(p.progress.runs) for p in polled] == [3, 3]
    ids += add_sweeps(ws, 4)
    with counted(ws) as six:
        polled = poll_sweeps(ws, None, {i: RunCursor() for i in ids})
    assert [len(p.progress.runs) for p in polled] == [3] * 6
    assert len(six) == len(two) <= 8, six
    assert not any("environment" in s for s in six)  # no heavy columns read
    assert all(p.progress.sweep.status == "running" for p in polled)
    assert all(p.progress.mean_trial_s is not None for p in polled)


def test_a_second_poll_returns_only_what_changed(ws: Workspace) -> None:
    first, other = add_sweeps(ws, 2)
    (polled,) = poll_sweeps(ws, [first], {first: RunCursor()})
    assert [r.trial_number for r in polled.progress.runs] == [0, 1, 2]
    cursor = polled.progress.cursor
    assert cursor is not None

    (polled,) = poll_sweeps(ws, [first], {first: cursor})
    assert polled.progress.runs == []  # nothing changed
    assert polled.progress.sweep.counts == {"complete": 3}

    running = add_trial(ws, first, 3)
    add_trial(ws, other, 3, 0.99)  # another sweep's trial is not this sweep's news
    (polled,) = poll_sweeps(ws, [first], {first: cursor})
    assert [(r.id, r.status) for r in polled.progress.runs] == [(running, "running")]
    cursor = polled.progress.cursor
    assert cursor is not None and cursor.running == {running}

    (polled,) = poll_sweeps(ws, [first], {first: cursor})
    assert [r.id for r in polled.progress.runs] == [running]  # still running: may change
    repo.finish_run(ws.db, running, status="complete", value=0.95)
    (polled,) = poll_sweeps(ws, [first], {first: polled.progress.cursor or cursor})
    assert [(r.id, r.status, r.value) for r in polled.progress.runs] == [
        (running, "complete", 0.95)
    ]
    sweep = polled.progress.sweep
    assert sweep.best_value == 0.95 and sweep.best_run_id == running
    cursor = polled.progress.cursor
    assert cursor is not None and not cursor.running
    (polled,) = poll_sweeps(ws, [first], {first: cursor})
    assert polled.progress.runs == []


def test_the_best_run_follows_each_sweeps_direction_and_ties_go_to_the_first(
    ws: Workspace,
) -> None:
    up, down = add_sweeps(ws, 2)
    with ws.db.session_scope() as session:
        session.execute(update(SweepRow).where(SweepRow.id == down).values(direction="minimize"))
    tied = add_trial(ws, up, 3, 0.7)
    by_id = {p.progress.sweep.id: p.progress.sweep for p in poll_sweeps(ws, None, {})}
    assert by_id[up].best_value == pytest.approx(0.7) and by_id[up].best_run_id != tied
    assert by_id[up].best_run_id == repo.find_run(ws.db, up, 2).id  # type: ignore[union-attr]
    assert by_id[down].best_value == pytest.approx(0.5)
    assert by_id[down].best_params == {"n_estimators": 10}
