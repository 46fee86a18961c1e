"""Sweeps: create one from a definition, run it in background worker processes that
outlive the TUI, follow, stop and resume it. The trial loop itself is in sweep_worker."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import supervisor
from pipelines.progress import Progress, no_progress
from pipelines.sweeps.spec import SweepSpec
from pipelines.sweeps.standby import Standby, dismiss, hand_over
from pipelines.sweeps.threads import usable_cores
from storage import datasets as dataset_repo
from storage import sweep_workers as workers_repo
from storage import sweeps as repo
from storage.errors import SweepInputError, WorkbenchError
from storage.handle import Workspace
from storage.records import DONE_SWEEP_STATES, SweepRecord

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

    from pipelines.sweeps.spec import resolve_spec
    from pipelines.sweeps.studies import open_storage, storage_kind_for

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
    from pipelines.sweeps.spec import read_sweep_file

    raw = read_sweep_file(path)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return create_sweep(ws, raw)


def capped_workers(asked: int) -> tuple[int, str | None]:
    """More local workers than cores only slows every trial down: cap, and say so."""
    cores = usable_cores()
    if asked <= cores:
        return asked, None
    return cores, f"workers: {cores}, not {asked} (this machine has {cores} CPU cores)"


def logs_folder(ws: Workspace) -> Path:
    return ws.paths.logs


def launch_workers(
    ws: Workspace, sweep_id: int, workers: int = 1, standby: Standby | None = None
) -> list[int]:
    """Start N worker processes through the supervisor (each leads its own session, so it
    survives the TUI and the shell). They are registered, pid and creation time, in the
    same transaction that claims the launch: of two clients launching at once exactly one
    does, and a worker counts as live before it has even imported. The database URL
    reaches them in the environment, never on the command line. A `standby` worker (already
    imported, pipelines.sweeps.standby) is the first of them, handed its sweep once the
    launch is recorded; it is dismissed if the launch fails."""
    count, _ = capped_workers(max(1, workers))
    command = [sys.executable, "-m", "workbench", "--workspace", str(ws.root)]
    command += ["worker", str(sweep_id)]
    secrets = {supervisor.DATABASE_URL_ENV: ws.settings.database_url}
    started: list[supervisor.Supervised] = []
    first_log = logs_folder(ws) / f"sweep-{sweep_id}-worker-0.log"
    try:
        with workers_repo.launch(ws.db, sweep_id) as launch:
            for index in range(count):
                if index == 0 and standby is not None:
                    process = standby.process
                else:
                    log = logs_folder(ws) / f"sweep-{sweep_id}-worker-{index}.log"
                    process = supervisor.spawn(
                        command, log_path=log, secrets=secrets, cwd=Path.cwd()
                    )
                started.append(process)
                launch.register(process)
    except BaseException:
        if standby is not None:
            dismiss(standby)
        for process in started:  # the launch was not recorded: its workers must not run
            supervisor.kill(process)
        raise
    handed = standby is None or hand_over(standby, sweep_id, ws.settings.database_url, first_log)
    if not handed:
        # It died while importing: its row stays (a dead worker the sweep outlives) and a
        # worker of our own takes its place.
        process = supervisor.spawn(command, log_path=first_log, secrets=secrets, cwd=Path.cwd())
        workers_repo.register_worker(ws.db, sweep_id, process)
        started[0] = process
    return [process.pid for process in started]


def start_sweep(
    ws: Workspace, sweep_id: int, workers: int | None = None, standby: Standby | None = None
) -> list[int]:
    sweep = repo.get_sweep(ws.db, sweep_id)
    count = workers or SweepSpec.from_stored(sweep.spec).workers
    return launch_workers(ws, sweep_id, count, standby)


def stop_sweep(ws: Workspace, sweep_id: int) -> SweepRecord:
    """Ask workers to finish their running trials and stop: from the moment this returns,
    no new trial starts (workers claim each trial under the same lock)."""
    workers_repo.request_stop(ws.db, sweep_id)
    return repo.get_sweep(ws.db, sweep_id)


def resume_sweep(ws: Workspace, sweep_id: int, workers: int | None = None) -> tuple[int, list[int]]:
    """Fail the trials of dead workers, then start workers again on the same study; a sweep
    killed during its final refit finishes it. A sweep with live workers is refused before
    anything changes; of two resumes at once exactly one launches."""
    live = live_worker_count(ws, sweep_id)
    if live:
        raise WorkbenchError(f"sweep {sweep_id} is already running ({live} live workers)")
    failed = fail_stale_trials(ws, sweep_id)
    return failed, start_sweep(ws, sweep_id, workers)


def live_worker_count(ws: Workspace, sweep_id: int) -> int:
    return workers_repo.live_worker_count(ws.db, sweep_id)


def fail_stale_trials(ws: Workspace, sweep_id: int) -> int:
    """Trials left RUNNING by a worker that died (killed, machine gone) become FAILED, in
    our runs and in the Optuna study, so the study can go on."""
    import optuna
    from optuna.trial import TrialState

    from pipelines.sweeps.studies import open_storage

    sweep = repo.get_sweep(ws.db, sweep_id)
    storage = open_storage(ws, sweep.optuna_storage)
    study = optuna.load_study(study_name=sweep.study_name, storage=storage)
    # Trials first, workers second: a trial seen running was asked by a worker registered
    # before, so one launched meanwhile (another client resuming) never loses its trial.
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    stale = workers_repo.stale_run_ids(ws.db, sweep_id)
    repo.fail_runs(ws.db, [r for r, _ in stale], "worker died while the trial was running")
    stale_numbers = {number for _, number in stale}
    nobody = not live_worker_count(ws, sweep_id)  # then a trial asked but never started is stale
    for trial in running:
        if trial.number in stale_numbers or nobody:
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    if sweep.optuna_storage.startswith("rdb:"):
        optuna.storages.fail_stale_trials(study)
    return len(stale)


def wait_for_sweep(
    ws: Workspace, sweep_id: int, progress: Progress = no_progress, poll_s: float = 0.2
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
        # Every trial done: the refit of the top models is short, and the end is near.
        time.sleep(poll_s if not total or done < total else min(poll_s, 0.02))


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
        f"sweep {sweep.id} is stalled: no live worker{held}{full} (logs in {logs_folder(ws)}); "
        f"`workbench sweep resume {sweep.id}` continues it"
    )


def worker_processes(ws: Workspace, sweep_id: int) -> list[supervisor.Supervised]:
    """The sweep's live workers as the supervisor knows them (pid, creation time, host)."""
    return workers_repo.live_processes(ws.db, sweep_id)


def list_sweeps(ws: Workspace) -> list[SweepRecord]:
    return repo.list_sweeps(ws.db)


def get_sweep(ws: Workspace, sweep_id: int) -> SweepRecord:
    return repo.get_sweep(ws.db, sweep_id)


def trial_history(ws: Workspace, sweep_id: int) -> list[Any]:
    """The sweep's runs in trial order (for live tables and best-so-far curves)."""
    return repo.list_runs(ws.db, sweep_id=sweep_id, order_by="trial")
