"""Training and evaluation of one trial: K-fold (or holdout) scores for every metric of the
task, per-iteration curves for LightGBM, and intermediate values reported for pruning.

Preprocessing is part of the fitted pipeline (see pipelines.sweeps.preprocessing), so what a trial
measures is exactly what serving runs. Pruning: `report(step, value)` gets intermediate
values in the sweep metric's own terms (same scale and direction as the final value):
- LightGBM: the sweep metric on the first fold's validation rows after every boosting
  iteration (step = 0-based iteration), computed by a cheap numpy scorer;
- other families: after each fold, the running mean of the fold scores (step = fold index).
`report` may raise (optuna.TrialPruned); that exception propagates untouched.
The result keeps the out-of-fold predictions the fold scores were computed from
(`TrialResult.held_out`: no extra predict calls), for pipelines.runs.insight.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.sweeps.boosting import fit_boosted, fit_boosted_model, is_lightgbm
from pipelines.sweeps.folds import prepare_target, splits
from pipelines.sweeps.metrics import METRICS, MetricSpec, score
from pipelines.sweeps.preprocessing import build_pipeline, feature_importances
from pipelines.sweeps.threads import thread_limit as _thread_limit
from storage.errors import SweepInputError

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.sweeps.families import ModelFamily
    from pipelines.sweeps.folds import FoldCache

__all__ = [
    "METRICS",
    "HeldOutPredictions",
    "MetricSpec",
    "TrialResult",
    "build_pipeline",
    "evaluate",
    "fit_final",
    "fit_fold",
    "infer_task",
    "load_frame",
    "metrics_for",
    "predict",
    "prepare_target",
    "score",
    "splits",
]

Report = Callable[[int, float], None]
MAX_CLASSES = 20  # a numeric target with at most this many integer-like values is a label


def metrics_for(task: str) -> list[str]:
    return [m.name for m in METRICS.values() if m.task == task]


@dataclass(frozen=True, eq=False)
class HeldOutPredictions:
    """Out-of-fold predictions, one entry per validation row of each fold (K-fold: every
    row of the frame exactly once; holdout: the held-out rows). Numpy arrays, same length;
    they are the predictions the fold scores were computed from, so they cost nothing extra."""

    rows: Any  # int64: row position in the training frame (after missing targets dropped)
    folds: Any  # int16: the fold the row was held out in
    y_true: Any  # the prepared target (floats, or bool / int64 / str labels)
    y_pred: Any  # predicted value (regression) or predicted class (classification)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class TrialResult:
    """What one parameter set scored; curves and importances feed the compare screens."""

    value: float  # the chosen metric, mean over folds
    value_std: float
    fold_scores: list[float]
    metrics: dict[str, float]  # every metric of the task computable on every fold
    curves: dict[str, list[float]]  # per-iteration validation values (LightGBM), else {}
    importances: dict[str, float]  # by input column, summing to 1; {} when the model has none
    duration_s: float
    held_out: HeldOutPredictions | None = field(default=None, compare=False, repr=False)


def infer_task(target: pd.Series) -> str:
    """Labels (text, bool, or a few integer-like numbers) mean classification."""
    import pandas as pd

    values = target.dropna()
    if values.empty:
        raise SweepInputError(f"target: {target.name!r} has no values")
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
        return "classification"
    numbers = values.astype(float)
    if numbers.nunique() <= MAX_CLASSES and bool((numbers == numbers.round()).all()):
        return "classification"
    return "regression"


def load_frame(
    parquet_path: Path, target: str, exclude: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.Series]:
    """Features (every other column but ``exclude``) and target; rows whose target is
    missing are dropped."""
    import pandas as pd

    frame = pd.read_parquet(parquet_path)
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:12]))
        more = ", ..." if len(frame.columns) > 12 else ""
        raise SweepInputError(
            f"target: no column {target!r} in {Path(parquet_path).name} (columns: {shown}{more})"
        )
    frame = frame[frame[target].notna()].reset_index(drop=True)
    left_out = [c for c in exclude if c in frame.columns]
    return frame.drop(columns=[target, *left_out]), frame[target]


def evaluate(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: str,
    family: ModelFamily,
    params: dict[str, Any],
    metric: str,
    folds: int = 5,
    holdout: float | None = None,
    seed: int = 0,
    report: Report | None = None,
    n_jobs: int = 1,
    cache: FoldCache | None = None,
    fold_threads: int = 1,
) -> TrialResult:
    """Cross-validate (or hold out) one parameter set; see the module docstring for what
    `report` receives. A sweep worker passes one `cache` to every trial, so the folds and
    their preprocessing are fitted once (pipelines.sweeps.folds). `fold_threads` > 1 fits
    LightGBM's folds that many at once (the same results, in fold order); a caller with a
    pruner keeps 1, so a pruned trial stops after its first fold. Errors from the model
    library propagate as they are."""
    import numpy as np
    from sklearn.pipeline import Pipeline

    from pipelines.sweeps.folds import FoldCache

    started = time.perf_counter()
    _check(task, family, metric, folds, holdout)
    if len(X) != len(y):
        raise SweepInputError(f"features: {len(X)} rows but the target has {len(y)}")
    cache = cache if cache is not None else FoldCache()
    shared = cache.folds(X, y, task=task, family=family, folds=folds, holdout=holdout, seed=seed)
    fold_scores: list[float] = []
    fold_metrics: list[dict[str, float]] = []
    fold_curves: list[dict[str, list[float]]] = []
    fold_importances: list[dict[str, float]] = []
    held: list[tuple[Any, Any, Any]] = []  # (validation rows, true values, predictions)

    def fit_and_score(index: int, fold: Any) -> tuple[Any, Any, Any, Any]:
        model: Any = family.build(task, params, seed, n_jobs)
        pipeline = Pipeline([("preprocess", fold.preprocess), ("model", model)])
        curves: dict[str, list[float]] | None = None
        if family.has_iterations and is_lightgbm(pipeline):
            rows = (fold.X_train, fold.y_train, fold.X_valid, fold.y_valid)
            first = report if index == 0 else None
            curves = fit_boosted_model(model, *rows, metric, first, scored_only=True)
        else:
            model.fit(fold.X_train, fold.y_train)
        values, predictions = _score_all(model, fold.X_valid, fold.y_valid, task, metric)
        return curves, values, predictions, feature_importances(pipeline)

    if fold_threads > 1 and len(shared) > 1 and family.name == "lightgbm":
        # LightGBM fits without the GIL: the folds at once, each on a core, kept in order;
        # its report (the first fold's iterations) is for a pruner-less caller's record
        with _thread_limit(n_jobs), ThreadPoolExecutor(min(fold_threads, len(shared))) as pool:
            fitted = list(pool.map(fit_and_score, range(len(shared)), shared))
    else:
        fitted = []
        for index, fold in enumerate(shared):
            with _thread_limit(n_jobs):
                fitted.append(fit_and_score(index, fold))
            if report is not None and fitted[-1][0] is None:
                report(index, float(np.mean([f[1][metric] for f in fitted])))
    for fold, (curves, values, predictions, importances) in zip(shared, fitted, strict=True):
        if curves is not None:
            fold_curves.append(curves)
        held.append((fold.valid, fold.y_valid.to_numpy(), predictions))
        fold_metrics.append(values)
        fold_scores.append(values[metric])
        fold_importances.append(importances)
    common = [k for k in fold_metrics[0] if all(k in m for m in fold_metrics)]
    return TrialResult(
        value=float(np.mean(fold_scores)),
        value_std=float(np.std(fold_scores)),
        fold_scores=fold_scores,
        metrics={k: float(np.mean([m[k] for m in fold_metrics])) for k in common},
        curves=_mean_curves(fold_curves),
        importances=_mean_importances(fold_importances),
        duration_s=time.perf_counter() - started,
        held_out=_held_out(held),
    )


def fit_fold(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_valid: pd.DataFrame,
    y_valid: pd.Series,
    *,
    task: str,
    family: ModelFamily,
    params: dict[str, Any],
    metric: str,
    seed: int,
    n_jobs: int = 1,
    report: Report | None = None,
) -> tuple[Any, dict[str, list[float]] | None]:
    """One fold's pipeline, fitted exactly as `evaluate` fits it (`y_*` already prepared by
    `prepare_target`; callers cap threads with `_thread_limit` around it). LightGBM is fitted
    with the validation rows as its eval set (per-iteration curves, returned; `report` gets
    the sweep metric per iteration); other families return None for curves and never call
    `report`."""
    pipeline = build_pipeline(X_train, task, family, params, seed, n_jobs)
    if family.has_iterations and is_lightgbm(pipeline):
        return pipeline, fit_boosted(pipeline, X_train, y_train, X_valid, y_valid, metric, report)
    pipeline.fit(X_train, y_train)
    return pipeline, None


def predict(pipeline: Any, X: Any, task: str) -> tuple[Any, Any, list[Any]]:
    """(predictions, class probabilities or None, classes) as the fold scores use them: a
    classifier's prediction is its most probable class, from one predict_proba pass."""
    if task == "classification":
        import numpy as np

        classes = list(pipeline.classes_)
        proba = pipeline.predict_proba(X)
        return np.asarray(pipeline.classes_)[proba.argmax(axis=1)], proba, classes
    return pipeline.predict(X), None, []


def fit_final(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: str,
    family: ModelFamily,
    params: dict[str, Any],
    seed: int,
    n_jobs: int = 1,
) -> Any:
    """The whole pipeline refit on every row: what gets stored, registered and served."""
    if task not in family.tasks:
        raise SweepInputError(f"model: {family.name!r} does not do {task}")
    y = prepare_target(y, task)
    pipeline = build_pipeline(X, task, family, params, seed, n_jobs)
    with _thread_limit(n_jobs):
        pipeline.fit(X, y)
    return pipeline


def _check(task: str, family: ModelFamily, metric: str, folds: int, holdout: float | None) -> None:
    if task not in ("classification", "regression"):
        raise SweepInputError(f"task: unknown {task!r} (known: classification, regression)")
    if task not in family.tasks:
        raise SweepInputError(f"model: {family.name!r} does not do {task}")
    spec = METRICS.get(metric)
    if spec is None or spec.task != task:
        known = ", ".join(metrics_for(task))
        raise SweepInputError(f"metric: {metric!r} is not a {task} metric (use one of: {known})")
    if holdout:
        if not 0 < holdout < 1:
            raise SweepInputError(f"holdout: must be a fraction between 0 and 1, got {holdout}")
    elif not isinstance(folds, int) or folds < 2:
        raise SweepInputError(f"folds: must be a whole number of at least 2, got {folds!r}")


def _score_all(
    model: Any, X_valid: Any, y_valid: Any, task: str, metric: str
) -> tuple[dict[str, float], Any]:
    """Every metric of the task (numpy, pipelines.sweeps.metrics), and the predictions they
    came from; the sweep's own metric must compute, the others may not (e.g. roc_auc on a
    fold that lacks a class). `model` is a fitted pipeline or a model on preprocessed rows."""
    predictions, proba, classes = predict(model, X_valid, task)
    values = {metric: score(metric, y_valid, predictions, proba, classes)}
    for name in metrics_for(task):
        if name == metric:
            continue
        try:
            values[name] = score(name, y_valid, predictions, proba, classes)
        except ValueError:
            continue
    return {name: values[name] for name in metrics_for(task) if name in values}, predictions


def _held_out(per_fold: list[tuple[Any, Any, Any]]) -> HeldOutPredictions | None:
    """The folds' validation rows, truths and predictions joined (a few array copies)."""
    import numpy as np

    if not per_fold:
        return None
    return HeldOutPredictions(
        rows=np.concatenate([np.asarray(rows, dtype=np.int64) for rows, _, _ in per_fold]),
        folds=np.concatenate(
            [np.full(len(rows), i, dtype=np.int16) for i, (rows, _, _) in enumerate(per_fold)]
        ),
        y_true=np.concatenate([np.asarray(true) for _, true, _ in per_fold]),
        y_pred=np.concatenate([np.asarray(pred) for _, _, pred in per_fold]),
    )


def _mean_curves(per_fold: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Mean over folds where the lengths agree, the first fold's otherwise; curves with
    non-finite values (a metric undefined on some iteration) are left out."""
    if not per_fold:
        return {}
    merged: dict[str, list[float]] = {}
    for key, first in per_fold[0].items():
        runs = [run for fold in per_fold if len(run := fold.get(key) or []) == len(first)]
        if len(runs) == len(per_fold):
            curve = [sum(r[i] for r in runs) / len(runs) for i in range(len(first))]
        else:
            curve = list(first)
        if curve and all(math.isfinite(v) for v in curve):
            merged[key] = curve
    return merged


def _mean_importances(per_fold: list[dict[str, float]]) -> dict[str, float]:
    if not per_fold or not any(per_fold):
        return {}
    keys = sorted({k for fold in per_fold for k in fold})
    return {k: sum(fold.get(k, 0.0) for fold in per_fold) / len(per_fold) for k in keys}
