"""Scoring a checked frame: the one path the HTTP app and batch scoring (`workbench predict`)
both take, so a row gets the same prediction whichever way it is scored.

A classifier is asked only for its class probabilities, and the prediction is the class with
the highest one (the first on a tie): one pass through the pipeline instead of two, and the
prediction and the probabilities shown beside it can never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.serving.bundle import BundleManifest


@dataclass(frozen=True)
class Scored:
    """Predictions (one per row) and, for a classifier, probabilities (rows × classes)."""

    predictions: Any  # numpy array
    probabilities: Any | None  # numpy array, columns in `classes` order
    classes: list[Any] | None

    def prediction_list(self) -> list[Any]:
        return [_plain(v) for v in self.predictions.tolist()]

    def probability_list(self) -> list[dict[str, float]] | None:
        """Per row, class (as text, since JSON keys are text) → probability."""
        if self.probabilities is None or self.classes is None:
            return None
        names = [str(c) for c in self.classes]
        return [dict(zip(names, row, strict=True)) for row in self.probabilities.tolist()]


def score(model: Any, manifest: BundleManifest, frame: Any) -> Scored:
    """Predict on `frame`, a frame that passed the schema check. scikit-learn's per-call
    input and parameter validation is skipped (a fifth of a one-row call; the schema check
    refuses non-finite numbers), which changes no result on finite input."""
    import sklearn

    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        return _score(model, manifest, frame)


def _score(model: Any, manifest: BundleManifest, frame: Any) -> Scored:
    import numpy as np

    proba = getattr(model, "predict_proba", None)
    if manifest.task == "classification" and callable(proba):
        probabilities = np.asarray(proba(frame), dtype=float)
        fitted = getattr(model, "classes_", None)
        classes = list(fitted) if fitted is not None else list(manifest.classes or [])
        if len(classes) != probabilities.shape[1]:
            classes = list(range(probabilities.shape[1]))
        labels = np.asarray(classes, dtype=object)
        predictions = labels[np.argmax(probabilities, axis=1)]
        if all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in classes):
            predictions = predictions.astype(np.int64)
        return Scored(predictions, probabilities, [_plain(c) for c in classes])
    return Scored(np.asarray(model.predict(frame)), None, None)


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value
