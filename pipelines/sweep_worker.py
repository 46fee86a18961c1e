"""The trial loop that runs inside a sweep worker process (`workbench worker SWEEP`).

Each trial is a run in our tables: started before training, finished (complete, pruned or
failed, with all its metric points) in one transaction; a complete run also names its
held-out predictions, a small Parquet file written to the artifact store just before. A
heartbeat thread marks the worker alive; the last worker to finish refits the top trials on
the whole data and keeps them."""

from __future__ import annotations

import io
import os
import socket
import threading
from typing import Any

from pipelines.runs import FOLD_SCORE, IMPORTANCE_PREFIX, PRUNER_REPORTS
from storage import sweeps as repo
from storage.artifacts import ArtifactStore
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
    """One process's share of a sweep."""

    def __init__(
        self, ws: Workspace, sweep_id: int, index: int = 0, trials: int | None = None
    ) -> None:
        self.ws = ws
        self.sweep: SweepRecord = repo.get_sweep(ws.db, sweep_id)
        self.index = index
        self.share = trials  # this worker's exact share of the budget, when the launcher split it
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._stopped = threading.Event()
        self._store = ArtifactStore(ws.paths.artifacts)

    def run(self) -> None:
        import optuna

        from pipelines.datasets import browsable_path
        from pipelines.environment import capture_environment
        from pipelines.optuna_storage import make_pruner, make_sampler, open_storage
        from pipelines.training import load_frame
        from storage.datasets import get_version

        sweep, spec = self.sweep, self.sweep.spec
        if sweep.status == "created":  # run in this process directly (demo, tests)
            repo.set_sweep_state(
                self.ws.db,
                sweep.id,
                "running",
                started_at=repo.utcnow(),
                heartbeat_at=repo.utcnow(),
            )
        elif sweep.status != "running":  # stopped (or finished) before this worker came up
            return
        worker_id = repo.register_worker(self.ws.db, sweep.id, socket.gethostname(), os.getpid())
        beater = threading.Thread(target=self._beat, args=(worker_id,), daemon=True)
        beater.start()
        try:
            version = get_version(self.ws.db, sweep.dataset_ref)
            X, y = load_frame(
                browsable_path(self.ws, version), sweep.target, sweep.spec.get("exclude") or ()
            )
            self.environment = capture_environment()
            from pipelines.families import get_family

            family = get_family(sweep.model)
            max_steps = None if family.has_iterations else int(spec.get("folds") or 1)
            study = optuna.load_study(
                study_name=sweep.study_name,
                storage=open_storage(self.ws, sweep.optuna_storage),
                sampler=make_sampler(
                    spec.get("sampler", "tpe"), int(spec.get("seed", 0)) + self.index
                ),
                pruner=make_pruner(spec.get("pruner", "median"), max_steps),
            )
            callbacks = [self._stop_when_asked]
            if sweep.trials_requested:
                callbacks.append(
                    optuna.study.MaxTrialsCallback(
                        sweep.trials_requested,
                        states=(
                            optuna.trial.TrialState.COMPLETE,
                            optuna.trial.TrialState.PRUNED,
                            optuna.trial.TrialState.FAIL,
                        ),
                    )
                )
            if self._budget_left(study):  # else only finalize (e.g. resumed after a kill)
                study.optimize(
                    lambda trial: self._objective(trial, X, y, family),
                    n_trials=self.share,
                    timeout=spec.get("timeout"),
                    callbacks=callbacks,
                    catch=(Exception,),
                    gc_after_trial=False,
                )
        except Exception as exc:
            repo.set_sweep_state(
                self.ws.db, sweep.id, "failed", error=_one_line(exc), finished_at=repo.utcnow()
            )
            raise
        finally:
            self._stopped.set()
            repo.finish_worker(self.ws.db, worker_id)
        self._finish_if_last(X, y)

    def _budget_left(self, study: Any) -> bool:
        from optuna.trial import TrialState

        if not self.sweep.trials_requested:
            return True
        done = study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        )
        return len(done) < self.sweep.trials_requested

    def _objective(self, trial: Any, X: Any, y: Any, family: Any) -> float:
        import optuna

        from pipelines.training import evaluate

        spec = self.sweep.spec
        params = suggest_params(trial, spec["search_space"])
        seed = int(spec.get("seed", 0))
        run_id = repo.start_run(
            self.ws.db,
            sweep_id=self.sweep.id,
            trial_number=trial.number,
            params=params,
            seed=seed,
            dataset_sha=self.sweep.dataset_sha,
            environment=self.environment,
            worker=self.name,
        )
        trial.set_user_attr("workbench_run_id", run_id)
        reported: list[tuple[str, int, float]] = []

        def report(step: int, value: float) -> None:
            reported.append((PRUNER_REPORTS, step, float(value)))
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
                folds=int(spec.get("folds") or 5),
                holdout=spec.get("holdout"),
                seed=seed,
                report=report,
            )
        except optuna.TrialPruned:
            repo.finish_run(self.ws.db, run_id, status="pruned", points=reported)
            raise
        except Exception as exc:
            repo.finish_run(
                self.ws.db, run_id, status="failed", error=_one_line(exc), points=reported
            )
            raise
        points = reported + [(FOLD_SCORE, i, s) for i, s in enumerate(result.fold_scores)]
        for key, values in result.curves.items():
            points += [(key, i, float(v)) for i, v in enumerate(values)]
        points += [(IMPORTANCE_PREFIX + k, 0, float(v)) for k, v in result.importances.items()]
        predictions_sha = None
        if result.held_out is not None:  # a few KB of Parquet: ~1 ms against a trial's fits
            from pipelines.insight import encode_held_out

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

    def _stop_when_asked(self, study: Any, _trial: Any) -> None:
        if repo.sweep_status(self.ws.db, self.sweep.id) == "stopping":
            study.stop()

    def _beat(self, worker_id: int) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            try:
                repo.beat(self.ws.db, worker_id, self.sweep.id)
            except Exception:  # a missed beat is not worth killing the sweep
                continue

    def _finish_if_last(self, X: Any, y: Any) -> None:
        """Whoever finds no live worker left claims finalization (one wins), refits the top
        trials and sets the final status; followers see 'finalizing' meanwhile."""
        from pipelines.sweeps import live_worker_count

        if live_worker_count(self.ws, self.sweep.id):
            return
        final = repo.claim_finalization(self.ws.db, self.sweep.id)
        if final is None:
            return
        try:
            keep_top_models(self.ws, repo.get_sweep(self.ws.db, self.sweep.id), X, y)
        except Exception as exc:
            repo.set_sweep_state(
                self.ws.db,
                self.sweep.id,
                "failed",
                finished_at=repo.utcnow(),
                error=f"keeping the top models failed: {_one_line(exc)}",
            )
            raise
        repo.set_sweep_state(self.ws.db, self.sweep.id, final, finished_at=repo.utcnow())


def keep_top_models(ws: Workspace, sweep: SweepRecord, X: Any, y: Any) -> list[int]:
    """Refit the top K complete trials on the whole data and store them; the others keep
    no model. Returns the run ids kept, best first."""
    import joblib

    from pipelines.families import get_family
    from pipelines.training import fit_final

    keep = int(sweep.spec.get("keep_top", 5))
    runs = repo.list_runs(
        ws.db,
        sweep_id=sweep.id,
        status="complete",
        order_by="value",
        descending=sweep.direction == "maximize",
        limit=keep,
    )
    store = ArtifactStore(ws.paths.artifacts)
    family = get_family(sweep.model)
    for run in runs:
        model = fit_final(X, y, task=sweep.task, family=family, params=run.params, seed=run.seed)
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        repo.set_run_artifact(ws.db, run.id, store.put_bytes(buffer.getvalue()))
    return [r.id for r in runs]


def run_worker(ws: Workspace, sweep_id: int, index: int = 0, trials: int | None = None) -> None:
    SweepWorker(ws, sweep_id, index, trials).run()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
