"""The trial loop that runs inside a sweep worker process (`workbench worker SWEEP`).

Each trial is a run in our tables: started before training, finished (complete, pruned or
failed, with all its metric points) in one transaction; a complete run also names its
held-out predictions, a small Parquet file written to the artifact store just before. A
heartbeat thread marks the worker alive; the last worker to finish, once the budget is
spent, refits the top trials on the whole data and keeps them."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from typing import Any

from pipelines.runs.details import FOLD_SCORE, IMPORTANCE_PREFIX, PRUNER_REPORTS
from pipelines.supervisor import this_process
from pipelines.sweeps.spec import SweepSpec
from storage import sweep_workers as workers
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import SweepRecord

HEARTBEAT_S = 5.0


def suggest_params(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Ask Optuna for one value per searched parameter; fixed ones pass through."""
    params: dict[str, Any] = {}
    for name, dist in space.items():
        kind, log, step = dist["kind"], bool(dist.get("log")), dist.get("step")
        if kind == "fixed":
            params[name] = dist["value"]
        elif kind == "float":
            params[name] = trial.suggest_float(
                name, dist["low"], dist["high"], log=log, step=None if log else step
            )
        elif kind == "int":
            params[name] = trial.suggest_int(
                name,
                int(dist["low"]),
                int(dist["high"]),
                log=log,
                step=1 if log or not step else int(step),
            )
        else:
            params[name] = trial.suggest_categorical(name, list(dist["choices"]))
    return params


class SweepWorker:
    """One process's part of a sweep: it claims trials one at a time until the budget is
    taken, the timeout passes or a stop is asked, so any number of workers (launched or
    joining) run exactly the budget."""

    def __init__(self, ws: Workspace, sweep_id: int, trials: int | None = None) -> None:
        self.ws = ws
        self.sweep: SweepRecord = repo.get_sweep(ws.db, sweep_id)
        self.spec = SweepSpec.from_stored(self.sweep.spec)
        self.cap = trials  # at most this many trials from this worker (`worker --trials`)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.sampler_seed = 0
        self._slot: repo.TrialSlot | None = None
        self._stopped = threading.Event()
        self._store = ws.artifacts
        self._folds: Any = None  # pipelines.sweeps.folds.FoldCache, made with the first trial

    def run(self) -> None:
        from pipelines.datasets.versions import browsable_path
        from pipelines.environment import capture_environment
        from pipelines.sweeps.families import get_family
        from pipelines.sweeps.training import load_frame
        from storage.datasets import get_version

        sweep = self.sweep
        # The launcher may have registered this process already: then this is its row.
        worker_id, ordinal = workers.register_worker(self.ws.db, sweep.id, this_process())
        now = repo.utcnow()  # run in this process directly (demo, tests): it starts the sweep
        repo.move_sweep(
            self.ws.db, sweep.id, ("created",), status="running", started_at=now, heartbeat_at=now
        )
        stored = repo.sweep_status(self.ws.db, sweep.id)
        if stored not in ("running", "stopping"):  # stopped or finished before it came up
            workers.finish_worker(self.ws.db, worker_id)
            print(f"sweep {sweep.id} is {stored}: nothing to do", file=sys.stderr)
            return
        # A stop asked before this worker came up: it claims no trial and, if it is the
        # last, still ends the sweep as 'stopped' (with its refit) below.
        beater = threading.Thread(target=self._beat, args=(worker_id,), daemon=True)
        beater.start()
        final: str | None = None
        try:
            version = get_version(self.ws.db, sweep.dataset_ref)
            X, y = load_frame(browsable_path(self.ws, version), sweep.target, self.spec.exclude)
            self.environment = capture_environment()
            family = get_family(sweep.model)
            # Every worker a sweep ever had has its own ordinal, so a resumed or joining
            # worker's sampler never replays another's draws; each run records its seed.
            self.sampler_seed = (self.spec.seed + ordinal) % 2**32
            self.environment["sampler_seed"] = self.sampler_seed
            timed_out = self._trials(self._study(family), X, y, family)
            final = workers.end_worker(self.ws.db, worker_id, sweep.id, timed_out)
            if final is not None:
                keep_top_models(self.ws, repo.get_sweep(self.ws.db, sweep.id), X, y)
                workers.finish_sweep(self.ws.db, worker_id, sweep.id, final)
        except Exception as exc:
            line = failure_line(exc)
            if final is not None:
                line = f"keeping the top models failed: {line}"
            with contextlib.suppress(WorkbenchError):  # the database may be on a full disk too
                workers.finish_sweep(self.ws.db, worker_id, sweep.id, "failed", error=line)
            raise WorkbenchError(f"sweep {sweep.id}: {line}") from exc
        finally:
            self._stopped.set()

    def _study(self, family: Any) -> Any:
        import optuna

        from pipelines.sweeps.studies import make_pruner, make_sampler, open_storage

        spec = self.spec
        max_steps = None if family.has_iterations else spec.folds  # one report per fold
        return optuna.load_study(
            study_name=self.sweep.study_name,
            storage=open_storage(self.ws, self.sweep.optuna_storage),
            sampler=make_sampler(spec.sampler, self.sampler_seed),
            pruner=make_pruner(spec.pruner, max_steps),
        )

    def _trials(self, study: Any, X: Any, y: Any, family: Any) -> bool:
        """Claim and run trials until none is left to claim; True when the timeout ended it.
        The claim is held while Optuna asks for the trial and the run is recorded, so a
        stop lets no new trial start and the budget is never overshot."""
        timeout = self.spec.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        done = 0
        while self.cap is None or done < self.cap:
            if deadline is not None and time.monotonic() >= deadline:
                return True
            with repo.claim_trial(self.ws.db, self.sweep.id) as slot:
                if slot is None:
                    return False
                self._slot = slot
                study.optimize(
                    lambda trial: self._objective(trial, X, y, family),
                    n_trials=1,
                    catch=(Exception,),
                    gc_after_trial=False,
                )
                self._slot = None
            done += 1
        return False

    def _objective(self, trial: Any, X: Any, y: Any, family: Any) -> float:
        import optuna

        from pipelines.sweeps.folds import FoldCache
        from pipelines.sweeps.training import evaluate

        spec = self.spec
        if self._folds is None:
            self._folds = FoldCache()  # every trial of this worker: the same folds
        params = suggest_params(trial, spec.search_space)
        seed = spec.seed
        fields = {
            "sweep_id": self.sweep.id,
            "trial_number": trial.number,
            "params": params,
            "seed": seed,
            "dataset_sha": self.sweep.dataset_sha,
            "environment": self.environment,
            "worker": self.name,
        }
        slot, self._slot = self._slot, None
        run_id = slot.start_run(**fields) if slot else repo.start_run(self.ws.db, **fields)
        trial.set_user_attr("workbench_run_id", run_id)
        reported: list[tuple[str, int, float]] = []
        # Every report is a journal record: with no pruner to read them (a LightGBM trial
        # reports each iteration) they are kept in the run's points only.
        prunes = spec.pruner != "none"

        def report(step: int, value: float) -> None:
            reported.append((PRUNER_REPORTS, step, float(value)))
            if not prunes:
                return
            trial.report(float(value), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step}")

        try:
            result = evaluate(
                X,
                y,
                task=self.sweep.task,
                family=family,
                params=params,
                metric=self.sweep.metric,
                folds=spec.folds,
                holdout=spec.holdout,
                seed=seed,
                report=report,
                cache=self._folds,
                fold_threads=1 if prunes else self._fold_threads(),
            )
        except optuna.TrialPruned:
            repo.finish_run(self.ws.db, run_id, status="pruned", points=reported)
            raise
        except Exception as exc:
            repo.finish_run(
                self.ws.db, run_id, status="failed", error=failure_line(exc), points=reported
            )
            raise
        points = reported + [(FOLD_SCORE, i, s) for i, s in enumerate(result.fold_scores)]
        for key, values in result.curves.items():
            points += [(key, i, float(v)) for i, v in enumerate(values)]
        points += [(IMPORTANCE_PREFIX + k, 0, float(v)) for k, v in result.importances.items()]
        predictions_sha = None
        if result.held_out is not None:  # a few KB of Parquet: ~1 ms against a trial's fits
            from pipelines.runs.insight import encode_held_out

            predictions_sha = self._store.put_bytes(encode_held_out(result.held_out))
        repo.finish_run(
            self.ws.db,
            run_id,
            status="complete",
            value=result.value,
            value_std=result.value_std,
            fold_scores=result.fold_scores,
            metrics=result.metrics,
            points=points,
            predictions_sha=predictions_sha,
        )
        return result.value

    def _fold_threads(self) -> int:
        """The cores this worker may use for a trial's folds at once: its share of the
        machine's (fewer workers than cores leave some idle). Not with a pruner, which
        would stop a trial after its first fold's iterations."""
        from pipelines.sweeps.threads import usable_cores

        return max(1, min(self.spec.folds, usable_cores() // max(1, self.spec.workers)))

    def _beat(self, worker_id: int) -> None:
        """Runs until the worker is done, refit included: a finalizing sweep is alive."""
        while not self._stopped.wait(HEARTBEAT_S):
            try:
                workers.beat(self.ws.db, worker_id, self.sweep.id)
            except Exception:  # a missed beat is not worth killing the sweep
                continue


def keep_top_models(ws: Workspace, sweep: SweepRecord, X: Any, y: Any) -> list[int]:
    """Refit the top K complete trials on the whole data and store each as a bundle (model
    bytes and manifest, `pipelines.runs.models`); every other run of the sweep keeps no
    model, so K holds however often this runs (a refit killed half-way and resumed refits
    only what is missing). Returns the run ids kept, best first."""
    from pipelines.runs.models import store_run_model
    from pipelines.sweeps.families import get_family
    from pipelines.sweeps.training import fit_final

    keep = SweepSpec.from_stored(sweep.spec).keep_top
    runs = repo.list_runs(
        ws.db,
        sweep_id=sweep.id,
        status="complete",
        order_by="value",
        descending=sweep.direction == "maximize",
        limit=keep,
    )
    repo.clear_run_artifacts(ws.db, sweep.id, keep=[r.id for r in runs])
    family = get_family(sweep.model)
    for run in runs:
        if run.artifact_sha and run.manifest_sha:  # kept by an earlier finalization
            continue
        model = fit_final(X, y, task=sweep.task, family=family, params=run.params, seed=run.seed)
        store_run_model(ws, sweep, run, model, X)
    return [r.id for r in runs]


def run_worker(ws: Workspace, sweep_id: int, trials: int | None = None) -> None:
    SweepWorker(ws, sweep_id, trials).run()


def failure_line(exc: BaseException) -> str:
    """One line naming the real cause: Optuna reports a storage write that failed while it
    finished a trial as `AssertionError: Should not reach.`, with the cause in its chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, WorkbenchError):
            return str(seen).strip().splitlines()[0]
        if isinstance(seen, OSError) and seen.strerror:
            where = f" ({seen.filename})" if seen.filename else ""
            return f"{seen.strerror}{where}"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
