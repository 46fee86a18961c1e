"""Retraining policies read from stored snapshots: drift in K consecutive windows, or a
metric on the wrong side of its bound, once per episode; triggers are parsed strictly."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pipelines.alerts.evaluate import record_snapshot
from pipelines.alerts.rules import WindowSummary
from pipelines.retrain.jobs import start_retrain
from pipelines.retrain.policy import parse_trigger, set_policy, should_retrain
from storage import deployments
from storage import monitoring as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from tests.test_storage_contract_registry import register, sweep_with_runs

START = datetime(2026, 3, 1, 9, 0)


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    dataset_version_id, run_ids = sweep_with_runs(workspace.db, runs=1)
    version = register(workspace.db, "churn", run_ids[0], dataset_version_id)
    deployments.add_deployment(
        workspace.db, "churn", kind="local", model_version_id=version.id, port=1, url="u"
    )
    return workspace


def window(ws: Workspace, minute: int, drifted: bool, **metrics: float) -> None:
    summary = WindowSummary(
        deployment="churn",
        window_end=START + timedelta(minutes=minute),
        rows=300,
        dataset_drifted=drifted,
        drift_share=0.7 if drifted else 0.0,
        estimated_metrics=dict(metrics),
    )
    record_snapshot(ws, summary)


def test_drift_in_k_consecutive_windows_asks_once_per_episode(ws: Workspace) -> None:
    set_policy(ws, "churn", "drift:3")
    for minute, drifted in enumerate([True, True, False, True, True]):
        window(ws, minute, drifted)
        assert should_retrain(ws, "churn") is None
    window(ws, 5, True)
    assert should_retrain(ws, "churn") == (
        "the dataset drifted in each of the last 3 windows (since 2026-03-01 09:03)"
    )
    job = repo.add_job(ws.db, "churn", reason="r", options={}, champion_ref="churn:1", log_path="")
    assert should_retrain(ws, "churn") is None  # running
    repo.finish_job(ws.db, job, "kept")
    window(ws, 6, True)
    assert should_retrain(ws, "churn") is None  # this episode was retrained for
    window(ws, 7, True)
    window(ws, 3, True)  # a window's own time does not matter, the order it came in does
    assert should_retrain(ws, "churn") == (
        "the dataset drifted in each of the last 3 windows (since 2026-03-01 09:03)"
    )


def test_performance_below_its_bound_asks_for_retraining(ws: Workspace) -> None:
    set_policy(ws, "churn", "performance:accuracy<0.8", source="estimated")
    window(ws, 0, False)
    assert should_retrain(ws, "churn") is None  # no estimate yet
    window(ws, 1, False, accuracy=0.85)
    assert should_retrain(ws, "churn") is None
    window(ws, 2, False, accuracy=0.71)
    assert should_retrain(ws, "churn") == "estimated accuracy 0.71 is below 0.8"
    set_policy(ws, "churn", "manual")
    assert should_retrain(ws, "churn") is None


def test_triggers_and_options_are_parsed_strictly(ws: Workspace) -> None:
    assert parse_trigger("performance:rmse>2.5").bound == 2.5
    cases = {
        "drift:0": "K must be a whole number from 1 to 1000",
        "drift:x": "K must be a whole number",
        "sometimes": "is not a trigger: write drift:K",
        "performance:accuracy>0.8": "accuracy is better higher, so retrain when it is below",
        "performance:rmse<2": "performance:rmse>2",
        "performance:accuracy<nan": "the bound 'nan' is not a finite number",
        "performance:speed<3": "unknown metric",
    }
    for text, message in cases.items():
        with pytest.raises(WorkbenchError, match=message):
            parse_trigger(text)
    with pytest.raises(WorkbenchError, match=r"--share must be above 0 and below 1, not 1\.5"):
        set_policy(ws, "churn", "manual", canary=True, canary_share=1.5)
    with pytest.raises(WorkbenchError, match="--source must be real or estimated"):
        set_policy(ws, "churn", "drift:2", source="guessed")


def test_a_policy_gives_the_options_a_job_does_not(ws: Workspace, tmp_path: Path) -> None:
    set_policy(ws, "churn", "drift:2", margin=0.05, trials=4)
    job = start_retrain(ws, "churn", in_process=True)  # the fake champion cannot be retrained
    assert job.options["margin"] == 0.05 and job.options["trials"] == 4
    assert job.status == "failed" and job.steps[0]["status"] == "failed"
    assert job.error == "churn:1: its lineage names no sweep to retrain from"
    with pytest.raises(WorkbenchError, match="--holdout must be a fraction"):
        start_retrain(ws, "churn", holdout=0.95, in_process=True)
