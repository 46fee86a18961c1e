"""Retraining jobs as supervised processes: `start_retrain` records the job and starts
`workbench retrain-worker JOB` in its own session with its log under the workspace (so it
survives the TUI closing), as sweeps and image builds do; `follow_job` streams the log
until the job ends. A job whose process died without finishing is marked failed, with the
last line of its log, the next time anyone looks.

Labelled production records to append travel to the worker as a Parquet file beside the
log (a DataFrame cannot cross a process boundary), named in the job's options."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines import supervisor
from pipelines.retrain.policy import check_options
from pipelines.retrain.steps import DEFAULT_HOLDOUT
from storage import deployments as deployments_repo
from storage import monitoring as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RetrainJobRecord

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_MARGIN = 0.01


def start_retrain(
    ws: Workspace,
    deployment: str,
    *,
    reason: str = "started by hand",
    trials: int | None = None,
    margin: float | None = None,
    holdout: float = DEFAULT_HOLDOUT,
    canary: bool | None = None,
    canary_share: float | None = None,
    labels: pd.DataFrame | None = None,
    in_process: bool = False,
) -> RetrainJobRecord:
    """Record a retraining job for the deployment's model and start it; options not given
    come from the deployment's policy, if it has one. With `in_process` the pipeline runs
    here and this returns when it ended (tests, the demo); otherwise it returns at once."""
    record = deployments_repo.get_deployment(ws.db, deployment)
    policy = repo.get_policy(ws.db, deployment)
    if policy is not None:
        trials = policy.trials if trials is None else trials
        margin = policy.margin if margin is None else margin
        canary = policy.canary if canary is None else canary
        canary_share = policy.canary_share if canary_share is None else canary_share
    margin = DEFAULT_MARGIN if margin is None else margin
    canary_share = 0.1 if canary_share is None else canary_share
    check_options(margin=margin, trials=trials, canary_share=canary_share)
    if not 0 < holdout < 0.9:
        raise WorkbenchError(f"--holdout must be a fraction between 0 and 0.9, not {holdout:g}")
    busy = [j for j in list_jobs(ws, deployment) if j.status == "running"]
    if busy:
        raise WorkbenchError(f"retraining job {busy[0].id} of {deployment} is still running")
    options: dict[str, Any] = {
        "trials": trials,
        "margin": margin,
        "holdout": holdout,
        "canary": bool(canary),
        "canary_share": canary_share,
    }
    job_id = repo.add_job(
        ws.db,
        deployment,
        reason=reason,
        options=options,
        champion_ref=record.model_ref,
        log_path="",
    )
    log = ws.paths.logs / f"retrain-{job_id}.log"
    if labels is not None:
        labels_path = ws.paths.logs / f"retrain-{job_id}-labels.parquet"
        labels.to_parquet(labels_path, index=False)
        options["labels_path"] = str(labels_path)
    repo.update_job(ws.db, job_id, log_path=str(log), options=options)
    if in_process:
        return run_job(ws, job_id)
    command = [sys.executable, "-m", "workbench", "--workspace", str(ws.root)]
    command += ["retrain-worker", str(job_id)]
    try:
        process = supervisor.spawn(
            command,
            log_path=log,
            secrets={supervisor.DATABASE_URL_ENV: ws.settings.database_url},
            cwd=Path.cwd(),
        )
    except OSError as exc:
        repo.finish_job(ws.db, job_id, "failed", error=f"cannot start the job ({exc})")
        raise WorkbenchError(f"cannot start the retraining process ({exc})") from None
    repo.update_job(
        ws.db, job_id, pid=process.pid, process_started_at=process.started_at, host=process.host
    )
    return repo.get_job(ws.db, job_id)


def start_from_policy(
    ws: Workspace, deployment: str, reason: str, labels: pd.DataFrame | None = None
) -> RetrainJobRecord:
    """What the live layer calls when `should_retrain` gave a reason."""
    return start_retrain(ws, deployment, reason=f"policy: {reason}", labels=labels)


def run_job(ws: Workspace, job_id: int) -> RetrainJobRecord:
    """The worker's work: the pipeline, with the labels the job names."""
    from pipelines.retrain.pipeline import run_pipeline

    job = repo.get_job(ws.db, job_id)
    labels = None
    labels_path = job.options.get("labels_path")
    if labels_path:
        import pandas as pd

        labels = pd.read_parquet(labels_path)
    return run_pipeline(ws, job_id, labels)


def refresh_job(ws: Workspace, job: RetrainJobRecord) -> RetrainJobRecord:
    """A `running` job whose process is gone is failed, with its log's last line."""
    if job.status != "running" or job.pid is None:
        return job
    process = supervisor.Supervised(job.pid, job.process_started_at, job.host or "", job.log_path)
    if supervisor.is_alive(process):
        return job
    from pipelines.packaging.builds import last_log_line

    last = last_log_line(Path(job.log_path)) or "no output"
    repo.finish_job(
        ws.db, job.id, "failed", error=f"the retraining process ended without finishing ({last})"
    )
    return repo.get_job(ws.db, job.id)


def stop_job(ws: Workspace, job_id: int, grace_s: float = 10.0) -> RetrainJobRecord:
    """Stop a running job's process (SIGTERM, then SIGKILL after `grace_s`); it ends failed."""
    job = get_job(ws, job_id)
    if job.status != "running" or job.pid is None:
        raise WorkbenchError(f"retraining job {job_id} is {job.status}, not running")
    process = supervisor.Supervised(job.pid, job.process_started_at, job.host or "", job.log_path)
    supervisor.stop(process, grace_s=grace_s)
    supervisor.wait_gone(process, grace_s)
    repo.finish_job(ws.db, job_id, "failed", error="stopped before it finished")
    return repo.get_job(ws.db, job_id)


def get_job(ws: Workspace, job_id: int) -> RetrainJobRecord:
    return refresh_job(ws, repo.get_job(ws.db, job_id))


def list_jobs(ws: Workspace, deployment: str | None = None) -> list[RetrainJobRecord]:
    """Newest first, each checked for a dead process."""
    return [refresh_job(ws, job) for job in repo.list_jobs(ws.db, deployment)]


def follow_job(
    ws: Workspace,
    job_id: int,
    on_line: Callable[[str], None],
    *,
    poll_s: float = 0.3,
    timeout_s: float | None = None,
) -> RetrainJobRecord:
    """Stream the job's log to `on_line` until the job ends (or `timeout_s` passes)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    offset = 0
    while True:
        job = get_job(ws, job_id)
        offset = supervisor.read_new_lines(Path(job.log_path), offset, on_line)
        if job.status != "running":
            supervisor.read_new_lines(Path(job.log_path), offset, on_line)
            return job
        if deadline is not None and time.monotonic() > deadline:
            return job
        time.sleep(poll_s)
