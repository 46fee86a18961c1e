"""The numpy fold metrics (pipelines.sweeps.metrics) held to scikit-learn within 1e-12 on
generated cases, and the fold cache held to the pipeline fitted from scratch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from pipelines.sweeps.families import get_family
from pipelines.sweeps.folds import FoldCache
from pipelines.sweeps.metrics import rank_auc, score
from pipelines.sweeps.training import (
    evaluate,
    fit_fold,
    metrics_for,
    predict,
    prepare_target,
    splits,
)

TOLERANCE = 1e-12


def sklearn_score(metric: str, y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    """What the sweeps computed before: each metric through scikit-learn."""
    binary = len(classes) == 2
    if metric == "accuracy":
        return float(skm.accuracy_score(y_true, y_pred))
    if metric == "f1":
        if binary:
            return float(skm.f1_score(y_true, y_pred, average="binary", pos_label=classes[1]))
        return float(skm.f1_score(y_true, y_pred, average="macro"))
    if metric == "roc_auc":
        if binary:
            return float(skm.roc_auc_score(np.asarray(y_true) == classes[1], proba[:, 1]))
        return float(
            skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
        )
    if metric == "log_loss":
        return float(skm.log_loss(y_true, proba, labels=classes))
    if metric == "rmse":
        return float(np.sqrt(skm.mean_squared_error(y_true, y_pred)))
    if metric == "mae":
        return float(skm.mean_absolute_error(y_true, y_pred))
    return float(skm.r2_score(y_true, y_pred))


def same(ours: Any, theirs: Any) -> bool:
    """Both refused, both NaN, or within the tolerance."""
    if ours is ValueError or theirs is ValueError:
        return ours is theirs
    if np.isnan(ours) or np.isnan(theirs):
        return bool(np.isnan(ours) and np.isnan(theirs))
    return abs(ours - theirs) <= TOLERANCE


def both(metric: str, *args: Any) -> tuple[Any, Any]:
    """(numpy value or the ValueError type, scikit-learn value or the ValueError type)."""
    values = []
    for function in (score, sklearn_score):
        try:
            values.append(function(metric, *args))
        except ValueError:
            values.append(ValueError)
    return values[0], values[1]


def classification_case(
    rng: np.random.Generator, classes: list[Any], rows: int, ties: bool
) -> tuple[Any, Any, Any, Any]:
    """Labels, probabilities (rounded to a few levels when `ties`), argmax predictions."""
    raw = rng.random((rows, len(classes)))
    if ties:
        raw = np.round(raw * 4) + 0.5
    proba = raw / raw.sum(axis=1, keepdims=True)
    proba[rng.random(rows) < 0.05] = 1.0 / len(classes)  # exact ties across classes too
    labels = np.asarray(classes, dtype=object if isinstance(classes[0], str) else None)
    y_true = labels[rng.integers(0, len(classes), rows)]
    y_pred = labels[proba.argmax(axis=1)]
    return y_true, y_pred, proba, labels


CLASS_SETS = {
    "binary ints": [0, 1],
    "binary bools": [False, True],
    "binary text": ["no", "yes"],
    "three text": ["a", "b", "c"],
    "five ints": [2, 3, 5, 7, 11],
}


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("kind", list(CLASS_SETS))
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_classification_metrics_match_scikit_learn(kind: str, ties: bool) -> None:
    rng = np.random.default_rng(len(kind) + ties)
    for rows in (2, 7, 40, 333):
        y_true, y_pred, proba, classes = classification_case(rng, CLASS_SETS[kind], rows, ties)
        for metric in metrics_for("classification"):
            ours, theirs = both(metric, pd.Series(y_true), y_pred, proba, list(classes))
            assert same(ours, theirs), (kind, rows, metric, ours, theirs)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_roc_auc_is_nan_like_scikit_learn_when_a_class_is_absent() -> None:
    proba = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    y_true = np.array(["a", "c", "a"], dtype=object)
    classes = ["a", "b", "c"]
    ours, theirs = both("roc_auc", y_true, y_true, proba, classes)
    assert np.isnan(ours) and same(ours, theirs)
    one_class = np.array([1, 1, 1])
    binary = np.array([[0.3, 0.7], [0.4, 0.6], [0.9, 0.1]])
    ours, theirs = both("roc_auc", one_class, one_class, binary, [0, 1])
    assert np.isnan(ours) and same(ours, theirs)
    unsummed = np.array([[0.2, 0.3, 0.4], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    y_full = np.array(["a", "b", "c"], dtype=object)
    assert both("roc_auc", y_full, y_full, unsummed, classes) == (ValueError, ValueError)


def test_log_loss_clips_certain_wrong_answers_like_scikit_learn() -> None:
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    y_true = np.array([1, 1, 0, 0])
    ours, theirs = both("log_loss", y_true, proba.argmax(axis=1), proba, [0, 1])
    assert abs(ours - theirs) <= TOLERANCE


def test_rank_auc_matches_scikit_learn_on_heavy_ties() -> None:
    rng = np.random.default_rng(3)
    for levels in (1, 2, 3, 10):
        scores = rng.integers(0, levels, 500).astype(float)
        positive = rng.random(500) < 0.3
        assert abs(rank_auc(positive, scores) - skm.roc_auc_score(positive, scores)) <= TOLERANCE


def test_regression_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(11)
    cases = [(rng.normal(size=n) * 100, rng.normal(size=n) * 100) for n in (2, 5, 300)]
    constant = np.full(9, 3.25)
    cases += [(constant, constant), (constant, constant + rng.normal(size=9))]
    cases += [(np.arange(6.0), np.arange(6.0))]
    for truth, predicted in cases:
        for metric in metrics_for("regression"):
            ours, theirs = both(metric, pd.Series(truth), predicted, None, [])
            assert same(ours, theirs), (metric, ours, theirs)


def test_non_finite_predictions_are_refused_like_scikit_learn() -> None:
    truth, predicted = np.arange(4.0), np.array([0.0, np.nan, 2.0, 3.0])
    for metric in metrics_for("regression"):
        assert both(metric, truth, predicted, None, []) == (ValueError, ValueError)
    proba = np.array([[0.5, np.nan], [0.5, 0.5]])
    for metric in ("roc_auc", "log_loss"):
        assert both(metric, np.array([0, 1]), np.array([0, 1]), proba, [0, 1]) == (
            ValueError,
            ValueError,
        )


def churn() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(5)
    rows = 240
    X = pd.DataFrame(
        {
            "tenure": rng.integers(0, 60, rows).astype(float),
            "charges": rng.normal(60, 15, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows).astype(object),
        }
    )
    X.loc[rng.random(rows) < 0.1, "charges"] = np.nan
    X.loc[rng.random(rows) < 0.1, "plan"] = None
    churned = (X["tenure"] < 20) ^ (rng.random(rows) < 0.2)
    return X, pd.Series(np.where(churned, "yes", "no"), name="churned")


@pytest.mark.parametrize("model", ["linear", "lightgbm", "random_forest"])
def test_cached_preprocessing_gives_the_predictions_of_a_pipeline_fitted_from_scratch(
    model: str,
) -> None:
    X, y = churn()
    family = get_family(model)
    quick = {"n_estimators": 20} if model != "linear" else {"C": 0.5}
    cache = FoldCache()
    kwargs: dict[str, Any] = {"task": "classification", "family": family, "metric": "roc_auc"}
    other = {"n_estimators": 30} if model != "linear" else {"C": 3.0}
    warm = evaluate(X, y, params=other, folds=3, seed=4, cache=cache, **kwargs)
    cached = evaluate(X, y, params=quick, folds=3, seed=4, cache=cache, **kwargs)
    fresh = evaluate(X, y, params=quick, folds=3, seed=4, **kwargs)
    assert cached.metrics == fresh.metrics and cached.fold_scores == fresh.fold_scores
    assert cached.curves == fresh.curves and cached.importances == fresh.importances
    assert np.array_equal(cached.held_out.y_pred, fresh.held_out.y_pred)
    assert warm.metrics != cached.metrics  # the cache kept folds, not a trial's model
    # Against the pipeline refit whole on each fold, as a trial fitted before the cache.
    prepared = prepare_target(y, "classification")
    by_row = dict(zip(cached.held_out.rows, cached.held_out.y_pred, strict=True))
    for train, valid in splits(prepared, "classification", 3, None, 4):
        pipeline, _ = fit_fold(
            X.iloc[train],
            prepared.iloc[train],
            X.iloc[valid],
            prepared.iloc[valid],
            params=quick,
            seed=4,
            **kwargs,
        )
        predictions, proba, classes = predict(pipeline, X.iloc[valid], "classification")
        assert list(predictions) == [by_row[r] for r in valid]
        ours = score("roc_auc", prepared.iloc[valid], predictions, proba, classes)
        theirs = sklearn_score("roc_auc", prepared.iloc[valid], predictions, proba, classes)
        assert abs(ours - theirs) <= TOLERANCE


def test_the_fold_cache_forgets_a_frame_it_was_not_given() -> None:
    X, y = churn()
    cache = FoldCache()
    family = get_family("linear")
    kwargs: dict[str, Any] = {"task": "classification", "family": family, "seed": 1}
    first = cache.folds(X, y, folds=3, holdout=None, **kwargs)
    assert cache.folds(X, y, folds=3, holdout=None, **kwargs)[0] is first[0]
    fewer = X.iloc[:200].reset_index(drop=True), y.iloc[:200].reset_index(drop=True)
    again = cache.folds(*fewer, folds=3, holdout=None, **kwargs)
    assert again[0] is not first[0] and len(again[0].valid) + len(again[0].train) == 200
