"""Permutation importance of a run's input columns on held-out rows, computed on demand (a
refit plus columns x repeats predictions: far too slow for a sweep) and cached in the
workspace's cache/ folder. Part of pipelines.runs.insight, which gathers it."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.runs.held_out import InsightError, one_line, status_words
from pipelines.sweeps.spec import SweepSpec
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace

if TYPE_CHECKING:
    from storage.records import RunRecord, SweepRecord

CACHE_VERSION = 1  # bump when the permutation computation changes meaning


@dataclass(frozen=True)
class PermutationResult:
    """Drop in the sweep metric when one input column is shuffled, on held-out rows.
    Drops are signed so that positive means the model got worse (for a loss such as rmse
    the drop is the increase); a column near 0 (or below) carries nothing the model uses."""

    run_id: int
    scorer: str  # the sweep metric
    direction: str  # maximize | minimize: which way the metric is better
    baseline: float  # the metric on the rows used, nothing shuffled
    rows: int  # held-out rows scored (the first fold's, subsampled to max_rows)
    repeats: int
    mean: dict[str, float]  # by input column, largest drop first
    std: dict[str, float]
    seconds: float  # how long the computation took when it ran
    cached: bool = field(default=False)  # this call read the cache


def permutation_importances(
    ws: Workspace, run_id: int, repeats: int = 5, max_rows: int = 2000, *, compute: bool = True
) -> PermutationResult | None:
    """Permutation importance of every input column on held-out rows: the run's pipeline is
    rebuilt from its parameters and seed exactly as training builds it, fitted on the first
    fold's training part, and scored with the sweep metric on that fold's held-out part
    (at most `max_rows` of them, a seeded sample) with each column shuffled `repeats` times.

    Computed on demand rather than during the sweep: it costs a refit plus
    columns x repeats predictions, many times a trial's own time, and would break the
    sweep-overhead budget (<= 1.05x a bare Optuna loop) for a view most runs never get.
    The result is cached in the workspace's cache/ folder (recomputable, so not an
    artifact: artifacts/ holds only content-addressed files), keyed by everything it
    depends on (data hash, model, parameters, seed, split, metric, repeats, max_rows), so a
    second call only reads a small JSON file. With ``compute=False`` only the cache is read
    (None when the result was never computed): a view can show it without the wait."""
    if repeats < 1 or max_rows < 1:
        raise InsightError(f"repeats and max_rows must be at least 1, got {repeats}, {max_rows}")
    run = repo.get_run(ws.db, run_id)
    if run.status != "complete":
        raise InsightError(
            f"run {run_id} {status_words(run.status)}: permutation importance needs a complete run"
        )
    sweep = repo.get_sweep(ws.db, run.sweep_id)
    path = _cache_path(ws, run, sweep, repeats, max_rows)
    cached = _read_cache(path)
    if cached is not None:
        return PermutationResult(**{**cached, "run_id": run_id, "cached": True})
    if not compute:
        return None
    try:
        result = _compute_permutation(ws, run, sweep, repeats, max_rows)
    except WorkbenchError:
        raise
    except Exception as exc:  # a model or data library failing: one line, not a traceback
        raise InsightError(f"run {run_id}: permutation importance failed: {one_line(exc)}") from exc
    _write_cache(path, {k: v for k, v in asdict(result).items() if k not in ("run_id", "cached")})
    return result


def _compute_permutation(
    ws: Workspace, run: RunRecord, sweep: SweepRecord, repeats: int, max_rows: int
) -> PermutationResult:
    import numpy as np
    from sklearn.inspection import permutation_importance
    from threadpoolctl import threadpool_limits

    from pipelines.runs.details import run_frame
    from pipelines.sweeps.families import get_family
    from pipelines.sweeps.training import (
        METRICS,
        fit_fold,
        predict,
        prepare_target,
        score,
        splits,
    )

    started = time.perf_counter()
    X, y = run_frame(ws, run, sweep)
    y = prepare_target(y, sweep.task)
    spec = SweepSpec.from_stored(sweep.spec)
    train, valid = splits(y, sweep.task, spec.folds, spec.holdout, run.seed)[0]
    with threadpool_limits(limits=1, user_api="openmp"):  # as a sweep worker fits (n_jobs=1)
        pipeline, _ = fit_fold(
            X.iloc[train],
            y.iloc[train],
            X.iloc[valid],
            y.iloc[valid],
            task=sweep.task,
            family=get_family(sweep.model),
            params=run.params,
            metric=sweep.metric,
            seed=run.seed,
        )
    if len(valid) > max_rows:
        picked = np.random.default_rng(run.seed).choice(len(valid), size=max_rows, replace=False)
        valid = valid[np.sort(picked)]
    X_eval, y_eval = X.iloc[valid], y.iloc[valid]
    metric, task = sweep.metric, sweep.task
    sign = 1.0 if METRICS[metric].direction == "maximize" else -1.0

    def scorer(estimator: Any, X_part: Any, y_part: Any) -> float:
        predictions, proba, classes = predict(estimator, X_part, task)
        return sign * score(metric, y_part, predictions, proba, classes)

    try:
        with threadpool_limits(limits=1, user_api="openmp"):
            baseline = sign * scorer(pipeline, X_eval, y_eval)
            found = permutation_importance(
                pipeline,
                X_eval,
                y_eval,
                scoring=scorer,
                n_repeats=repeats,
                random_state=run.seed,
                n_jobs=1,
            )
    except ValueError as exc:
        raise InsightError(f"run {run.id}: permutation importance failed: {one_line(exc)}") from exc
    columns = [str(c) for c in X.columns]
    order = sorted(range(len(columns)), key=lambda i: (-found.importances_mean[i], columns[i]))
    return PermutationResult(
        run_id=run.id,
        scorer=metric,
        direction=METRICS[metric].direction,
        baseline=float(baseline),
        rows=len(valid),
        repeats=repeats,
        mean={columns[i]: float(found.importances_mean[i]) for i in order},
        std={columns[i]: float(found.importances_std[i]) for i in order},
        seconds=time.perf_counter() - started,
    )


def _cache_path(
    ws: Workspace, run: RunRecord, sweep: SweepRecord, repeats: int, max_rows: int
) -> Path:
    spec = SweepSpec.from_stored(sweep.spec)
    key = {
        "version": CACHE_VERSION,
        "data": run.dataset_sha,
        "target": sweep.target,
        "task": sweep.task,
        "model": sweep.model,
        "metric": sweep.metric,
        "params": run.params,
        "seed": run.seed,
        "folds": spec.folds,
        "holdout": spec.holdout,
        "exclude": spec.exclude,
        "repeats": repeats,
        "max_rows": max_rows,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return ws.paths.cache / f"permutation-{digest}.json"


def _read_cache(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    """Atomically, so a reader never sees half a file; a failed write only costs a rerun."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        return
    finally:
        partial.unlink(missing_ok=True)
