"""`workbench retrain` and `workbench alerts` as a user runs them: a supervised retraining
job followed with --wait, a job whose process dies marked failed, a winner started as a
canary beside a real local deployment, and one-line errors for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines import supervisor
from pipelines.deploy import deployments
from pipelines.deploy.health import free_port
from pipelines.retrain.jobs import get_job, start_retrain, stop_job
from storage.errors import WorkbenchError
from storage.handle import Workspace
from tests.retrain_helpers import add_version, champion, churn_frame
from tests.sweep_helpers import wait_until
from workbench.cli import main


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def workbench(capsys: pytest.CaptureFixture[str]) -> Callable[..., Done]:
    """The CLI's main() in this process (the retraining worker is its own process)."""

    def call(ws: Workspace, *args: str) -> Done:
        capsys.readouterr()
        code = main(["--workspace", str(ws.root), *args])
        captured = capsys.readouterr()
        return Done(code, captured.out, captured.err)

    return call


def test_retrain_wait_follows_a_supervised_job_to_its_end(
    workspace: Workspace, tmp_path: Path, workbench: Callable[..., Done]
) -> None:
    champion(workspace, tmp_path)
    add_version(workspace, churn_frame(400, "usage", seed=2), tmp_path, "new")
    done = workbench(workspace, "retrain", "churn", "--wait")
    assert done.returncode == 0, done.stderr
    assert "[evaluate] ok: accuracy on 100 rows of churn@D1" in done.stderr
    assert "job 1: registered churn:2" in done.stderr
    (job,) = json.loads(workbench(workspace, "retrain", "ls", "--json").stdout)
    assert job["status"] == "registered" and job["pid"] is not None  # it ran in its own process
    shown = workbench(workspace, "retrain", "show", "1")
    assert shown.returncode == 0 and "register  ok       registered churn:2" in shown.stdout
    assert job["log_path"].endswith("logs/retrain-1.log")


def test_a_job_whose_process_dies_is_marked_failed(workspace: Workspace, tmp_path: Path) -> None:
    champion(workspace, tmp_path)
    job = start_retrain(workspace, "churn")
    assert job.pid is not None
    process = supervisor.Supervised(job.pid, job.process_started_at, job.host or "", job.log_path)
    assert supervisor.kill(process)
    wait_until(lambda: get_job(workspace, job.id).status == "failed", "the job marked failed", 20)
    assert "the retraining process ended without finishing" in (
        get_job(workspace, job.id).error or ""
    )


def test_a_stopped_job_ends_failed_and_says_so(workspace: Workspace, tmp_path: Path) -> None:
    champion(workspace, tmp_path)
    job = start_retrain(workspace, "churn")
    wait_until(lambda: Path(job.log_path).exists(), "the job's log", 30)
    stopped = stop_job(workspace, job.id)
    assert stopped.status == "failed" and stopped.error == "stopped before it finished"
    with pytest.raises(WorkbenchError, match=f"retraining job {job.id} is failed, not running"):
        stop_job(workspace, job.id)


def test_a_winner_starts_as_a_canary_of_a_local_deployment(
    workspace: Workspace, tmp_path: Path
) -> None:
    champion(workspace, tmp_path, name="record-only")
    deployed = deployments.deploy(workspace, "churn:1", local=True, port=free_port(), name="live")
    try:
        add_version(workspace, churn_frame(400, "usage", seed=7), tmp_path, "new")
        job = start_retrain(workspace, "live", canary=True, canary_share=0.25, in_process=True)
        assert job.status == "registered", job.error
        image, canary = job.steps[-2:]
        assert image["status"] == "skipped" and "local deployment" in image["detail"]
        assert canary["status"] == "ok"
        assert canary["detail"] == "churn:2 answers 25% of live's requests, churn:1 the rest"
        record = deployments.get_deployment(workspace, "live")
        assert record.status == "running" and record.challenger_ref == "churn:2"
        assert record.canary_share == 0.25
    finally:
        deployments.remove_deployment(workspace, deployed.record.name)


def test_bad_input_is_one_line(
    workspace: Workspace, tmp_path: Path, workbench: Callable[..., Done]
) -> None:
    champion(workspace, tmp_path)
    cases = [
        (("retrain", "nope"), "no deployment named 'nope'"),
        (("retrain", "churn", "--margin", "nan"), "--margin must be a finite number"),
        (("retrain", "churn", "--append-labels"), "--append-labels needs the file"),
        (("retrain", "churn", "--append-labels", str(tmp_path / "x.csv")), "no such file"),
        (("retrain", "policy", "churn", "--on", "drift:0"), "K must be a whole number"),
        (("retrain", "show", "x"), "name the retraining job by its number"),
        (("retrain", "stop", "7"), "no retraining job 7"),
        (("alerts", "rule", "add", "churn", "--kind", "error_rate_above", "--bound", "2"),
         "--bound is a share of requests, from 0 to below 1, not 2"),
        (("alerts", "rule", "add", "gone", "--kind", "dataset_drift"), "no deployment named"),
        (("alerts", "rule", "rm", "9"), "no alert rule 9"),
    ]  # fmt: skip
    for args, message in cases:
        done = workbench(workspace, *args)
        assert done.returncode == 1, args
        assert done.stderr.startswith("workbench: error: ") and message in done.stderr, args
        assert done.stderr.count("\n") == 1, done.stderr


def test_rules_and_policies_from_the_command_line(
    workspace: Workspace, tmp_path: Path, workbench: Callable[..., Done]
) -> None:
    champion(workspace, tmp_path)
    added = workbench(
        workspace, "alerts", "rule", "add", "churn", "--kind", "performance_below",
        "--metric", "accuracy", "--bound", "0.8", "--source", "estimated", "--command", "true",
    )  # fmt: skip
    assert added.returncode == 0 and "alert when estimated accuracy below 0.8" in added.stderr
    (rule,) = json.loads(workbench(workspace, "alerts", "rule", "ls", "--json").stdout)
    assert rule["kind"] == "performance_below" and rule["command"] == "true"
    assert json.loads(workbench(workspace, "alerts", "ls", "--json").stdout) == []
    assert workbench(workspace, "alerts", "rule", "disable", str(rule["id"])).returncode == 0
    listed = workbench(workspace, "alerts", "rule", "ls")
    assert "disabled" in listed.stdout and "estimated accuracy below 0.8" in listed.stdout
    assert workbench(workspace, "alerts", "rule", "rm", str(rule["id"])).returncode == 0
    policy = workbench(
        workspace, "retrain", "policy", "churn", "--on", "drift:2", "--margin", "0.03"
    )
    assert policy.returncode == 0 and "dataset drift in 2 consecutive windows" in policy.stderr
    shown = workbench(workspace, "retrain", "policy", "churn", "--json")
    assert json.loads(shown.stdout)["margin"] == 0.03
