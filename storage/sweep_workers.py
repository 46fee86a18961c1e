"""Sweep workers: who is alive, and the decisions only one worker at a time may take.

A worker is live while its row is unfinished, its heartbeat is recent and, on this machine,
its process still runs: a killed worker counts as gone at once, not after the heartbeat
timeout, and a process that merely got a dead worker's pid is not taken for it (workers are
known by pid and creation time, `storage.processes`). Every decision that must not race
(launching, stopping, claiming a trial, ending a worker and claiming the final refit)
first takes the sweep's row with an UPDATE, which is SQLite's write lock and a PostgreSQL
row lock, so these decisions happen one after the other; the ones two clients can race
(launch, stop) are a conditional UPDATE whose row count says who won."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.database import Database
from storage.datasets import utcnow
from storage.errors import NotFoundError, WorkbenchError
from storage.models_sweeps import RunRow, SweepRow, SweepWorkerRow
from storage.processes import Supervised, is_alive, same_start
from storage.records import ACTIVE_SWEEP_STATES, SweepStatus

STALE_AFTER_S = 30.0  # a worker that has not beaten for this long is gone (5 s beats)
START_GRACE_S = 5.0  # a sweep just launched has this long to show its first live worker
ACTIVE = ACTIVE_SWEEP_STATES
LAUNCHABLE = ("created", "stopped", "failed", *ACTIVE)  # not finished; live workers refuse
STOPPABLE = ("created", "running", "stopping")  # and 'finalizing' once its refit died
FINISHED_RUNS = ("complete", "pruned", "failed")


def transition(session: Session, sweep_id: int, from_states: Iterable[str], **values: Any) -> bool:
    """One conditional update: the sweep takes `values` only if its stored status is one of
    `from_states`, and False says it was not (another client got there first). It also
    takes the sweep's row for the rest of the transaction."""
    result = session.execute(
        update(SweepRow)
        .where(SweepRow.id == sweep_id, SweepRow.status.in_(list(from_states)))
        .values(**values)
    )
    # An UPDATE's result is a CursorResult; SQLAlchemy types Session.execute as Result.
    return result.rowcount == 1  # type: ignore[attr-defined]


def stored_status(session: Session, sweep_id: int) -> str:
    status = session.scalar(select(SweepRow.status).where(SweepRow.id == sweep_id))
    if status is None:
        raise NotFoundError(f"no sweep with id {sweep_id}")
    return status


def lock_sweep(session: Session, sweep_id: int) -> None:
    """Take the sweep's row for the rest of the transaction (a heartbeat is a harmless write)."""
    session.execute(update(SweepRow).where(SweepRow.id == sweep_id).values(heartbeat_at=utcnow()))


def live_by_sweep(
    session: Session, sweep_ids: Iterable[int], exclude: int | None = None
) -> dict[int, set[str]]:
    """For each sweep, the `host:pid` of its live workers (runs name their worker that way)."""
    cutoff = utcnow() - timedelta(seconds=STALE_AFTER_S)
    rows = session.execute(
        select(
            SweepWorkerRow.sweep_id,
            SweepWorkerRow.host,
            SweepWorkerRow.pid,
            SweepWorkerRow.process_started_at,
        ).where(
            SweepWorkerRow.sweep_id.in_(list(sweep_ids)),
            SweepWorkerRow.finished_at.is_(None),
            SweepWorkerRow.heartbeat_at >= cutoff,
            SweepWorkerRow.id != (exclude if exclude is not None else -1),
        )
    ).all()
    live: dict[int, set[str]] = {}
    for sweep_id, host, pid, started in rows:
        if is_alive(Supervised(pid, started, host)):
            live.setdefault(sweep_id, set()).add(f"{host}:{pid}")
    return live


def live_processes(db: Database, sweep_id: int) -> list[Supervised]:
    """The processes of the sweep's unfinished workers that still run (or run elsewhere)."""
    with db.session_scope() as session:
        rows = session.execute(
            select(
                SweepWorkerRow.pid, SweepWorkerRow.process_started_at, SweepWorkerRow.host
            ).where(SweepWorkerRow.sweep_id == sweep_id, SweepWorkerRow.finished_at.is_(None))
        ).all()
    found = [Supervised(pid, started, host) for pid, started, host in rows]
    return [process for process in found if is_alive(process)]


def derived_status(stored: SweepStatus, heartbeat_at: datetime | None, live: bool) -> SweepStatus:
    """What a sweep really is: an active one with no live worker (killed, machine gone, a
    kill during the final refit) is 'stalled' until it is resumed or stopped."""
    if stored not in ACTIVE or live:
        return stored
    recent = heartbeat_at is not None and utcnow() - heartbeat_at < timedelta(seconds=START_GRACE_S)
    return stored if recent else "stalled"


def live_worker_count(db: Database, sweep_id: int) -> int:
    with db.session_scope() as session:
        return len(live_by_sweep(session, [sweep_id]).get(sweep_id, ()))


def stale_run_ids(db: Database, sweep_id: int) -> list[tuple[int, int]]:
    """(run id, trial number) of running runs whose worker is gone."""
    with db.session_scope() as session:
        live = live_by_sweep(session, [sweep_id]).get(sweep_id, set())
        rows = session.execute(
            select(RunRow.id, RunRow.trial_number, RunRow.worker).where(
                RunRow.sweep_id == sweep_id, RunRow.status == "running"
            )
        ).all()
    return [(run_id, number) for run_id, number, worker in rows if worker not in live]


def register_worker(db: Database, sweep_id: int, process: Supervised) -> tuple[int, int]:
    """The worker's row (made by whichever of launcher and worker comes first) and its
    ordinal among the sweep's workers ever, which seeds its sampler apart from the others.
    An unfinished row of a dead process that had the same pid is not this worker's."""
    with db.session_scope() as session:
        lock_sweep(session, sweep_id)
        candidates = session.scalars(
            select(SweepWorkerRow).where(
                SweepWorkerRow.sweep_id == sweep_id,
                SweepWorkerRow.host == process.host,
                SweepWorkerRow.pid == process.pid,
                SweepWorkerRow.finished_at.is_(None),
            )
        ).all()
        row = next(
            (r for r in candidates if same_start(r.process_started_at, process.started_at)), None
        )
        if row is None:
            row = _add_worker(session, sweep_id, process)
        ordinal = session.scalar(
            select(func.count())
            .select_from(SweepWorkerRow)
            .where(SweepWorkerRow.sweep_id == sweep_id, SweepWorkerRow.id < row.id)
        )
        return row.id, int(ordinal or 0)


def _add_worker(session: Session, sweep_id: int, process: Supervised) -> SweepWorkerRow:
    now = utcnow()
    row = SweepWorkerRow(
        sweep_id=sweep_id,
        host=process.host,
        pid=process.pid,
        process_started_at=process.started_at,
        started_at=now,
        heartbeat_at=now,
    )
    session.add(row)
    session.flush()
    return row


class Launch:
    """A won launch: each worker started is registered in the launch's transaction, so it
    counts as live (and a second launch is refused) from the moment the launch commits."""

    def __init__(self, session: Session, sweep_id: int) -> None:
        self._session, self._sweep_id = session, sweep_id

    def register(self, process: Supervised) -> None:
        _add_worker(self._session, self._sweep_id, process)


@contextmanager
def launch(db: Database, sweep_id: int) -> Iterator[Launch]:
    """Claim the sweep for a launch, or refuse: finished, or already running with live
    workers. The claim is one conditional update, and the sweep's row stays taken while
    the caller starts and registers its workers, so of two clients launching at once
    exactly one launches; if the caller fails, nothing of the launch is recorded."""
    now = utcnow()
    with db.session_scope() as session:
        moved = transition(
            session,
            sweep_id,
            LAUNCHABLE,
            status="running",
            started_at=func.coalesce(SweepRow.started_at, now),
            heartbeat_at=now,
            finished_at=None,
            error=None,
        )
        if not moved:
            status = stored_status(session, sweep_id)
            raise WorkbenchError(f"sweep {sweep_id} is {status}: every trial is done")
        live = live_by_sweep(session, [sweep_id]).get(sweep_id)
        if live:
            raise WorkbenchError(f"sweep {sweep_id} is already running ({len(live)} live workers)")
        yield Launch(session, sweep_id)


def beat(db: Database, worker_id: int, sweep_id: int) -> None:
    now = utcnow()
    with db.session_scope() as session:
        session.execute(
            update(SweepWorkerRow).where(SweepWorkerRow.id == worker_id).values(heartbeat_at=now)
        )
        session.execute(update(SweepRow).where(SweepRow.id == sweep_id).values(heartbeat_at=now))


def finish_worker(db: Database, worker_id: int) -> None:
    with db.session_scope() as session:
        session.execute(
            update(SweepWorkerRow)
            .where(SweepWorkerRow.id == worker_id)
            .values(finished_at=utcnow())
        )


def end_worker(db: Database, worker_id: int, sweep_id: int, timed_out: bool) -> str | None:
    """A worker is done with trials. The last live one, once the budget is really spent (or
    a stop was asked), moves the sweep to 'finalizing' and stays registered while it refits;
    it gets the final status to set ('finished' or 'stopped'). Anyone else gets None and is
    finished: a sweep left with its budget unspent and no worker reads as stalled."""
    with db.session_scope() as session:
        lock_sweep(session, sweep_id)
        status, budget = session.execute(
            select(SweepRow.status, SweepRow.trials_requested).where(SweepRow.id == sweep_id)
        ).one()
        others = live_by_sweep(session, [sweep_id], exclude=worker_id).get(sweep_id)
        final = None
        if not others and status == "stopping":
            final = "stopped"
        elif not others and status == "running":
            counts = dict(
                session.execute(
                    select(RunRow.status, func.count())
                    .where(RunRow.sweep_id == sweep_id)
                    .group_by(RunRow.status)
                ).all()
            )
            finished = sum(counts.get(s, 0) for s in FINISHED_RUNS)
            spent = timed_out or (budget is not None and finished >= budget)
            final = "finished" if spent and not counts.get("running") else None
        if final is not None:
            session.execute(
                update(SweepRow).where(SweepRow.id == sweep_id).values(status="finalizing")
            )
        else:
            session.execute(
                update(SweepWorkerRow)
                .where(SweepWorkerRow.id == worker_id)
                .values(finished_at=utcnow())
            )
        return final


def finish_sweep(
    db: Database, worker_id: int, sweep_id: int, status: str, error: str | None = None
) -> None:
    """The worker's last word: the final status (from 'finalizing', which only the last
    worker reaches; 'failed' from any active state), and its own end, together."""
    now = utcnow()
    with db.session_scope() as session:
        transition(
            session,
            sweep_id,
            ACTIVE if status == "failed" else ("finalizing",),
            status=status,
            finished_at=now,
            error=error,
        )
        session.execute(
            update(SweepWorkerRow).where(SweepWorkerRow.id == worker_id).values(finished_at=now)
        )


def request_stop(db: Database, sweep_id: int) -> tuple[str, int]:
    """Ask a sweep to stop: 'stopping' while it has live workers (their running trials
    finish; no new trial can be claimed after this commits), else 'stopped' at once; a
    sweep already finished, stopped, failed or keeping its top models is refused, however
    it got there since the caller last looked. Returns the new status and how many trials
    are still running."""
    with db.session_scope() as session:
        moved = transition(session, sweep_id, STOPPABLE, status="stopping")
        if not moved and transition(session, sweep_id, ("finalizing",), status="stopping"):
            moved = not live_by_sweep(session, [sweep_id]).get(sweep_id)  # its refit died
            if not moved:
                raise WorkbenchError(f"sweep {sweep_id} is already finalizing")
        if not moved:
            raise WorkbenchError(f"sweep {sweep_id} is already {stored_status(session, sweep_id)}")
        live = live_by_sweep(session, [sweep_id]).get(sweep_id, set())
        workers = session.scalars(
            select(RunRow.worker).where(RunRow.sweep_id == sweep_id, RunRow.status == "running")
        ).all()
        running = sum(1 for w in workers if w in live)
        if live:
            return "stopping", running
        session.execute(
            update(SweepRow)
            .where(SweepRow.id == sweep_id)
            .values(status="stopped", finished_at=utcnow())
        )
        return "stopped", running
