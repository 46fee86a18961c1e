"""The fold metrics in numpy, from the one prediction a fold makes.

scikit-learn's metric functions each validate and re-encode their inputs (type_of_target,
unique labels, label binarizing): profiled, that was most of a cheap trial. These compute
the same values (held to scikit-learn within 1e-12 by tests/test_sweep_metrics.py) and
raise ValueError where scikit-learn does for inputs a fitted model can produce (non-finite
predictions, probabilities out of [0, 1], multiclass ROC AUC rows not summing to 1); ROC
AUC is NaN, as scikit-learn 1.9 makes it, when a class is absent from the rows.

Labels: `classes` is the fitted model's sorted `classes_`; `y_pred` holds values of it;
`proba` has one column per class in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class MetricSpec:
    """A metric the sweeps can optimise, and which way is better."""

    name: str
    task: str
    direction: Literal["maximize", "minimize"]
    needs_proba: bool


METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("accuracy", "classification", "maximize", False),
        MetricSpec("f1", "classification", "maximize", False),
        MetricSpec("roc_auc", "classification", "maximize", True),
        MetricSpec("log_loss", "classification", "minimize", True),
        MetricSpec("rmse", "regression", "minimize", False),
        MetricSpec("mae", "regression", "minimize", False),
        MetricSpec("r2", "regression", "maximize", False),
    )
}


CLASSIFICATION = ("accuracy", "f1", "roc_auc", "log_loss")
REGRESSION = ("rmse", "mae", "r2")


def score(metric: str, y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    """One metric, as pipelines.sweeps.training's scikit-learn `score` computes it."""
    import numpy as np

    truth = np.asarray(y_true)
    if metric in REGRESSION:
        return _regression(metric, truth.astype(float), _finite(np.asarray(y_pred, float)))
    if metric == "accuracy":
        return float(np.mean(truth == np.asarray(y_pred)))
    if metric == "f1":
        predicted = np.asarray(y_pred)
        if len(classes) == 2:
            return _f1(truth == classes[1], predicted == classes[1])
        present = np.union1d(truth, predicted)
        return float(np.mean([_f1(truth == k, predicted == k) for k in present]))
    if metric == "log_loss":
        probabilities = _probabilities(proba)
        if probabilities.max() > 1 or probabilities.min() < 0:
            raise ValueError("class probabilities outside [0, 1]")
        columns = np.searchsorted(np.asarray(classes), truth)
        if np.any(columns >= len(classes)) or np.any(np.asarray(classes)[columns] != truth):
            raise ValueError("y_true contains labels not in the model's classes")
        eps = np.finfo(probabilities.dtype).eps
        chosen = np.clip(probabilities[np.arange(len(truth)), columns], eps, 1 - eps)
        return float(np.mean(-np.log(chosen)))
    if metric == "roc_auc":
        if len(classes) == 2:  # only the positive column is looked at
            return rank_auc(truth == classes[1], _probabilities(np.asarray(proba)[:, 1]))
        probabilities = _probabilities(proba)
        if not np.allclose(1, probabilities.sum(axis=1)):
            raise ValueError("roc_auc: class probabilities do not sum to 1")
        if len(np.setdiff1d(truth, np.asarray(classes))):
            raise ValueError("y_true contains labels not in the model's classes")
        per_class = [rank_auc(truth == k, probabilities[:, i]) for i, k in enumerate(classes)]
        return float(np.mean(per_class))
    raise ValueError(f"unknown metric {metric!r}")


def rank_auc(positive: Any, scores: Any) -> float:
    """ROC AUC as the Mann-Whitney U statistic over average ranks (ties share their mean
    rank): exactly the area scikit-learn's trapezoids measure; NaN with a single class."""
    import numpy as np

    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    n_pos = int(positive.sum())
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")  # undefined, as scikit-learn says (with a warning)
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], n]
    mean_rank = (starts + ends + 1) / 2.0  # ranks start+1 .. end, 1-based
    ranks = np.repeat(mean_rank, ends - starts)
    rank_sum = float(ranks[positive[order]].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _f1(actual: Any, predicted: Any) -> float:
    true_positive = float((actual & predicted).sum())
    denominator = float(actual.sum() + predicted.sum())
    return 2.0 * true_positive / denominator if denominator else 0.0


def _regression(metric: str, truth: Any, predicted: Any) -> float:
    import numpy as np

    if metric == "rmse":
        return float(np.sqrt(np.mean((truth - predicted) ** 2)))
    if metric == "mae":
        return float(np.mean(np.abs(predicted - truth)))
    if len(truth) < 2:
        return float("nan")
    numerator = float(np.sum((truth - predicted) ** 2))
    denominator = float(np.sum((truth - np.mean(truth)) ** 2))
    if denominator == 0:
        return 1.0 if numerator == 0 else 0.0
    return 1.0 - numerator / denominator


def _finite(values: Any) -> Any:
    import numpy as np

    if not np.isfinite(values).all():
        raise ValueError("predictions contain NaN or infinity")
    return values


def _probabilities(proba: Any) -> Any:
    import numpy as np

    values = np.asarray(proba)
    if values.dtype.kind != "f":
        values = values.astype(float)
    return _finite(values)
