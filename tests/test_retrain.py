"""The retraining pipeline on real data and real training: a challenger trained on data
where the relationship moved beats the stale champion on the same holdout and is
registered; one that does not beat it by the margin is not; labelled production records
become a validated dataset version first; every step is recorded and logged."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.registry.versions import list_versions, resolve
from pipelines.retrain.jobs import start_retrain
from storage import datasets as datasets_repo
from storage import sweeps as sweeps_repo
from storage.errors import NotFoundError, WorkbenchError
from storage.handle import Workspace
from tests.retrain_helpers import add_version, champion, churn_frame

STEPS = ["champion", "data", "train", "evaluate", "register"]


def test_a_challenger_that_beats_a_stale_champion_is_registered(
    workspace: Workspace, tmp_path: Path
) -> None:
    assert champion(workspace, tmp_path) == "churn:1"
    add_version(workspace, churn_frame(400, "usage", seed=2), tmp_path, "new")
    job = start_retrain(workspace, "churn", in_process=True)
    assert job.status == "registered" and job.error is None
    assert [s["name"] for s in job.steps] == STEPS
    assert all(s["status"] == "ok" for s in job.steps)
    assert job.dataset_ref == "churn@D1" and job.challenger_ref == "churn:2"
    assert job.champion_score is not None and job.challenger_score is not None
    assert job.champion_score < 0.7 < 0.85 < job.challenger_score  # the old model guesses
    challenger = resolve(workspace, "churn:2")
    assert challenger.id == job.challenger_version_id
    assert challenger.lineage["dataset_version"] == "churn@D1"
    assert challenger.lineage["family"] == "linear" and challenger.params == {"C": 1.0}
    assert "retrained from churn:1 by retraining job" in (challenger.description or "")
    assert resolve(workspace, "churn@production").version == 1  # promoting is a choice
    log = Path(job.log_path).read_text()
    for name in STEPS:
        assert f"[{name}] ok: " in log
    assert "done: registered" in log


def test_a_challenger_that_does_not_win_by_the_margin_is_not_registered(
    workspace: Workspace, tmp_path: Path
) -> None:
    champion(workspace, tmp_path)
    add_version(workspace, churn_frame(400, "tenure", seed=3), tmp_path, "same")
    job = start_retrain(workspace, "churn", margin=0.2, in_process=True)
    assert job.status == "kept" and job.challenger_ref is None
    register = job.steps[-1]
    assert register["name"] == "register" and register["status"] == "skipped"
    assert register["detail"] == "not better by 0.2: churn:1 stays"
    assert job.champion_score is not None and job.challenger_score is not None
    assert job.challenger_score < job.champion_score + 0.2
    assert [v.version for v in list_versions(workspace, "churn")] == [1]


def test_labelled_production_records_are_appended_as_a_validated_version(
    workspace: Workspace, tmp_path: Path
) -> None:
    champion(workspace, tmp_path)
    labels = churn_frame(1250, "usage", seed=4)
    labels["request_id"] = range(len(labels))  # extra columns are left out
    labels.loc[:49, "churned"] = None  # not labelled yet
    job = start_retrain(workspace, "churn", trials=2, labels=labels, in_process=True)
    assert job.status == "registered", job.error
    data = job.steps[1]
    assert data["detail"] == (
        "appended 1200 labelled rows to churn@D0 as churn@D1, 50 without a label left out"
    )
    version = datasets_repo.get_version(workspace.db, "churn@D1")
    assert version.row_count == 1600 and version.validation.status != "fail"
    assert "request_id" not in {s.name for s in version.schema}
    sweep_id = int(job.steps[2]["detail"].split()[1].rstrip(","))
    runs = sweeps_repo.list_runs(workspace.db, sweep_id=sweep_id)
    assert len(runs) == 2 and len({r.params["C"] for r in runs}) == 2  # a short sweep over C
    assert "2-trial sweep" in Path(job.log_path).read_text()


def test_a_step_that_fails_ends_the_job_with_its_reason(
    workspace: Workspace, tmp_path: Path
) -> None:
    champion(workspace, tmp_path)
    labels = churn_frame(50, "usage", seed=5).drop(columns=["plan"])
    job = start_retrain(workspace, "churn", labels=labels, in_process=True)
    assert job.status == "failed"
    assert job.error == "the labelled production records lack columns of churn@D0: plan"
    assert [(s["name"], s["status"]) for s in job.steps] == [("champion", "ok"), ("data", "failed")]
    assert "failed: the labelled production records lack" in Path(job.log_path).read_text()
    with pytest.raises(WorkbenchError, match="--margin must be a number of at least 0"):
        start_retrain(workspace, "churn", margin=-1, in_process=True)
    with pytest.raises(WorkbenchError, match="--trials must be from 1 to 1000, not 0"):
        start_retrain(workspace, "churn", trials=0, in_process=True)
    with pytest.raises(NotFoundError, match="no deployment named 'gone'"):
        start_retrain(workspace, "gone", in_process=True)


def test_a_container_deployment_needs_an_engine_for_the_canary_image(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to the one-line refusal where no engine answers (tests never build images)."""
    from storage import deployments

    champion(workspace, tmp_path, name="scratch")
    version_id = resolve(workspace, "churn:1").id
    deployments.add_deployment(
        workspace.db, "boxed", kind="container", model_version_id=version_id, port=2, url="u"
    )
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    add_version(workspace, churn_frame(400, "usage", seed=6), tmp_path, "new")
    job = start_retrain(workspace, "boxed", canary=True, in_process=True)
    assert job.status == "failed" and job.challenger_ref == "churn:2"  # registered, not canaried
    image = job.steps[-1]
    assert image["name"] == "image" and image["status"] == "failed"
    assert "no Docker engine answers" in image["detail"] and "\n" not in image["detail"]


def test_the_two_relationships_really_differ() -> None:
    """The helper's data: labels from one driver are a coin toss for the other (else the
    tests above would prove nothing)."""
    old, new = churn_frame(400, "tenure", 1), churn_frame(400, "usage", 1)
    assert 0.35 < (old["churned"] == new["churned"]).mean() < 0.65
