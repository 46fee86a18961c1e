"""What a live view of sweeps asks every second, in a fixed number of queries whatever the
number of sweeps: each sweep's status, counts, best value and heartbeat, its live workers
and recent trial time, and only the runs that are new or changed since the last poll
(runs after the last id seen, and runs that were still running) — as summaries, never the
environment JSON or fold lists that a run's own screen reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from storage.database import Database
from storage.models_sweeps import RunRow, SweepRow
from storage.records import ACTIVE_SWEEP_STATES, RunSummary, SweepRecord
from storage.sweep_workers import live_by_sweep

TIMING_SAMPLE = 50  # recent runs whose mean duration estimates the rest (as runs/tables.py)


@dataclass(frozen=True)
class RunCursor:
    """What the last poll of one sweep's runs saw: the highest run id, and the runs that were
    still running then (they change, though their ids are old)."""

    after_id: int = 0
    running: frozenset[int] = frozenset()

    def advance(self, runs: Sequence[RunSummary]) -> RunCursor:
        """The cursor after these new or changed runs were seen."""
        after = max([self.after_id, *(r.id for r in runs)])
        return RunCursor(after, frozenset(r.id for r in runs if r.status == "running"))


@dataclass(frozen=True)
class SweepProgress:
    """One sweep as it is now, with the runs that are new or changed since its cursor."""

    sweep: SweepRecord
    live_workers: int
    mean_trial_s: float | None  # over the latest TIMING_SAMPLE finished runs
    runs: list[RunSummary] = field(default_factory=list)  # in id order; [] without a cursor
    cursor: RunCursor | None = None  # the next poll's cursor, when runs were asked


def sweep_progress(
    db: Database, records: Sequence[SweepRecord], cursors: Mapping[int, RunCursor]
) -> list[SweepProgress]:
    """The progress of these sweeps (as just read, `storage.sweeps.get_sweeps`) and, for those
    with a cursor, the runs after it: three queries, however many sweeps are asked."""
    ids = {r.id for r in records}
    active = [r.id for r in records if r.status in ACTIVE_SWEEP_STATES]
    wanted = {i: c for i, c in cursors.items() if i in ids}
    with db.session_scope() as session:
        live = live_by_sweep(session, active) if active else {}
        timing = mean_durations(session, active)
        runs = changed_runs(session, wanted)
    return [
        SweepProgress(
            sweep=r,
            live_workers=len(live.get(r.id, ())),
            mean_trial_s=timing.get(r.id),
            runs=runs.get(r.id, []) if r.id in wanted else [],
            cursor=wanted[r.id].advance(runs.get(r.id, [])) if r.id in wanted else None,
        )
        for r in records
    ]


def changed_runs(session: Session, cursors: Mapping[int, RunCursor]) -> dict[int, list[RunSummary]]:
    """Per sweep, its runs after the cursor's id or running now or running at the last poll,
    in one query (summary columns only)."""
    if not cursors:
        return {}
    conditions = [
        and_(
            RunRow.sweep_id == sweep_id,
            or_(
                RunRow.id > cursor.after_id,
                RunRow.status == "running",
                RunRow.id.in_(sorted(cursor.running)),
            ),
        )
        for sweep_id, cursor in cursors.items()
    ]
    query = select(
        RunRow.id,
        RunRow.sweep_id,
        RunRow.trial_number,
        RunRow.status,
        RunRow.value,
        RunRow.value_std,
        RunRow.duration_s,
        RunRow.started_at,
        RunRow.params,
        RunRow.metrics,
    ).where(or_(*conditions))
    found: dict[int, list[RunSummary]] = {}
    for row in session.execute(query.order_by(RunRow.id)):
        summary = RunSummary(*row)
        found.setdefault(summary.sweep_id, []).append(summary)
    return found


def mean_durations(session: Session, sweep_ids: Sequence[int]) -> dict[int, float]:
    """Per sweep, the mean duration of its finished runs among its latest TIMING_SAMPLE, in one
    query (a window numbers each sweep's runs newest first)."""
    if not sweep_ids:
        return {}
    newest = func.row_number().over(partition_by=RunRow.sweep_id, order_by=RunRow.id.desc())
    recent = (
        select(RunRow.sweep_id, RunRow.status, RunRow.duration_s, newest.label("newest"))
        .where(RunRow.sweep_id.in_(list(sweep_ids)))
        .subquery()
    )
    rows = session.execute(
        select(recent.c.sweep_id, func.avg(recent.c.duration_s))
        .where(
            recent.c.newest <= TIMING_SAMPLE,
            recent.c.status != "running",
            recent.c.duration_s.is_not(None),
        )
        .group_by(recent.c.sweep_id)
    )
    return {sweep_id: float(mean) for sweep_id, mean in rows if mean is not None}


def best_runs(session: Session, sweep_ids: list[int]) -> dict[int, tuple[int, float, Any]]:
    """(run id, value, params) of each sweep's best complete run, ties to the lowest id, in
    one query for all sweeps (a window ranks each sweep's runs in its own direction)."""
    if not sweep_ids:
        return {}
    signed = case((SweepRow.direction == "maximize", -RunRow.value), else_=RunRow.value)
    rank = func.row_number().over(partition_by=RunRow.sweep_id, order_by=(signed, RunRow.id))
    ranked = (
        select(RunRow.sweep_id, RunRow.id, RunRow.value, RunRow.params, rank.label("rank"))
        .join(SweepRow, SweepRow.id == RunRow.sweep_id)
        .where(
            RunRow.sweep_id.in_(sweep_ids),
            RunRow.status == "complete",
            RunRow.value.is_not(None),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.sweep_id, ranked.c.id, ranked.c.value, ranked.c.params).where(
            ranked.c.rank == 1
        )
    )
    return {sweep_id: (run_id, value, params) for sweep_id, run_id, value, params in rows}
