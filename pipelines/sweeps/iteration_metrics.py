"""The sweep metrics in plain numpy, cheap enough to compute after every boosting iteration.

LightGBM calls the scorer with its own encoded labels (0..k-1) and, for its built-in
objectives, probabilities: shape (n,) for binary (the positive class), (n, k) for
multiclass; raw predictions for regression. The values match scikit-learn's metrics (the
ones the fold scores use) up to probability clipping in log_loss. A value that is undefined
on the rows (e.g. roc_auc when a class is absent) is NaN and is not reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Scorer = Callable[[Any, Any], tuple[str, float, bool]]


def iteration_scorer(metric: str, higher_is_better: bool) -> Scorer:
    """A LightGBM `eval_metric` callable named after the sweep metric."""

    def scorer(y_true: Any, y_pred: Any) -> tuple[str, float, bool]:
        return metric, fast_score(metric, y_true, y_pred), higher_is_better

    return scorer


def fast_score(metric: str, y_true: Any, y_pred: Any) -> float:
    import numpy as np

    y = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    if metric in ("rmse", "mae", "r2"):
        error = pred - y
        if metric == "rmse":
            return float(np.sqrt(np.mean(error**2)))
        if metric == "mae":
            return float(np.mean(np.abs(error)))
        total = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - float(np.sum(error**2)) / total if total > 0 else float("nan")
    labels = y.astype(int)
    proba = pred if pred.ndim == 2 else np.column_stack([1.0 - pred, pred])
    predicted = (pred > 0.5).astype(int) if pred.ndim == 1 else proba.argmax(axis=1)
    if metric == "accuracy":
        return float(np.mean(predicted == labels))
    if metric == "log_loss":
        chosen = proba[np.arange(len(labels)), labels] / proba.sum(axis=1)
        return float(-np.mean(np.log(np.clip(chosen, 1e-15, 1.0))))
    if metric == "f1":
        if proba.shape[1] == 2:
            return _f1(labels == 1, predicted == 1)
        present = np.union1d(labels, predicted)
        return float(np.mean([_f1(labels == k, predicted == k) for k in present]))
    if metric == "roc_auc":
        if proba.shape[1] == 2:
            return _auc(labels == 1, proba[:, 1])
        return float(np.mean([_auc(labels == k, proba[:, k]) for k in range(proba.shape[1])]))
    raise ValueError(f"no per-iteration scorer for metric {metric!r}")


def _f1(actual: Any, predicted: Any) -> float:
    true_positive = float((actual & predicted).sum())
    denominator = float(actual.sum() + predicted.sum())
    return 2.0 * true_positive / denominator if denominator else 0.0


def _auc(positive: Any, scores: Any) -> float:
    """Mann-Whitney U over average ranks: the same value as roc_auc_score, ties included."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return (float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
