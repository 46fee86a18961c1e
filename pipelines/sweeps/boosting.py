"""LightGBM fitted with its validation rows as an eval set: per-iteration curves of its own
metric and of the sweep metric (a cheap numpy scorer), the sweep metric reported for pruning
after every iteration (see pipelines.sweeps.training)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from pipelines.sweeps.iteration_metrics import iteration_scorer

Report = Callable[[int, float], None]


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
) -> dict[str, list[float]]:
    """Fit LightGBM on preprocessed rows with a validation set, so it records, per
    iteration, its own eval metric and the sweep metric; the sweep metric goes to `report`."""
    import inspect

    callbacks = []
    if report is not None:

        def reporter(env: Any) -> None:
            for _data, name, value, _higher in env.evaluation_result_list:
                if name == metric and math.isfinite(value):
                    report(env.iteration, float(value))

        callbacks.append(reporter)
    fit_args: dict[str, Any] = {
        "eval_names": ["valid"],
        "eval_metric": iteration_scorer(metric, _maximize(metric)),
        "callbacks": callbacks,
    }
    with warnings.catch_warnings():
        # LightGBM 4.7 deprecates eval_set for eval_X/eval_y, but LGBMClassifier encodes
        # the labels of eval_set only: string (or non 0..k-1) labels need eval_set.
        warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
        if "eval_set" in inspect.signature(model.fit).parameters:
            model.fit(train, y_train, eval_set=[(valid, y_valid)], **fit_args)
        else:
            model.fit(train, y_train, eval_X=(valid,), eval_y=(y_valid,), **fit_args)
    recorded = getattr(model, "evals_result_", {}).get("valid", {})
    return {f"valid_{name}": [float(v) for v in values] for name, values in recorded.items()}


def _maximize(metric: str) -> bool:
    from pipelines.sweeps.metrics import METRICS

    return METRICS[metric].direction == "maximize"
