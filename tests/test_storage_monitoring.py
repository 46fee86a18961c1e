"""The monitoring records on every backend (SQLite file and memory, PostgreSQL when
WORKBENCH_TEST_POSTGRES_URL is set): snapshots scroll back newest first, a rule goes into
its firing state once however many clients race, a job finishes once, and removing a
deployment removes its whole history."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import storage.models_monitoring  # noqa: F401  (the tables _reset_postgres drops)
from storage import deployments
from storage import monitoring as repo
from storage.database import Database
from storage.errors import NotFoundError
from tests.test_storage_contract_registry import clients, db, in_threads, register, sweep_with_runs

__all__ = ["db"]  # fixture

START = datetime(2026, 1, 1, 12, 0)
COLUMNS = [
    {"column": "age", "method": "wasserstein", "score": 0.2, "threshold": 0.1, "drifted": True},
    {
        "column": "plan",
        "method": "jensenshannon",
        "score": None,
        "threshold": 0.1,
        "drifted": False,
    },
]


def deployment(database: Database, name: str = "churn") -> int:
    dataset_version_id, run_ids = sweep_with_runs(database, runs=1)
    version = register(database, "churn", run_ids[0], dataset_version_id)
    deployments.add_deployment(
        database, name, kind="local", model_version_id=version.id, port=1, url="u"
    )
    return version.id


def snapshot(database: Database, minute: int, drifted: bool = True) -> None:
    repo.add_snapshot(
        database,
        "churn",
        START + timedelta(minutes=minute),
        rows=100 + minute,
        drift_share=0.5 if drifted else 0.0,
        dataset_drifted=drifted,
        columns=COLUMNS,
        prediction_drift={"method": "psi", "score": 0.3, "threshold": 0.1, "drifted": True},
        real_metrics={"accuracy": 0.8},
        estimated_metrics={"accuracy": 0.75},
        error_rate=0.01,
        unseen_columns=["coupon"],
    )


def test_snapshots_scroll_back_newest_first_with_their_columns(db: Database) -> None:
    deployment(db)
    for minute in range(5):
        snapshot(db, minute, drifted=minute % 2 == 0)
    newest = repo.list_snapshots(db, "churn", limit=2)
    assert [s.rows for s in newest] == [104, 103]
    older = repo.list_snapshots(db, "churn", limit=10, before=newest[-1].window_end)
    assert [s.rows for s in older] == [102, 101, 100]
    first = older[-1]
    assert first.dataset_drifted and first.drift_share == 0.5 and first.error_rate == 0.01
    assert [(c.column, c.score, c.drifted) for c in first.columns] == [
        ("age", 0.2, True),
        ("plan", None, False),
    ]
    assert first.unseen_columns == ("coupon",) and first.estimated_metrics == {"accuracy": 0.75}
    with pytest.raises(NotFoundError, match="no deployment named 'nope'"):
        repo.list_snapshots(db, "nope")


def test_a_rule_fires_once_however_many_clients_race(db: Database) -> None:
    deployment(db)
    rule = repo.add_rule(db, "churn", "dataset_drift", command="echo hi")
    engines = clients(db, 4)
    moved = in_threads(4, lambda i: repo.move_firing(engines[i], rule.id, True))
    assert sorted(moved) == [False, False, False, True]
    assert repo.get_rule(db, rule.id).firing
    assert repo.move_firing(db, rule.id, False) and not repo.move_firing(db, rule.id, False)


def test_alerts_outlive_their_rule_and_a_job_finishes_once(db: Database) -> None:
    deployment(db)
    rule = repo.add_rule(db, "churn", "error_rate_above", bound=0.05)
    alert_id = repo.add_alert(db, rule, START, message="errors 9%", value=0.09)
    repo.update_alert(db, alert_id, command_status="ok", command_exit=0)
    repo.remove_rule(db, rule.id)
    (alert,) = repo.list_alerts(db, "churn")
    assert alert.rule_id is None and alert.kind == "error_rate_above" and alert.value == 0.09
    assert alert.command_status == "ok" and alert.command_exit == 0
    job = repo.add_job(
        db, "churn", reason="by hand", options={}, champion_ref="churn:1", log_path="l"
    )
    repo.update_job(db, job, steps=[{"name": "data", "status": "ok"}])
    assert repo.finish_job(db, job, "kept", champion_score=0.8)
    assert not repo.finish_job(db, job, "failed", error="late")
    record = repo.get_job(db, job)
    assert record.status == "kept" and record.steps == ({"name": "data", "status": "ok"},)


def test_removing_a_deployment_removes_its_history(db: Database) -> None:
    version_id = deployment(db)
    snapshot(db, 0)
    rule = repo.add_rule(db, "churn", "dataset_drift")
    repo.add_alert(db, rule, START, message="drift", value=0.5)
    repo.set_policy(
        db, "churn", trigger="drift", windows=3, margin=0.01, append_labels=False, canary=False
    )
    policy = repo.set_policy(
        db, "churn", trigger="manual", windows=None, margin=0.02, append_labels=True, canary=False
    )
    assert policy.trigger == "manual" and policy.margin == 0.02
    repo.add_job(db, "churn", reason="r", options={}, champion_ref="churn:1", log_path="l")
    deployments.delete_deployment(db, "churn")
    deployments.add_deployment(
        db, "churn", kind="local", model_version_id=version_id, port=1, url="u"
    )
    assert repo.list_snapshots(db, "churn") == [] and repo.list_rules(db, "churn") == []
    assert repo.list_alerts(db) == [] and repo.list_jobs(db) == []
    assert repo.get_policy(db, "churn") is None
