"""Sweeps: create one from a definition, run it in background worker processes that
outlive the TUI, follow, stop and resume it. The trial loop itself is in sweep_worker."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.progress import Progress, no_progress
from storage import datasets as dataset_repo
from storage import sweeps as repo
from storage.errors import SweepInputError, WorkbenchError
from storage.handle import Workspace
from storage.records import DONE_SWEEP_STATES, SweepRecord

STALE_AFTER_S = 30.0
DONE = DONE_SWEEP_STATES


@dataclass(frozen=True)
class CreatedSweep:
    sweep: SweepRecord
    choices: list[str]  # what was inferred or defaulted, said in words


def create_sweep(ws: Workspace, raw: dict[str, Any]) -> CreatedSweep:
    """Validate the definition against its dataset, create the Optuna study, record the sweep.
    Nothing runs yet; every refusal happens here, before anything starts."""
    import optuna

    from pipelines.optuna_storage import open_storage, storage_kind_for
    from pipelines.sweep_spec import resolve_spec

    if "dataset" not in raw or not raw["dataset"]:
        raise SweepInputError("dataset: missing (a dataset name, or NAME@D<n>)")
    version = dataset_repo.get_version(ws.db, str(raw["dataset"]))
    spec, choices = resolve_spec(raw, version)
    if spec.sampler == "gp" and importlib.util.find_spec("torch") is None:
        raise SweepInputError(
            "sampler: 'gp' (Optuna's GPSampler) needs PyTorch, which is not installed: "
            "pip install 'workbench[gp]', or use tpe, random or cmaes"
        )
    kind = storage_kind_for(ws)
    study_name = f"{version.dataset_name}-{spec.model}-{uuid.uuid4().hex[:8]}"
    optuna.create_study(  # once, before any worker starts (optuna issue 1092)
        storage=open_storage(ws, kind), study_name=study_name, direction=spec.direction
    )
    sweep = repo.create_sweep(
        ws.db,
        name=spec.name or f"{version.dataset_name} · {spec.model} · {spec.metric}",
        dataset_version_id=version.id,
        dataset_ref=version.ref,
        dataset_sha=version.sha256,
        target=spec.target,
        task=spec.task,
        model=spec.model,
        metric=spec.metric,
        direction=spec.direction,
        spec=spec.to_dict(),
        study_name=study_name,
        optuna_storage=kind,
        trials_requested=spec.trials,
    )
    return CreatedSweep(sweep, choices)


def read_and_create(
    ws: Workspace, path: Path, overrides: dict[str, Any] | None = None
) -> CreatedSweep:
    from pipelines.sweep_spec import read_sweep_file

    raw = read_sweep_file(path)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return create_sweep(ws, raw)


def launch_workers(ws: Workspace, sweep_id: int, workers: int = 1) -> list[int]:
    """Start N worker processes in their own sessions (they survive the TUI and the shell)."""
    sweep = repo.get_sweep(ws.db, sweep_id)
    if sweep.status in ("running", "stopping") and live_worker_count(ws, sweep_id):
        raise WorkbenchError(f"sweep {sweep_id} is already running")
    repo.set_sweep_state(
        ws.db,
        sweep_id,
        "running",
        started_at=sweep.started_at or repo.utcnow(),
        heartbeat_at=repo.utcnow(),
        finished_at=None,
        error=None,
    )
    logs = ws.root / "logs"
    logs.mkdir(exist_ok=True)
    shares = split_budget(ws, sweep, max(1, workers))
    pids = []
    for index, share in enumerate(shares):
        command = [sys.executable, "-m", "workbench", "--workspace", str(ws.root)]
        if ws.settings.database_url:
            command += ["--database-url", ws.settings.database_url]
        command += ["worker", str(sweep_id), "--index", str(index)]
        if share is not None:
            command += ["--trials", str(share)]
        with (logs / f"sweep-{sweep_id}-worker-{index}.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=os.getcwd(),
            )
        pids.append(process.pid)
    return pids


def split_budget(ws: Workspace, sweep: SweepRecord, workers: int) -> list[int | None]:
    """Exact shares of the trials left, so N workers run exactly the requested number
    (Optuna's MaxTrialsCallback alone lets concurrent workers overshoot)."""
    if not sweep.trials_requested:
        return [None] * workers
    done = sum(n for status, n in sweep.counts.items() if status != "running")
    left = max(0, sweep.trials_requested - done)
    shares = [left // workers + (1 if i < left % workers else 0) for i in range(workers)]
    return [s for s in shares if s > 0] or [0]


def start_sweep(ws: Workspace, sweep_id: int, workers: int | None = None) -> list[int]:
    sweep = repo.get_sweep(ws.db, sweep_id)
    return launch_workers(ws, sweep_id, workers or int(sweep.spec.get("workers", 1)))


def stop_sweep(ws: Workspace, sweep_id: int) -> SweepRecord:
    """Ask workers to finish their running trials and stop (cooperative: study.stop())."""
    sweep = repo.get_sweep(ws.db, sweep_id)
    if sweep.status in DONE or sweep.status == "finalizing":
        raise WorkbenchError(f"sweep {sweep_id} is already {sweep.status}")
    if not live_worker_count(ws, sweep_id):
        repo.set_sweep_state(ws.db, sweep_id, "stopped", finished_at=repo.utcnow())
    else:
        repo.set_sweep_state(ws.db, sweep_id, "stopping")
    return repo.get_sweep(ws.db, sweep_id)


def resume_sweep(ws: Workspace, sweep_id: int, workers: int | None = None) -> tuple[int, list[int]]:
    """Fail the trials of dead workers, then start workers again on the same study."""
    failed = fail_stale_trials(ws, sweep_id)
    return failed, start_sweep(ws, sweep_id, workers)


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


def live_worker_count(ws: Workspace, sweep_id: int) -> int:
    host = socket.gethostname()
    return sum(
        1
        for _, worker_host, pid in repo.live_workers(ws.db, sweep_id, STALE_AFTER_S)
        if worker_host != host or process_alive(pid)
    )


def fail_stale_trials(ws: Workspace, sweep_id: int) -> int:
    """Trials left RUNNING by a worker that died (killed, machine gone) become FAILED, in
    our runs and in the Optuna study, so the study can go on."""
    import optuna
    from optuna.trial import TrialState

    from pipelines.optuna_storage import open_storage

    sweep = repo.get_sweep(ws.db, sweep_id)
    host = socket.gethostname()
    alive = {
        f"{h}:{pid}"
        for _, h, pid in repo.live_workers(ws.db, sweep_id, STALE_AFTER_S)
        if h != host or process_alive(pid)
    }
    stale = [
        r
        for r in repo.list_runs(ws.db, sweep_id=sweep_id, status="running")
        if r.worker not in alive
    ]
    repo.fail_runs(ws.db, [r.id for r in stale], "worker died while the trial was running")
    storage = open_storage(ws, sweep.optuna_storage)
    study = optuna.load_study(study_name=sweep.study_name, storage=storage)
    stale_numbers = {r.trial_number for r in stale}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.number in stale_numbers:
            study.tell(trial.number, state=TrialState.FAIL)
    if sweep.optuna_storage.startswith("rdb:"):
        optuna.storages.fail_stale_trials(study)
    return len(stale)


def wait_for_sweep(
    ws: Workspace, sweep_id: int, progress: Progress = no_progress, poll_s: float = 0.5
) -> SweepRecord:
    """Follow a sweep until it is finished, stopped or failed."""
    while True:
        sweep = repo.get_sweep(ws.db, sweep_id)
        done = sum(sweep.counts.get(s, 0) for s in ("complete", "pruned", "failed"))
        total = sweep.trials_requested
        best = f", best {sweep.best_value:.4g}" if sweep.best_value is not None else ""
        progress(f"{done}/{total or '?'} trials{best}", done / total if total else None)
        if sweep.status in DONE:
            return sweep
        # 'finalizing' (the last worker refitting the top models) is work in progress.
        if sweep.status in ("running", "stopping") and not live_worker_count(ws, sweep_id):
            time.sleep(poll_s)  # a worker may be just starting or just finishing
            sweep = repo.get_sweep(ws.db, sweep_id)
            if sweep.status not in DONE and not live_worker_count(ws, sweep_id):
                last_sign = sweep.heartbeat_at or sweep.started_at or repo.utcnow()
                if (repo.utcnow() - last_sign).total_seconds() > STALE_AFTER_S:
                    raise WorkbenchError(
                        f"sweep {sweep_id} has no live worker (see {ws.root / 'logs'}); "
                        f"`workbench sweep resume {sweep_id}` continues it"
                    )
        time.sleep(poll_s)


def kill_workers(ws: Workspace, sweep_id: int) -> int:
    """Hard stop of local workers (tests and emergencies); trials they held become stale."""
    host = socket.gethostname()
    killed = 0
    for _, worker_host, pid in repo.live_workers(ws.db, sweep_id, STALE_AFTER_S):
        if worker_host == host and process_alive(pid):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def list_sweeps(ws: Workspace) -> list[SweepRecord]:
    return repo.list_sweeps(ws.db)


def get_sweep(ws: Workspace, sweep_id: int) -> SweepRecord:
    return repo.get_sweep(ws.db, sweep_id)


def trial_history(ws: Workspace, sweep_id: int) -> list[Any]:
    """The sweep's runs in trial order (for live tables and best-so-far curves)."""
    return repo.list_runs(ws.db, sweep_id=sweep_id, order_by="trial")
