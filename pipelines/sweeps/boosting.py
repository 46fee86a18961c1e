"""LightGBM fitted with its validation rows as an eval set: per-iteration curves of its own
metric and of the sweep metric, the sweep metric reported for pruning after every iteration
(see pipelines.sweeps.training).

Where LightGBM has the sweep metric built in (binary accuracy as 1 − binary_error, log loss,
binary AUC, RMSE, MAE), it computes it in C++ on the scores it already keeps for the
validation rows; a Python eval_metric would copy those scores out and call back into Python
every iteration, which costs a third of a small fit. The others (F1, R², multiclass
accuracy and AUC) use the numpy scorer of pipelines.sweeps.iteration_metrics."""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from pipelines.sweeps.iteration_metrics import iteration_scorer

Report = Callable[[int, float], None]
_KEEPING = threading.Lock()
_keepers = 0  # fits under `_keep_training_booster` now running, in any thread
_library_train: Any = None  # lightgbm.sklearn's own `train`, while swapped


def is_lightgbm(pipeline: Any) -> bool:
    return type(pipeline.named_steps["model"]).__module__.startswith("lightgbm")


def fit_boosted(
    pipeline: Any,
    X_train: Any,
    y_train: Any,
    X_valid: Any,
    y_valid: Any,
    metric: str,
    report: Report | None,
) -> dict[str, list[float]]:
    """Fit the pipeline's steps with a validation set (see `fit_boosted_model`)."""
    preprocess, model = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    train = preprocess.fit_transform(X_train, y_train)
    valid = preprocess.transform(X_valid)
    return fit_boosted_model(model, train, y_train, valid, y_valid, metric, report)


def fit_boosted_model(
    model: Any,
    train: Any,
    y_train: Any,
    valid: Any,
    y_valid: Any,
    metric: str,
    report: Report | None,
    *,
    scored_only: bool = False,
) -> dict[str, list[float]]:
    """Fit LightGBM on preprocessed rows with a validation set, so it records, per
    iteration, its own eval metric and the sweep metric; the sweep metric goes to `report`.
    `scored_only`: the model is scored and dropped (a fold's), so it keeps its training
    booster (see `_keep_training_booster`)."""
    import inspect

    classes = _class_count(model, y_train)
    built_in = _built_in(metric, classes)
    recorded_as, convert = built_in if built_in else (metric, _same)
    callbacks = []
    if report is not None:

        def reporter(env: Any) -> None:
            for _data, name, value, _higher in env.evaluation_result_list:
                if name == recorded_as and math.isfinite(value):
                    report(env.iteration, convert(float(value)))

        callbacks.append(reporter)
    fit_args: dict[str, Any] = {
        "eval_names": ["valid"],
        "eval_metric": recorded_as if built_in else iteration_scorer(metric, _maximize(metric)),
        "callbacks": callbacks,
    }
    with warnings.catch_warnings():
        # LightGBM 4.7 deprecates eval_set for eval_X/eval_y, but LGBMClassifier encodes
        # the labels of eval_set only: string (or non 0..k-1) labels need eval_set.
        warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
        with _keep_training_booster() if scored_only else nullcontext():
            if "eval_set" in inspect.signature(model.fit).parameters:
                model.fit(train, y_train, eval_set=[(valid, y_valid)], **fit_args)
            else:
                model.fit(train, y_train, eval_X=(valid,), eval_y=(y_valid,), **fit_args)
    recorded = getattr(model, "evals_result_", {}).get("valid", {})
    curves = {f"valid_{name}": [float(v) for v in values] for name, values in recorded.items()}
    if built_in:  # LightGBM's name for the sweep metric, and the sweep's own beside it
        values = recorded.get(recorded_as, [])
        if recorded_as != _default_metric(classes):
            del curves[f"valid_{recorded_as}"]
        curves[f"valid_{metric}"] = [convert(float(v)) for v in values]
    return curves


@contextmanager
def _keep_training_booster() -> Iterator[None]:
    """LightGBM's scikit-learn `fit` ends by writing its booster to a model string and
    reading it back, to let go of the training rows: 3-5 ms a fit, a sixth of a small one,
    for a fold's model that is scored and dropped at once. Its `train` is called here with
    `keep_training_booster=True` instead, which skips that round trip; the trees, and every
    prediction, are the same to the bit. `lightgbm.sklearn.train` is swapped back when the
    last fit under this (in any thread) ends."""
    global _keepers, _library_train
    import functools

    import lightgbm.sklearn as lgb_sklearn

    with _KEEPING:
        if _keepers == 0:
            _library_train = lgb_sklearn.train
            lgb_sklearn.train = functools.partial(_library_train, keep_training_booster=True)
        _keepers += 1
    try:
        yield
    finally:
        with _KEEPING:
            _keepers -= 1
            if _keepers == 0:
                lgb_sklearn.train = _library_train


def _same(value: float) -> float:
    return value


def _accuracy(error: float) -> float:
    return 1.0 - error


def _built_in(metric: str, classes: int | None) -> tuple[str, Callable[[float], float]] | None:
    """LightGBM's built-in metric that is the sweep metric, with its conversion; None where
    there is none, or where it could differ (multiclass error counts a tie as wrong)."""
    if classes is None:
        return {"rmse": ("rmse", _same), "mae": ("l1", _same)}.get(metric)
    if metric == "log_loss":
        return ("binary_logloss" if classes == 2 else "multi_logloss", _same)
    if classes != 2:
        return None
    return {"accuracy": ("binary_error", _accuracy), "roc_auc": ("auc", _same)}.get(metric)


def _default_metric(classes: int | None) -> str:
    if classes is None:
        return "l2"
    return "binary_logloss" if classes == 2 else "multi_logloss"


def _class_count(model: Any, y_train: Any) -> int | None:
    """None for a regressor; the number of classes in the training labels otherwise."""
    import numpy as np
    from sklearn.base import is_classifier

    if not is_classifier(model):
        return None
    return len(np.unique(np.asarray(y_train)))


def _maximize(metric: str) -> bool:
    from pipelines.sweeps.metrics import METRICS

    return METRICS[metric].direction == "maximize"
