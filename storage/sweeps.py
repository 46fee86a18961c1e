"""Sweep and run repository: ids and plain values in, frozen records out.

Metric points are written with one executemany per run, inside the same transaction as
the run's final state, so a run is either fully recorded or not at all."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storage.database import Database, one_line
from storage.datasets import utcnow
from storage.errors import NotFoundError, StorageError
from storage.models_sweeps import MetricPointRow, RunRow, SweepRow
from storage.records import RunRecord, RunStatus, RunSummary, SweepRecord, SweepStatus
from storage.sweep_progress import best_runs
from storage.sweep_workers import derived_status, live_by_sweep, lock_sweep, transition

RUN_SORT_COLUMNS = {
    "id": RunRow.id,
    "trial": RunRow.trial_number,
    "value": RunRow.value,
    "status": RunRow.status,
    "duration": RunRow.duration_s,
    "started": RunRow.started_at,
    "sweep": RunRow.sweep_id,
}


def create_sweep(db: Database, **fields: Any) -> SweepRecord:
    with db.session_scope() as session:
        row = SweepRow(created_at=utcnow(), status="created", **fields)
        session.add(row)
        session.flush()
        sweep_id = row.id
    return get_sweep(db, sweep_id)


def get_sweep(db: Database, sweep_id: int) -> SweepRecord:
    records = _sweep_records(db, [sweep_id])
    if not records:
        raise NotFoundError(f"no sweep with id {sweep_id}")
    return records[0]


def list_sweeps(db: Database) -> list[SweepRecord]:
    return _sweep_records(db, None)


def get_sweeps(db: Database, sweep_ids: Sequence[int]) -> list[SweepRecord]:
    """These sweeps (unknown ids left out), newest first, in the same few queries as one."""
    return _sweep_records(db, list(sweep_ids))


def set_sweep_state(db: Database, sweep_id: int, status: str, **fields: Any) -> None:
    """Change status (and started_at/finished_at/error/...) in one statement."""
    with db.session_scope() as session:
        session.execute(
            update(SweepRow).where(SweepRow.id == sweep_id).values(status=status, **fields)
        )


def move_sweep(db: Database, sweep_id: int, from_states: Sequence[str], **fields: Any) -> bool:
    """Change the sweep only if its stored status is one of `from_states` (one conditional
    update); False when it was not."""
    with db.session_scope() as session:
        return transition(session, sweep_id, from_states, **fields)


def sweep_status(db: Database, sweep_id: int) -> str:
    with db.session_scope() as session:
        status = session.scalar(select(SweepRow.status).where(SweepRow.id == sweep_id))
    if status is None:
        raise NotFoundError(f"no sweep with id {sweep_id}")
    return status


# --- runs --------------------------------------------------------------------------------


def start_run(
    db: Database,
    *,
    sweep_id: int,
    trial_number: int,
    params: dict[str, Any],
    seed: int,
    dataset_sha: str,
    environment: dict[str, Any],
    worker: str,
) -> int:
    with db.session_scope() as session:
        return _add_run(
            session,
            sweep_id=sweep_id,
            trial_number=trial_number,
            params=params,
            seed=seed,
            dataset_sha=dataset_sha,
            environment=environment,
            worker=worker,
        )


def _add_run(session: Session, **fields: Any) -> int:
    row = RunRow(status="running", fold_scores=[], metrics={}, started_at=utcnow(), **fields)
    session.add(row)
    session.flush()
    return row.id


class TrialSlot:
    """A claimed place in a sweep's budget: the run it starts is recorded in the same
    transaction as the claim, which ends (releasing the sweep) as soon as it is recorded."""

    def __init__(self, db: Database, session: Session) -> None:
        self._db, self._session = db, session

    def start_run(self, **fields: Any) -> int:
        try:
            run_id = _add_run(self._session, **fields)
            self._session.commit()
        except SQLAlchemyError as exc:  # e.g. a full disk: the claim is given back
            self._session.rollback()
            raise StorageError(f"{self._db.url}: {one_line(exc)}") from exc
        return run_id


@contextmanager
def claim_trial(db: Database, sweep_id: int) -> Iterator[TrialSlot | None]:
    """A slot for one more trial, or None when the sweep is no longer running or every
    trial of its budget is taken (running ones included, so N workers run exactly N).
    Workers claim one at a time; hold the slot only while the trial is asked and started."""
    with db.session_scope() as session:
        lock_sweep(session, sweep_id)
        status, budget = session.execute(
            select(SweepRow.status, SweepRow.trials_requested).where(SweepRow.id == sweep_id)
        ).one()
        taken = session.scalar(
            select(func.count()).select_from(RunRow).where(RunRow.sweep_id == sweep_id)
        )
        if status != "running" or (budget is not None and int(taken or 0) >= budget):
            yield None
        else:
            yield TrialSlot(db, session)


def finish_run(
    db: Database,
    run_id: int,
    *,
    status: str,
    value: float | None = None,
    value_std: float | None = None,
    fold_scores: Sequence[float] = (),
    metrics: dict[str, float] | None = None,
    error: str | None = None,
    points: Iterable[tuple[str, int, float]] = (),
    params: dict[str, Any] | None = None,
    predictions_sha: str | None = None,
) -> None:
    """The run's final state and all its metric points, in one transaction;
    `predictions_sha` names its held-out predictions in the artifact store."""
    now = utcnow()
    with db.session_scope() as session:
        started = session.scalar(select(RunRow.started_at).where(RunRow.id == run_id))
        if started is None:
            raise NotFoundError(f"no run with id {run_id}")
        values: dict[str, Any] = {
            "status": status,
            "value": value,
            "value_std": value_std,
            "fold_scores": list(fold_scores),
            "metrics": metrics or {},
            "error": error,
            "finished_at": now,
            "duration_s": (now - started).total_seconds(),
            "predictions_sha": predictions_sha,
        }
        if params is not None:
            values["params"] = params
        session.execute(update(RunRow).where(RunRow.id == run_id).values(**values))
        batch = [{"run_id": run_id, "key": k, "step": s, "value": v} for k, s, v in points]
        if batch:
            session.execute(insert(MetricPointRow), batch)


def log_points(db: Database, points: Iterable[tuple[int, str, int, float]]) -> int:
    """Bulk-write (run_id, key, step, value) points; returns how many."""
    batch = [{"run_id": r, "key": k, "step": s, "value": v} for r, k, s, v in points]
    if batch:
        with db.session_scope() as session:
            session.execute(insert(MetricPointRow), batch)
    return len(batch)


def set_run_artifact(
    db: Database, run_id: int, artifact_sha: str | None, manifest_sha: str | None = None
) -> None:
    """The run's kept model: its bytes and its bundle manifest, recorded together."""
    with db.session_scope() as session:
        session.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(artifact_sha=artifact_sha, manifest_sha=manifest_sha)
        )


def clear_run_artifacts(db: Database, sweep_id: int, keep: Sequence[int]) -> None:
    """Forget the kept model of every run of the sweep but `keep` (the artifact store is
    content-addressed and shared, so the files themselves stay)."""
    with db.session_scope() as session:
        session.execute(
            update(RunRow)
            .where(
                RunRow.sweep_id == sweep_id,
                RunRow.artifact_sha.is_not(None),
                RunRow.id.not_in(list(keep)),
            )
            .values(artifact_sha=None, manifest_sha=None)
        )


def fail_runs(db: Database, run_ids: Sequence[int], error: str) -> None:
    if not run_ids:
        return
    with db.session_scope() as session:
        session.execute(
            update(RunRow)
            .where(RunRow.id.in_(run_ids), RunRow.status == "running")
            .values(status="failed", error=error, finished_at=utcnow())
        )


def get_run(db: Database, run_id: int) -> RunRecord:
    with db.session_scope() as session:
        row = session.get(RunRow, run_id)
        if row is None:
            raise NotFoundError(f"no run with id {run_id}")
        return _run_record(row)


def get_runs(db: Database, run_ids: Sequence[int]) -> list[RunRecord]:
    """Several runs in one query, in the order asked; the first unknown id is an error."""
    with db.session_scope() as session:
        rows = session.scalars(select(RunRow).where(RunRow.id.in_(list(run_ids)))).all()
        found = {row.id: _run_record(row) for row in rows}
    missing = next((i for i in run_ids if i not in found), None)
    if missing is not None:
        raise NotFoundError(f"no run with id {missing}")
    return [found[i] for i in run_ids]


def find_run(db: Database, sweep_id: int, trial_number: int) -> RunRecord | None:
    with db.session_scope() as session:
        row = session.scalar(
            select(RunRow).where(RunRow.sweep_id == sweep_id, RunRow.trial_number == trial_number)
        )
        return _run_record(row) if row else None


def list_runs(
    db: Database,
    *,
    sweep_id: int | None = None,
    status: str | None = None,
    order_by: str = "id",
    descending: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[RunRecord]:
    column = RUN_SORT_COLUMNS.get(order_by)
    if column is None:
        raise NotFoundError(f"cannot sort runs by {order_by!r} (use {', '.join(RUN_SORT_COLUMNS)})")
    query = select(RunRow)
    if sweep_id is not None:
        query = query.where(RunRow.sweep_id == sweep_id)
    if status is not None:
        query = query.where(RunRow.status == status)
    ordering = column.desc() if descending else column.asc()
    query = query.order_by(column.is_(None), ordering, RunRow.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with db.session_scope() as session:
        return [_run_record(r) for r in session.scalars(query)]


def count_runs(db: Database, *, sweep_id: int | None = None, status: str | None = None) -> int:
    query = select(func.count()).select_from(RunRow)
    if sweep_id is not None:
        query = query.where(RunRow.sweep_id == sweep_id)
    if status is not None:
        query = query.where(RunRow.status == status)
    with db.session_scope() as session:
        return int(session.scalar(query) or 0)


def metric_points(db: Database, run_id: int) -> dict[str, list[tuple[int, float]]]:
    with db.session_scope() as session:
        rows = session.execute(
            select(MetricPointRow.key, MetricPointRow.step, MetricPointRow.value)
            .where(MetricPointRow.run_id == run_id)
            .order_by(MetricPointRow.key, MetricPointRow.step)
        ).all()
    curves: dict[str, list[tuple[int, float]]] = {}
    for key, step, value in rows:
        curves.setdefault(key, []).append((step, value))
    return curves


# --- records -------------------------------------------------------------------------------


def _sweep_records(db: Database, ids: list[int] | None) -> list[SweepRecord]:
    """Sweeps with run counts by status and their best run, in a few indexed queries.
    Status and counts are what is true now: running trials whose worker is gone count as
    'stale', and an active sweep without a live worker is 'stalled'."""
    with db.session_scope() as session:
        query = select(SweepRow).order_by(SweepRow.id.desc())
        if ids is not None:
            query = query.where(SweepRow.id.in_(ids))
        sweeps = list(session.scalars(query))
        if not sweeps:
            return []
        wanted = [s.id for s in sweeps]
        counts: dict[int, dict[str, int]] = {}
        for sweep_id, status, count in session.execute(
            select(RunRow.sweep_id, RunRow.status, func.count())
            .where(RunRow.sweep_id.in_(wanted))
            .group_by(RunRow.sweep_id, RunRow.status)
        ):
            counts.setdefault(sweep_id, {})[status] = count
        live = live_by_sweep(session, wanted)
        for sweep_id, worker in session.execute(
            select(RunRow.sweep_id, RunRow.worker).where(
                RunRow.sweep_id.in_(wanted), RunRow.status == "running"
            )
        ):
            if worker not in live.get(sweep_id, ()):
                by_status = counts[sweep_id]
                by_status["running"] -= 1
                by_status["stale"] = by_status.get("stale", 0) + 1
                if not by_status["running"]:
                    del by_status["running"]
        best = best_runs(session, [s for s in wanted if counts.get(s, {}).get("complete")])
        return [
            _sweep_record(s, counts.get(s.id, {}), best.get(s.id), bool(live.get(s.id)))
            for s in sweeps
        ]


def _sweep_record(
    row: SweepRow,
    counts: dict[str, int],
    best: tuple[int, float, dict[str, Any]] | None,
    live: bool,
) -> SweepRecord:
    return SweepRecord(
        id=row.id,
        name=row.name,
        dataset_ref=row.dataset_ref,
        dataset_sha=row.dataset_sha,
        target=row.target,
        task=row.task,
        model=row.model,
        metric=row.metric,
        direction=row.direction,
        spec=dict(row.spec),
        study_name=row.study_name,
        optuna_storage=row.optuna_storage,
        status=derived_status(cast(SweepStatus, row.status), row.heartbeat_at, live),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        error=row.error,
        trials_requested=row.trials_requested,
        counts=dict(counts),
        best_value=best[1] if best else None,
        best_run_id=best[0] if best else None,
        best_params=dict(best[2]) if best else {},
    )


def _run_record(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        sweep_id=row.sweep_id,
        trial_number=row.trial_number,
        status=cast(RunStatus, row.status),
        params=dict(row.params),
        value=row.value,
        value_std=row.value_std,
        fold_scores=list(row.fold_scores),
        metrics=dict(row.metrics),
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_s=row.duration_s,
        seed=row.seed,
        dataset_sha=row.dataset_sha,
        environment=dict(row.environment),
        error=row.error,
        artifact_sha=row.artifact_sha,
        worker=row.worker,
        predictions_sha=row.predictions_sha,
        manifest_sha=row.manifest_sha,
    )


def run_summaries(
    db: Database, *, sweep_id: int | None = None, limit: int | None = None
) -> list[RunSummary]:
    """Runs for tables, in id order: plain columns, no environment or fold lists, no ORM
    objects (10,000 runs load several times faster than through list_runs); the first
    ``limit`` of them walk the primary key and read nothing more."""
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
    ).order_by(RunRow.id)
    if sweep_id is not None:
        query = query.where(RunRow.sweep_id == sweep_id)
    if limit is not None:
        query = query.limit(limit)
    with db.session_scope() as session:
        return [RunSummary(*row) for row in session.execute(query)]
