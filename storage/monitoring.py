"""Drift snapshots, alert rules and alerts, retraining policies and jobs: their records.

Deployments are named as everywhere else; an unknown one is a NotFoundError in one line.
What two clients can race is one conditional UPDATE that says whether it moved: a rule
going into its firing state (so two evaluators of one window raise one alert), a job
finishing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.database import Database
from storage.errors import NotFoundError
from storage.models_monitoring import (
    AlertRow,
    AlertRuleRow,
    DriftSnapshotRow,
    RetrainJobRow,
    RetrainPolicyRow,
)
from storage.models_serving import DeploymentRow
from storage.records import (
    AlertRecord,
    AlertRuleRecord,
    ColumnDriftResult,
    DriftSnapshotRecord,
    RetrainJobRecord,
    RetrainPolicyRecord,
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive(moment: datetime) -> datetime:
    """UTC without tzinfo, as every timestamp is stored."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def deployment_id(session: Session, name: str) -> int:
    found = session.scalar(select(DeploymentRow.id).where(DeploymentRow.name == name))
    if found is None:
        raise NotFoundError(f"no deployment named {name!r} (see `workbench deploy ls`)")
    return int(found)


def _names(session: Session) -> dict[int, str]:
    return {i: n for i, n in session.execute(select(DeploymentRow.id, DeploymentRow.name))}


# --- drift snapshots ---------------------------------------------------------------------


def add_snapshot(db: Database, deployment: str, window_end: datetime, **fields: Any) -> None:
    """One window's verdicts: rows, drift_share, dataset_drifted, columns (a list of
    {column, method, score, threshold, drifted}), prediction_drift, real_metrics,
    estimated_metrics, error_rate, unseen_columns."""
    with db.session_scope() as session:
        session.add(
            DriftSnapshotRow(
                deployment_id=deployment_id(session, deployment),
                window_end=_naive(window_end),
                created_at=utcnow(),
                **fields,
            )
        )


def list_snapshots(
    db: Database,
    deployment: str,
    limit: int = 50,
    before: datetime | None = None,
    recorded_after: datetime | None = None,
) -> list[DriftSnapshotRecord]:
    """The newest `limit` snapshots ending before `before` (all when None), newest first:
    pass the oldest one's window_end as `before` to scroll further back. `recorded_after`
    keeps only those stored after that moment (UTC), whatever their windows say."""
    with db.session_scope() as session:
        query = select(DriftSnapshotRow).where(
            DriftSnapshotRow.deployment_id == deployment_id(session, deployment)
        )
        if before is not None:
            query = query.where(DriftSnapshotRow.window_end < _naive(before))
        if recorded_after is not None:
            query = query.where(DriftSnapshotRow.created_at > _naive(recorded_after))
        query = query.order_by(DriftSnapshotRow.window_end.desc(), DriftSnapshotRow.id.desc())
        rows = session.scalars(query.limit(max(0, limit))).all()
        return [_snapshot(row, deployment) for row in rows]


def _snapshot(row: DriftSnapshotRow, deployment: str) -> DriftSnapshotRecord:
    return DriftSnapshotRecord(
        deployment=deployment,
        window_end=row.window_end,
        rows=row.rows,
        drift_share=row.drift_share,
        dataset_drifted=row.dataset_drifted,
        columns=tuple(
            ColumnDriftResult(
                str(c["column"]),
                str(c["method"]),
                None if c.get("score") is None else float(c["score"]),
                float(c["threshold"]),
                bool(c["drifted"]),
            )
            for c in row.columns
        ),
        prediction_drift=row.prediction_drift,
        real_metrics={k: float(v) for k, v in row.real_metrics.items()},
        estimated_metrics={k: float(v) for k, v in row.estimated_metrics.items()},
        error_rate=row.error_rate,
        unseen_columns=tuple(row.unseen_columns),
    )


# --- alert rules and alerts --------------------------------------------------------------


def add_rule(db: Database, deployment: str, kind: str, **fields: Any) -> AlertRuleRecord:
    with db.session_scope() as session:
        row = AlertRuleRow(
            deployment_id=deployment_id(session, deployment),
            kind=kind,
            enabled=True,
            firing=False,
            created_at=utcnow(),
            **fields,
        )
        session.add(row)
        session.flush()
        return _rule(row, deployment)


def list_rules(db: Database, deployment: str | None = None) -> list[AlertRuleRecord]:
    with db.session_scope() as session:
        query = select(AlertRuleRow).order_by(AlertRuleRow.id)
        if deployment is not None:
            query = query.where(AlertRuleRow.deployment_id == deployment_id(session, deployment))
        names = _names(session)
        return [_rule(row, names[row.deployment_id]) for row in session.scalars(query)]


def get_rule(db: Database, rule_id: int) -> AlertRuleRecord:
    with db.session_scope() as session:
        row = session.get(AlertRuleRow, rule_id)
        if row is None:
            raise NotFoundError(f"no alert rule {rule_id} (see `workbench alerts rule ls`)")
        return _rule(row, _names(session)[row.deployment_id])


def remove_rule(db: Database, rule_id: int) -> AlertRuleRecord:
    """Remove a rule; the alerts it raised stay (their rule becomes None)."""
    rule = get_rule(db, rule_id)
    with db.session_scope() as session:
        row = session.get(AlertRuleRow, rule_id)
        if row is not None:
            session.delete(row)
    return rule


def set_rule_enabled(db: Database, rule_id: int, enabled: bool) -> AlertRuleRecord:
    """Enable or disable a rule; either way it starts clear, so a rule enabled while its
    condition holds raises on the next window."""
    get_rule(db, rule_id)
    with db.session_scope() as session:
        session.execute(
            update(AlertRuleRow)
            .where(AlertRuleRow.id == rule_id)
            .values(enabled=enabled, firing=False)
        )
    return get_rule(db, rule_id)


def move_firing(db: Database, rule_id: int, firing: bool) -> bool:
    """Set the rule's firing state if it is not already so; True when this call moved it
    (of two evaluators racing on one transition, exactly one gets True)."""
    with db.session_scope() as session:
        result = session.execute(
            update(AlertRuleRow)
            .where(AlertRuleRow.id == rule_id, AlertRuleRow.firing.is_(not firing))
            .values(firing=firing)
        )
        return bool(getattr(result, "rowcount", 0))


def _rule(row: AlertRuleRow, deployment: str) -> AlertRuleRecord:
    return AlertRuleRecord(
        id=row.id,
        deployment=deployment,
        kind=row.kind,
        column=row.column,
        metric=row.metric,
        bound=row.bound,
        source=row.source,
        command=row.command,
        enabled=row.enabled,
        firing=row.firing,
    )


def add_alert(db: Database, rule: AlertRuleRecord, window_end: datetime, **fields: Any) -> int:
    """An alert raised by `rule` (fields: message, value, command_status)."""
    with db.session_scope() as session:
        row = AlertRow(
            rule_id=rule.id,
            deployment_id=deployment_id(session, rule.deployment),
            kind=rule.kind,
            raised_at=utcnow(),
            window_end=_naive(window_end),
            **fields,
        )
        session.add(row)
        session.flush()
        return int(row.id)


def update_alert(db: Database, alert_id: int, **fields: Any) -> None:
    with db.session_scope() as session:
        session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**fields))


def list_alerts(db: Database, deployment: str | None = None, limit: int = 200) -> list[AlertRecord]:
    """The newest alerts first."""
    with db.session_scope() as session:
        query = select(AlertRow).order_by(AlertRow.raised_at.desc(), AlertRow.id.desc())
        if deployment is not None:
            query = query.where(AlertRow.deployment_id == deployment_id(session, deployment))
        names = _names(session)
        return [
            _alert(row, names[row.deployment_id]) for row in session.scalars(query.limit(limit))
        ]


def get_alert(db: Database, alert_id: int) -> AlertRecord:
    with db.session_scope() as session:
        row = session.get(AlertRow, alert_id)
        if row is None:
            raise NotFoundError(f"no alert {alert_id}")
        return _alert(row, _names(session)[row.deployment_id])


def _alert(row: AlertRow, deployment: str) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        rule_id=row.rule_id,
        deployment=deployment,
        kind=row.kind,
        raised_at=row.raised_at,
        window_end=row.window_end,
        message=row.message,
        value=row.value,
        command_status=row.command_status,
        command_exit=row.command_exit,
        command_output=row.command_output,
    )


# --- retraining policies and jobs --------------------------------------------------------


def set_policy(db: Database, deployment: str, **fields: Any) -> RetrainPolicyRecord:
    """Create or replace the deployment's policy (trigger, windows, metric, bound, source,
    margin, append_labels, trials, canary, canary_share)."""
    with db.session_scope() as session:
        found = deployment_id(session, deployment)
        row = session.scalar(
            select(RetrainPolicyRow).where(RetrainPolicyRow.deployment_id == found)
        )
        if row is None:
            row = RetrainPolicyRow(deployment_id=found, updated_at=utcnow(), **fields)
            session.add(row)
        else:
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        session.flush()
        return _policy(row, deployment)


def get_policy(db: Database, deployment: str) -> RetrainPolicyRecord | None:
    with db.session_scope() as session:
        found = deployment_id(session, deployment)
        row = session.scalar(
            select(RetrainPolicyRow).where(RetrainPolicyRow.deployment_id == found)
        )
        return None if row is None else _policy(row, deployment)


def _policy(row: RetrainPolicyRow, deployment: str) -> RetrainPolicyRecord:
    return RetrainPolicyRecord(
        deployment=deployment,
        trigger=row.trigger,
        windows=row.windows,
        metric=row.metric,
        bound=row.bound,
        source=row.source,
        margin=row.margin,
        append_labels=row.append_labels,
        trials=row.trials,
        canary=row.canary,
        canary_share=row.canary_share,
    )


def add_job(db: Database, deployment: str, **fields: Any) -> int:
    """A job in state `running` (fields: reason, options, champion_ref, log_path)."""
    with db.session_scope() as session:
        row = RetrainJobRow(
            deployment_id=deployment_id(session, deployment),
            status="running",
            steps=[],
            created_at=utcnow(),
            **fields,
        )
        session.add(row)
        session.flush()
        return int(row.id)


def update_job(db: Database, job_id: int, **fields: Any) -> None:
    with db.session_scope() as session:
        session.execute(update(RetrainJobRow).where(RetrainJobRow.id == job_id).values(**fields))


def finish_job(db: Database, job_id: int, status: str, **fields: Any) -> bool:
    """running -> registered | kept | failed, once; False when it had already finished."""
    with db.session_scope() as session:
        result = session.execute(
            update(RetrainJobRow)
            .where(RetrainJobRow.id == job_id, RetrainJobRow.status == "running")
            .values(status=status, finished_at=utcnow(), **fields)
        )
        return bool(getattr(result, "rowcount", 0))


def get_job(db: Database, job_id: int) -> RetrainJobRecord:
    jobs = _jobs(db, RetrainJobRow.id == job_id)
    if not jobs:
        raise NotFoundError(f"no retraining job {job_id} (see `workbench retrain ls`)")
    return jobs[0]


def list_jobs(db: Database, deployment: str | None = None) -> list[RetrainJobRecord]:
    if deployment is None:
        return _jobs(db)
    with db.session_scope() as session:
        found = deployment_id(session, deployment)
    return _jobs(db, RetrainJobRow.deployment_id == found)


def _jobs(db: Database, *where: Any) -> list[RetrainJobRecord]:
    with db.session_scope() as session:
        names = _names(session)
        query = select(RetrainJobRow).where(*where).order_by(RetrainJobRow.id.desc())
        return [_job(row, names[row.deployment_id]) for row in session.scalars(query)]


def _job(row: RetrainJobRow, deployment: str) -> RetrainJobRecord:
    return RetrainJobRecord(
        id=row.id,
        deployment=deployment,
        reason=row.reason,
        status=row.status,
        options=dict(row.options),
        steps=tuple(dict(step) for step in row.steps),
        log_path=row.log_path,
        champion_ref=row.champion_ref,
        challenger_version_id=row.challenger_version_id,
        challenger_ref=row.challenger_ref,
        champion_score=row.champion_score,
        challenger_score=row.challenger_score,
        dataset_ref=row.dataset_ref,
        error=row.error,
        pid=row.pid,
        process_started_at=row.process_started_at,
        host=row.host,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
