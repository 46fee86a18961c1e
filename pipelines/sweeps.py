"""Sweeps: create one from a definition, run it in background worker processes that
outlive the TUI, follow, stop and resume it. The trial loop itself is in sweep_worker."""

from __future__ import annotations

import importlib.util
import os
import shutil
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
from storage import sweep_workers as workers_repo
from storage import sweeps as repo
from storage.errors import SweepInputError, WorkbenchError
from storage.handle import Workspace
from storage.records import DONE_SWEEP_STATES, SweepRecord
from storage.sweep_workers import process_alive

DONE = DONE_SWEEP_STATES
FULL_DISK_BYTES = 1024 * 1024  # less free than this and a worker cannot record a trial


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


def usable_cores() -> int:
    """The CPU cores this process may run on (a container's limit, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def capped_workers(asked: int) -> tuple[int, str | None]:
    """More local workers than cores only slows every trial down: cap, and say so."""
    cores = usable_cores()
    if asked <= cores:
        return asked, None
    return cores, f"workers: {cores}, not {asked} (this machine has {cores} CPU cores)"


def launch_workers(ws: Workspace, sweep_id: int, workers: int = 1) -> list[int]:
    """Start N worker processes in their own sessions (they survive the TUI and the shell).
    Each is registered as it starts, so it counts as live before it has even imported."""
    sweep = repo.get_sweep(ws.db, sweep_id)
    if sweep.status == "finished":
        raise WorkbenchError(f"sweep {sweep_id} is finished: every trial is done")
    live = live_worker_count(ws, sweep_id)
    if live:
        raise WorkbenchError(f"sweep {sweep_id} is already running ({live} live workers)")
    count, _ = capped_workers(max(1, workers))
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
    host = socket.gethostname()
    pids = []
    for index in range(count):
        command = [sys.executable, "-m", "workbench", "--workspace", str(ws.root)]
        if ws.settings.database_url:
            command += ["--database-url", ws.settings.database_url]
        command += ["worker", str(sweep_id)]
        with (logs / f"sweep-{sweep_id}-worker-{index}.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=os.getcwd(),
            )
        workers_repo.register_worker(ws.db, sweep_id, host, process.pid)
        pids.append(process.pid)
    return pids


def start_sweep(ws: Workspace, sweep_id: int, workers: int | None = None) -> list[int]:
    sweep = repo.get_sweep(ws.db, sweep_id)
    return launch_workers(ws, sweep_id, workers or int(sweep.spec.get("workers", 1)))


def stop_sweep(ws: Workspace, sweep_id: int) -> SweepRecord:
    """Ask workers to finish their running trials and stop: from the moment this returns,
    no new trial starts (workers claim each trial under the same lock)."""
    sweep = repo.get_sweep(ws.db, sweep_id)
    if sweep.status in DONE or sweep.status == "finalizing":
        raise WorkbenchError(f"sweep {sweep_id} is already {sweep.status}")
    workers_repo.request_stop(ws.db, sweep_id)
    return repo.get_sweep(ws.db, sweep_id)


def resume_sweep(ws: Workspace, sweep_id: int, workers: int | None = None) -> tuple[int, list[int]]:
    """Fail the trials of dead workers, then start workers again on the same study; a sweep
    killed during its final refit finishes it."""
    failed = fail_stale_trials(ws, sweep_id)
    return failed, start_sweep(ws, sweep_id, workers)


def live_worker_count(ws: Workspace, sweep_id: int) -> int:
    return workers_repo.live_worker_count(ws.db, sweep_id)


def fail_stale_trials(ws: Workspace, sweep_id: int) -> int:
    """Trials left RUNNING by a worker that died (killed, machine gone) become FAILED, in
    our runs and in the Optuna study, so the study can go on."""
    import optuna
    from optuna.trial import TrialState

    from pipelines.optuna_storage import open_storage

    sweep = repo.get_sweep(ws.db, sweep_id)
    stale = workers_repo.stale_run_ids(ws.db, sweep_id)
    repo.fail_runs(ws.db, [r for r, _ in stale], "worker died while the trial was running")
    storage = open_storage(ws, sweep.optuna_storage)
    study = optuna.load_study(study_name=sweep.study_name, storage=storage)
    stale_numbers = {number for _, number in stale}
    nobody = not live_worker_count(ws, sweep_id)  # then a trial asked but never started is stale
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.number in stale_numbers or nobody:
            study.tell(trial.number, state=TrialState.FAIL)
    if sweep.optuna_storage.startswith("rdb:"):
        optuna.storages.fail_stale_trials(study)
    return len(stale)


def wait_for_sweep(
    ws: Workspace, sweep_id: int, progress: Progress = no_progress, poll_s: float = 0.5
) -> SweepRecord:
    """Follow a sweep until it is finished, stopped, failed or stalled (no live worker)."""
    while True:
        sweep = repo.get_sweep(ws.db, sweep_id)
        done = sum(sweep.counts.get(s, 0) for s in ("complete", "pruned", "failed"))
        total = sweep.trials_requested
        best = f", best {sweep.best_value:.4g}" if sweep.best_value is not None else ""
        progress(f"{done}/{total or '?'} trials{best}", done / total if total else None)
        if sweep.status in DONE or sweep.status == "stalled":
            return sweep
        time.sleep(poll_s)


def stalled_hint(ws: Workspace, sweep: SweepRecord) -> str:
    """Why a sweep has no worker, as far as can be told: a worker on a full disk can write
    its error neither to the database nor to its log, so the free space is checked here."""
    stale = sweep.counts.get("stale", 0)
    held = f"; {stale} trial(s) of dead workers are stale" if stale else ""
    try:
        free = shutil.disk_usage(ws.root).free
    except OSError:
        free = None
    full = (
        f"; the disk holding {ws.root} is full ({free // 1024} KiB free)"
        if free is not None and free < FULL_DISK_BYTES
        else ""
    )
    return (
        f"sweep {sweep.id} is stalled: no live worker{held}{full} (logs in {ws.root / 'logs'}); "
        f"`workbench sweep resume {sweep.id}` continues it"
    )


def kill_workers(ws: Workspace, sweep_id: int, timeout_s: float = 10.0) -> int:
    """Hard stop of local workers (tests and emergencies), returning once they are gone;
    trials they held become stale."""
    host = socket.gethostname()
    with ws.db.session_scope() as session:
        live = workers_repo.live_by_sweep(session, [sweep_id]).get(sweep_id, set())
    killed = []
    for name in live:
        worker_host, _, pid = name.rpartition(":")
        if worker_host == host and process_alive(int(pid)):
            os.kill(int(pid), signal.SIGKILL)
            killed.append(int(pid))
    deadline = time.monotonic() + timeout_s
    while any(process_alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.02)
    return len(killed)


def list_sweeps(ws: Workspace) -> list[SweepRecord]:
    return repo.list_sweeps(ws.db)


def get_sweep(ws: Workspace, sweep_id: int) -> SweepRecord:
    return repo.get_sweep(ws.db, sweep_id)


def trial_history(ws: Workspace, sweep_id: int) -> list[Any]:
    """The sweep's runs in trial order (for live tables and best-so-far curves)."""
    return repo.list_runs(ws.db, sweep_id=sweep_id, order_by="trial")
