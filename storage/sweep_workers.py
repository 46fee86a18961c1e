"""Sweep workers: who is alive, and the decisions only one worker at a time may take.

A worker is live while its row is unfinished, its heartbeat is recent and, on this machine,
its process still runs: a killed worker counts as gone at once, not after the heartbeat
timeout. Every decision that must not race (claiming a trial, stopping, ending a worker
and claiming the final refit) first locks the sweep's row with an UPDATE, which is SQLite's
write lock and a PostgreSQL row lock, so these decisions happen one after the other."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.database import Database
from storage.datasets import utcnow
from storage.models_sweeps import RunRow, SweepRow, SweepWorkerRow

STALE_AFTER_S = 30.0  # a worker that has not beaten for this long is gone (5 s beats)
START_GRACE_S = 5.0  # a sweep just launched has this long to show its first live worker
ACTIVE = ("running", "stopping", "finalizing")
FINISHED_RUNS = ("complete", "pruned", "failed")


def process_alive(pid: int) -> bool:
    """A local process that still runs; a zombie (killed, not yet reaped) counts as dead."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that has exited: reap it
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def lock_sweep(session: Session, sweep_id: int) -> None:
    """Take the sweep's row for the rest of the transaction (a heartbeat is a harmless write)."""
    session.execute(update(SweepRow).where(SweepRow.id == sweep_id).values(heartbeat_at=utcnow()))


def live_by_sweep(
    session: Session, sweep_ids: Iterable[int], exclude: int | None = None
) -> dict[int, set[str]]:
    """For each sweep, the `host:pid` of its live workers (runs name their worker that way)."""
    cutoff = utcnow() - timedelta(seconds=STALE_AFTER_S)
    here = socket.gethostname()
    rows = session.execute(
        select(SweepWorkerRow.sweep_id, SweepWorkerRow.host, SweepWorkerRow.pid).where(
            SweepWorkerRow.sweep_id.in_(list(sweep_ids)),
            SweepWorkerRow.finished_at.is_(None),
            SweepWorkerRow.heartbeat_at >= cutoff,
            SweepWorkerRow.id != (exclude if exclude is not None else -1),
        )
    ).all()
    live: dict[int, set[str]] = {}
    for sweep_id, host, pid in rows:
        if host != here or process_alive(pid):
            live.setdefault(sweep_id, set()).add(f"{host}:{pid}")
    return live


def derived_status(stored: str, heartbeat_at: datetime | None, live: bool) -> str:
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


def register_worker(db: Database, sweep_id: int, host: str, pid: int) -> tuple[int, int]:
    """The worker's row (made by whichever of launcher and worker comes first) and its
    ordinal among the sweep's workers ever, which seeds its sampler apart from the others."""
    now = utcnow()
    with db.session_scope() as session:
        lock_sweep(session, sweep_id)
        row = session.scalar(
            select(SweepWorkerRow).where(
                SweepWorkerRow.sweep_id == sweep_id,
                SweepWorkerRow.host == host,
                SweepWorkerRow.pid == pid,
                SweepWorkerRow.finished_at.is_(None),
            )
        )
        if row is None:
            row = SweepWorkerRow(
                sweep_id=sweep_id, host=host, pid=pid, started_at=now, heartbeat_at=now
            )
            session.add(row)
            session.flush()
        ordinal = session.scalar(
            select(func.count())
            .select_from(SweepWorkerRow)
            .where(SweepWorkerRow.sweep_id == sweep_id, SweepWorkerRow.id < row.id)
        )
        return row.id, int(ordinal or 0)


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
    """The finalizing worker's last word: the final status, and its own end, together."""
    now = utcnow()
    with db.session_scope() as session:
        session.execute(
            update(SweepRow)
            .where(SweepRow.id == sweep_id)
            .values(status=status, finished_at=now, error=error)
        )
        session.execute(
            update(SweepWorkerRow).where(SweepWorkerRow.id == worker_id).values(finished_at=now)
        )


def request_stop(db: Database, sweep_id: int) -> tuple[str, int]:
    """Ask a sweep to stop: 'stopping' while it has live workers (their running trials
    finish; no new trial can be claimed after this commits), else 'stopped' at once.
    Returns the new status and how many trials are still running."""
    with db.session_scope() as session:
        lock_sweep(session, sweep_id)
        live = live_by_sweep(session, [sweep_id]).get(sweep_id, set())
        workers = session.scalars(
            select(RunRow.worker).where(RunRow.sweep_id == sweep_id, RunRow.status == "running")
        ).all()
        running = sum(1 for w in workers if w in live)
        status = "stopping" if live else "stopped"
        values: dict[str, object] = {"status": status}
        if not live:
            values["finished_at"] = utcnow()
        session.execute(update(SweepRow).where(SweepRow.id == sweep_id).values(**values))
        return status, running
