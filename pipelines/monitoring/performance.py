"""The model's real performance in a window, once labels have arrived through `/feedback`,
beside the score it had in training (`/metadata` metrics): accuracy and F1 for a
classifier (F1 of the second class for two classes, macro F1 for more, as the sweeps score
it), RMSE and MAE for a regressor. A falling score with labels in hand is concept drift, or
covariate drift the model does not handle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.monitoring.feed import MonitoringError

CLASSIFICATION_METRICS = ("accuracy", "f1")
REGRESSION_METRICS = ("rmse", "mae")
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})


@dataclass(frozen=True)
class MetricValue:
    """One metric over the window's labelled rows, and the training score to read it by."""

    name: str
    value: float
    training: float | None  # from /metadata metrics (cross-validated at training time)

    @property
    def change(self) -> float | None:
        """value - training (negative is worse for accuracy/F1, positive for RMSE/MAE)."""
        return None if self.training is None else self.value - self.training

    @property
    def worse(self) -> bool | None:
        if self.training is None:
            return None
        if self.name in LOWER_IS_BETTER:
            return self.value > self.training
        return self.value < self.training


@dataclass(frozen=True)
class RealPerformance:
    task: str
    labelled: int  # rows with a label
    metrics: tuple[MetricValue, ...]  # empty when no label has arrived

    def get(self, name: str) -> MetricValue | None:
        return next((m for m in self.metrics if m.name == name), None)

    def sentence(self) -> str:
        if not self.metrics:
            return "no labels have arrived in this window yet"
        parts = []
        for m in self.metrics:
            trained = "" if m.training is None else f" (training {m.training:.3f})"
            parts.append(f"{m.name} {m.value:.3f}{trained}")
        return f"over {self.labelled} labelled rows: " + ", ".join(parts)


def real_performance(
    task: str,
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    *,
    classes: Sequence[Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> RealPerformance:
    """Score predictions against labels. Class labels are compared as text (JSON may bring
    a label as "1" for a class 1); `classes` is the model's class order (its second is the
    positive class of a binary F1)."""
    if len(y_true) != len(y_pred):
        raise MonitoringError(f"{len(y_true)} labels for {len(y_pred)} predictions")
    trained = {str(k): v for k, v in (training or {}).items()}
    if not len(y_true):
        return RealPerformance(task, 0, ())
    if task == "classification":
        values = _classification(y_true, y_pred, classes)
    else:
        values = _regression(y_true, y_pred)
    metrics = tuple(MetricValue(k, v, _number(trained.get(k))) for k, v in values.items())
    return RealPerformance(task, len(y_true), metrics)


def window_performance(window: Any, metadata: Mapping[str, Any]) -> RealPerformance:
    """`real_performance` of a MonitoringWindow's labelled rows, with the task, classes and
    training metrics `/metadata` gave."""
    y_true, y_pred, _ = window.labelled()
    return real_performance(
        str(metadata.get("task")),
        y_true,
        y_pred,
        classes=metadata.get("classes"),
        training=metadata.get("metrics") or {},
    )


def _classification(
    y_true: Sequence[Any], y_pred: Sequence[Any], classes: Sequence[Any] | None
) -> dict[str, float]:
    """Accuracy and F1 (the second class's for two classes, else macro over the classes
    present), as scikit-learn defines them, counted with numpy: a live panel scores tens of
    thousands of rows every few seconds, and scikit-learn's input checks cost most of it."""
    import numpy as np

    true = np.asarray([str(v) for v in y_true], dtype=object)
    pred = np.asarray([str(v) for v in y_pred], dtype=object)
    labels = [str(c) for c in classes] if classes else sorted(set(true) | set(pred))
    accuracy = float(np.mean(true == pred))
    if len(labels) == 2:
        f1 = _f1(true, pred, labels[1])
    else:
        present = [c for c in labels if c in set(true) | set(pred)]
        f1 = float(np.mean([_f1(true, pred, c) for c in present])) if present else 0.0
    return {"accuracy": accuracy, "f1": f1}


def _f1(true: Any, pred: Any, label: str) -> float:
    is_true, is_pred = true == label, pred == label
    tp = int((is_true & is_pred).sum())
    wrong = int((is_pred & ~is_true).sum()) + int((is_true & ~is_pred).sum())
    return 2 * tp / (2 * tp + wrong) if tp or wrong else 0.0


def _regression(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, float]:
    import numpy as np

    try:
        true = np.asarray(y_true, dtype=float)
        pred = np.asarray(y_pred, dtype=float)
    except (TypeError, ValueError):
        raise MonitoringError("a regressor's labels must be numbers; some are not") from None
    residual = true - pred
    return {
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mae": float(np.mean(np.abs(residual))),
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
