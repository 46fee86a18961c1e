"""Estimated performance of a classifier before its labels arrive, from its own confidence:
the confidence-based performance estimation NannyML calls CBPE.

If the probabilities are calibrated, a row predicted with probability p for its predicted
class is right with probability p, so the expected accuracy of a window is the mean of those
probabilities, and every cell of the confusion matrix has an expected value (the sum of the
probabilities that put a row in it), from which F1 follows. Nothing here needs a label.

What it assumes, said plainly (the panel shows `ASSUMPTIONS`): the model's probabilities are
calibrated, and only the inputs shifted (covariate shift), not the relation between inputs
and labels (no concept shift). Under concept shift the model is as confident as ever about
answers that are now wrong, so the estimate stays where it was while the real score falls:
that gap, once labels come, is how concept drift shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.monitoring.feed import MonitoringError

ASSUMPTIONS = (
    "estimated from the model's own confidence (CBPE): assumes its probabilities are "
    "calibrated and that only the inputs shifted, not how labels follow from them (no "
    "concept shift); under concept shift the estimate stays high while the real score falls"
)
METHOD = "CBPE"


@dataclass(frozen=True)
class EstimatedPerformance:
    """Expected accuracy and F1 of the window's rows, with the spread the real accuracy
    would have around the estimate if the assumptions hold."""

    rows: int
    accuracy: float
    accuracy_std_error: float  # sqrt(sum p(1-p)) / n: each row right with probability p
    f1: float  # F1 of the second class for two classes, macro F1 for more
    training_accuracy: float | None = None
    training_f1: float | None = None
    method: str = METHOD
    assumptions: str = ASSUMPTIONS

    def sentence(self) -> str:
        return (
            f"estimated over {self.rows} rows: accuracy {self.accuracy:.3f} "
            f"(± {2 * self.accuracy_std_error:.3f}), f1 {self.f1:.3f} ({self.method})"
        )


def estimate_performance(
    probabilities: Any,
    classes: Sequence[Any],
    predictions: Sequence[Any] | None = None,
    *,
    training: Mapping[str, Any] | None = None,
) -> EstimatedPerformance | None:
    """CBPE of rows × classes probabilities (an array in `classes` order, or one mapping
    class-as-text -> probability per row, as the server logs them). `predictions` default
    to the most probable class (what the server predicts). None for no rows."""
    import numpy as np

    names = [str(c) for c in classes]
    if len(names) < 2:
        raise MonitoringError("estimated performance needs a classifier with two or more classes")
    proba = _matrix(probabilities, names)
    if proba.shape[0] == 0:
        return None
    if predictions is None:
        predicted = np.argmax(proba, axis=1)
    else:
        where = {name: i for i, name in enumerate(names)}
        try:
            predicted = np.asarray([where[str(p)] for p in predictions], dtype=np.int64)
        except KeyError as exc:
            raise MonitoringError(f"prediction {exc.args[0]!r} is not one of the classes") from None
    rows = proba.shape[0]
    confidence = proba[np.arange(rows), predicted]
    trained = {str(k): v for k, v in (training or {}).items()}
    return EstimatedPerformance(
        rows=rows,
        accuracy=float(confidence.mean()),
        accuracy_std_error=float(np.sqrt(np.sum(confidence * (1 - confidence))) / rows),
        f1=expected_f1(proba, predicted),
        training_accuracy=_number(trained.get("accuracy")),
        training_f1=_number(trained.get("f1")),
    )


def expected_f1(proba: Any, predicted: Any) -> float:
    """F1 from the expected confusion matrix: for class k, expected TP is the sum of p_k
    over rows predicted k, FP the sum of 1 - p_k over them, FN the sum of p_k over the
    others. Two classes: the second class's F1; more: the mean over classes (macro)."""
    import numpy as np

    k = proba.shape[1]
    chosen = predicted[:, None] == np.arange(k)[None, :]
    tp = np.where(chosen, proba, 0.0).sum(axis=0)
    fp = np.where(chosen, 1.0 - proba, 0.0).sum(axis=0)
    fn = np.where(chosen, 0.0, proba).sum(axis=0)
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
    return float(f1[1]) if k == 2 else float(f1.mean())


def window_estimate(window: Any, metadata: Mapping[str, Any]) -> EstimatedPerformance | None:
    """CBPE over every answered row of a MonitoringWindow, labelled or not; None for a
    regressor, an empty window, or rows logged without probabilities."""
    classes = metadata.get("classes")
    if metadata.get("task") != "classification" or not classes:
        return None
    probabilities: list[Any] = []
    predictions: list[Any] = []
    for entry in window.answered():
        if entry.probabilities is None:
            return None
        probabilities += entry.probabilities
        predictions += entry.predictions or []
    return estimate_performance(
        probabilities, classes, predictions, training=metadata.get("metrics") or {}
    )


def _matrix(probabilities: Any, names: list[str]) -> Any:
    import numpy as np

    if (
        isinstance(probabilities, Sequence)
        and probabilities
        and isinstance(probabilities[0], Mapping)
    ):
        import pandas as pd

        table = pd.DataFrame.from_records(probabilities)  # columns at C speed, not per row
        absent = [name for name in names if name not in table.columns]
        if absent or table[names].isna().to_numpy().any():
            lacking = absent[0] if absent else next(n for n in names if table[n].isna().any())
            raise MonitoringError(f"probabilities lack class {lacking!r}")
        proba = table[names].to_numpy(dtype=float)
    else:
        proba = np.asarray(probabilities, dtype=float)
        if proba.size == 0:
            return proba.reshape(0, len(names))
    if proba.ndim != 2 or proba.shape[1] != len(names):
        raise MonitoringError(
            f"probabilities have shape {proba.shape}, expected rows × {len(names)} classes"
        )
    return proba


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
