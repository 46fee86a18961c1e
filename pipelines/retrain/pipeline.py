"""The retraining pipeline, one visible step at a time: champion, data, train, evaluate,
register, then optionally image and canary. Each step is recorded on the job as it starts
and ends (ok, skipped or failed, with a line saying what it did) and written to the job's
log file, so the TUI, `workbench retrain ls` and the log all tell the same story. A step
that fails ends the job as failed with that step's one-line reason; nothing after it runs.

The job ends `registered` (the challenger won and is the model's new version), `kept`
(it did not beat the champion by the margin: nothing registered) or `failed`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.retrain import steps
from storage import deployments as deployments_repo
from storage import monitoring as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RetrainJobRecord

if TYPE_CHECKING:
    import pandas as pd


class Skipped(Exception):
    """A step that had nothing to do, with the reason."""


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class StepLog:
    """The job's steps, recorded on the job and appended to its log as they happen."""

    def __init__(self, ws: Workspace, job: RetrainJobRecord) -> None:
        self.ws = ws
        self.job_id = job.id
        self.path = Path(job.log_path)
        self.steps: list[dict[str, Any]] = [dict(s) for s in job.steps]

    def line(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    @contextmanager
    def step(self, name: str, what: str) -> Iterator[dict[str, Any]]:
        """Record `name` running; the body may set entry["detail"]; raise Skipped to skip."""
        entry: dict[str, Any] = {"name": name, "status": "running", "detail": what}
        entry["started_at"] = _now()
        self.steps.append(entry)
        self._save()
        self.line(f"[{name}] {what}")
        try:
            yield entry
        except Skipped as skipped:
            entry.update(status="skipped", detail=str(skipped))
        except BaseException as exc:
            entry.update(status="failed", detail=one_line(exc))
            raise
        else:
            entry["status"] = "ok"
        finally:
            entry["finished_at"] = _now()
            self._save()
            self.line(f"[{name}] {entry['status']}: {entry['detail']}")

    def _save(self) -> None:
        repo.update_job(self.ws.db, self.job_id, steps=[dict(s) for s in self.steps])


def run_pipeline(
    ws: Workspace, job_id: int, labels: pd.DataFrame | None = None
) -> RetrainJobRecord:
    """Run every step of job `job_id` in this process and record how it ended."""
    job = repo.get_job(ws.db, job_id)
    log = StepLog(ws, job)
    options = job.options
    holdout = float(options.get("holdout") or steps.DEFAULT_HOLDOUT)
    trials = options.get("trials")
    margin = float(options.get("margin") or 0.0)
    log.line(f"retraining {job.deployment} ({job.champion_ref}): {job.reason}")
    try:
        with log.step("champion", f"reading the definition of {job.champion_ref}") as entry:
            champion = steps.champion_of(ws, job.champion_ref)
            entry["detail"] = (
                f"{champion.version.ref}: {champion.family} on {champion.dataset}, target "
                f"{champion.target}, {champion.metric} ({champion.direction})"
            )
        with log.step("data", f"newest validated version of {champion.dataset}") as entry:
            version = steps.newest_validated(ws, champion.dataset)
            entry["detail"] = f"{version.ref} ({version.row_count:,} rows)"
            if labels is not None:
                version, said = steps.append_labels(ws, version, labels, champion.target, job.id)
                entry["detail"] = said
            repo.update_job(ws.db, job.id, dataset_ref=version.ref)
        how = "the champion's parameters" if trials is None else f"a {trials}-trial sweep"
        with log.step("train", f"training a challenger on {version.ref} with {how}") as entry:
            name = f"retrain {job.deployment} (job {job.id})"
            raw = steps.sweep_definition(champion, version, trials, holdout, name)
            sweep_id, run = steps.train_challenger(ws, raw)
            entry["detail"] = f"sweep {sweep_id}, run {run.id}: {champion.metric} {run.value:.4g}"
        with log.step("evaluate", f"both models on the same {holdout:g} holdout") as entry:
            incumbent, rows = steps.score_champion(ws, champion, version, run, holdout)
            challenger = float(run.value or 0.0)
            wins = steps.beats(champion, challenger, incumbent, margin)
            repo.update_job(ws.db, job.id, champion_score=incumbent, challenger_score=challenger)
            entry["detail"] = (
                f"{champion.metric} on {rows} rows of {version.ref}: challenger "
                f"{challenger:.4g}, champion {incumbent:.4g} (margin {margin:g}): "
                + ("the challenger wins" if wins else "the champion stays")
            )
        with log.step("register", "registering the challenger if it won") as entry:
            if not wins:
                raise Skipped(f"not better by {margin:g}: {champion.version.ref} stays")
            registered = _register(ws, job, champion, run.id, challenger, incumbent, version.ref)
            entry["detail"] = f"registered {registered.ref} (run {run.id})"
        if wins and options.get("canary"):
            share = float(options.get("canary_share") or 0.1)
            _image_and_canary(ws, log, job.deployment, registered.ref, share)
    except Exception as exc:
        log.line(f"failed: {one_line(exc)}")
        repo.finish_job(ws.db, job.id, "failed", error=one_line(exc))
        return repo.get_job(ws.db, job.id)
    except BaseException:  # SIGTERM (`retrain stop`, SIGHUP) or Ctrl-C: say so, then go
        log.line("stopped before it finished")
        repo.finish_job(ws.db, job.id, "failed", error="stopped before it finished")
        raise
    status = "registered" if wins else "kept"
    log.line(f"done: {status}")
    repo.finish_job(ws.db, job.id, status)
    return repo.get_job(ws.db, job.id)


def _register(
    ws: Workspace,
    job: RetrainJobRecord,
    champion: steps.Champion,
    run_id: int,
    challenger: float,
    incumbent: float,
    dataset_ref: str,
) -> Any:
    from pipelines.registry.versions import register_model

    description = (
        f"retrained from {champion.version.ref} by retraining job {job.id} ({job.reason}); "
        f"{champion.metric} {challenger:.4g} against {incumbent:.4g} on the holdout of "
        f"{dataset_ref}"
    )
    version = register_model(ws, run_id, champion.version.model_name, description=description)
    repo.update_job(ws.db, job.id, challenger_version_id=version.id, challenger_ref=version.ref)
    return version


def _image_and_canary(ws: Workspace, log: StepLog, deployment: str, ref: str, share: float) -> None:
    """A container deployment needs the challenger's image first; a local one does not."""
    from pipelines.deploy.canary import start_canary
    from pipelines.packaging import builds

    record = deployments_repo.get_deployment(ws.db, deployment)
    with log.step("image", f"building the serving image of {ref}") as entry:
        if record.kind == "local":
            raise Skipped(f"{deployment} is a local deployment: it serves {ref} without an image")
        build = builds.start_build(ws, ref)
        entry["detail"] = f"build {build.id} ({build.tag}), log {build.log_path}"
        done = builds.follow_build(ws, build.id, lambda line: log.line(f"  {line}"))
        if done.status != "built":
            raise WorkbenchError(f"build {done.id} {done.status}: {done.error or 'no reason'}")
        entry["detail"] = f"built {done.tag}"
    with log.step("canary", f"starting {ref} as a canary of {deployment}") as entry:
        canary = start_canary(ws, deployment, ref, share)
        entry["detail"] = (
            f"{canary.challenger_ref} answers {share:.0%} of {deployment}'s requests, "
            f"{canary.model_ref} the rest"
        )
