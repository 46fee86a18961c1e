"""Real performance once labels arrive, through real servers: a wine classifier (accuracy,
macro F1) and a diabetes regressor (RMSE, MAE), each against its training score from
/metadata, checked against scikit-learn computed independently on the same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics

from pipelines.monitoring.feed import MonitoringError, RecordFeed
from pipelines.monitoring.performance import real_performance, window_performance
from pipelines.monitoring.window import MonitoringWindow, refresh
from tests.serving_helpers import Server
from tests.test_monitoring_helpers import fit_bundle, post, records, sample, url_of


def serve_and_label(
    tmp_path: Path, name: str, task: str, labels_for: slice, offset: float = 0.0
) -> tuple[MonitoringWindow, dict, list, list]:
    """Train on every other row, serve, send the rest in batches of 20 and label the
    requests in `labels_for` (regression labels moved by `offset`: concept drift); returns
    the refreshed window, /metadata, y_true, y_pred."""
    X, y = sample(name)
    train, rest = X.index % 2 == 0, X.index % 2 == 1
    bundle = fit_bundle(tmp_path / name, X[train], y[train], task,
                        validation=(X[train], y[train]))  # fmt: skip
    server = Server(bundle, tmp_path / f"{name}-log")
    try:
        url, rows, truth = url_of(server), records(X[rest]), list(y[rest])
        answers = [post(url, "/predict", rows[i : i + 20]) for i in range(0, len(rows), 20)]
        y_true, y_pred = [], []
        for i, answer in list(enumerate(answers))[labels_for]:
            labels = [v + offset if offset else v for v in truth[i * 20 : i * 20 + 20]]
            post(url, "/feedback", {"request_id": answer["request_id"], "label": labels})
            y_true += labels
            y_pred += answer["predictions"]
        feed, window = RecordFeed(url), MonitoringWindow(max_rows=10_000)
        assert refresh(feed, window).error is None
        return window, feed.metadata(), y_true, y_pred
    finally:
        server.stop()


def test_a_classifier_scores_accuracy_and_macro_f1_against_its_training_score(
    tmp_path: Path,
) -> None:
    window, metadata, y_true, y_pred = serve_and_label(tmp_path, "wine", "classification",
                                                       slice(0, 3))  # fmt: skip
    performance = window_performance(window, metadata)
    assert performance.labelled == len(y_true) == 60
    accuracy, f1 = performance.get("accuracy"), performance.get("f1")
    assert accuracy is not None and f1 is not None
    assert accuracy.value == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert f1.value == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro"))
    assert accuracy.training == pytest.approx(metadata["metrics"]["accuracy"])
    assert accuracy.training is not None
    assert accuracy.change == pytest.approx(accuracy.value - accuracy.training)
    assert "over 60 labelled rows: accuracy" in performance.sentence()


def test_a_regressor_scores_rmse_and_mae_and_says_when_it_is_worse(tmp_path: Path) -> None:
    window, metadata, y_true, y_pred = serve_and_label(tmp_path, "diabetes", "regression",
                                                       slice(None), offset=60.0)  # fmt: skip
    performance = window_performance(window, metadata)
    residual = np.asarray(y_true) - np.asarray(y_pred)
    rmse, mae = performance.get("rmse"), performance.get("mae")
    assert rmse is not None and mae is not None
    assert performance.labelled == len(y_true) == 221
    assert rmse.value == pytest.approx(float(np.sqrt(np.mean(residual**2))))
    assert mae.value == pytest.approx(float(np.mean(np.abs(residual))))
    assert rmse.training == pytest.approx(metadata["metrics"]["rmse"])
    assert rmse.worse is True and (rmse.change or 0) > 10  # labels moved 60 from what it learnt


def test_no_labels_yet_and_bad_labels_are_said_plainly() -> None:
    none = real_performance("classification", [], [])
    assert none.metrics == () and none.sentence() == "no labels have arrived in this window yet"
    binary = real_performance("classification", ["0", 1, 1, 0], [0, 1, 0, 0], classes=[0, 1])
    assert binary.get("f1").value == pytest.approx(2 / 3)  # type: ignore[union-attr]
    assert binary.get("accuracy").worse is None  # type: ignore[union-attr]
    with pytest.raises(MonitoringError, match="labels must be numbers"):
        real_performance("regression", ["high"], [1.0])
    with pytest.raises(MonitoringError, match="2 labels for 1 predictions"):
        real_performance("regression", [1.0, 2.0], [1.0])
