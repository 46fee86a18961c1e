"""CBPE, the estimated performance before labels: exact on hand-worked probabilities, equal
in expectation to the real score when labels follow the probabilities, and, through a real
server with a logistic model on data from a known logistic concept, tracking the real
accuracy under covariate shift while missing concept shift (which is what it assumes away).

The tolerance: if the assumptions hold, each row is right with the probability of its
predicted class, so the real accuracy of n rows is spread around the estimate with the
standard error sqrt(Σ p(1-p)) / n the estimate reports (about 0.018 for 600 rows here);
three of them, plus 0.02 for the calibration error of a logistic fit on 2,000 rows,
bounds the gap. The shift moves the real accuracy by far more than that (0.90 -> 0.72),
so an estimate that did not move would fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.monitoring.estimate import (
    ASSUMPTIONS,
    estimate_performance,
    window_estimate,
)
from pipelines.monitoring.feed import MonitoringError, RecordFeed
from pipelines.monitoring.performance import window_performance
from pipelines.monitoring.window import MonitoringWindow, refresh
from tests.serving_helpers import Server
from tests.test_monitoring_helpers import fit_bundle, logistic_data, post, records, url_of

ROWS = 600
CALIBRATION_SLACK = 0.02


def test_the_expected_confusion_matrix_gives_accuracy_and_f1_exactly() -> None:
    proba = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]
    estimate = estimate_performance(proba, ["a", "b"])
    assert estimate is not None and estimate.rows == 3
    assert estimate.accuracy == pytest.approx((0.9 + 0.8 + 0.6) / 3)
    # class b: TP 0.8 (row 2), FP 0.2 (row 2), FN 0.1 + 0.4 (rows 1, 3 predicted a)
    assert estimate.f1 == pytest.approx(1.6 / (1.6 + 0.2 + 0.5))
    as_logged = [{"a": 0.9, "b": 0.1}, {"a": 0.2, "b": 0.8}, {"a": 0.6, "b": 0.4}]
    assert estimate_performance(as_logged, ["a", "b"]) == estimate
    assert "calibrated" in ASSUMPTIONS and "no concept shift" in ASSUMPTIONS
    assert estimate.assumptions == ASSUMPTIONS and estimate.method == "CBPE"
    assert estimate_performance([], ["a", "b"]) is None


def test_with_labels_drawn_from_the_probabilities_the_estimate_is_the_mean_real_score() -> None:
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(7)
    proba = rng.dirichlet([0.6, 0.6, 0.6], size=3000)
    estimate = estimate_performance(proba, [0, 1, 2])
    assert estimate is not None
    predicted = proba.argmax(axis=1)
    accuracies, f1s = [], []
    for _ in range(100):
        labels = (rng.random((3000, 1)) > proba.cumsum(axis=1)).sum(axis=1)
        accuracies.append(accuracy_score(labels, predicted))
        f1s.append(f1_score(labels, predicted, average="macro"))
    assert np.mean(accuracies) == pytest.approx(estimate.accuracy, abs=0.003)
    assert np.std(accuracies) == pytest.approx(estimate.accuracy_std_error, rel=0.25)
    assert np.mean(f1s) == pytest.approx(estimate.f1, abs=0.005)


def test_impossible_inputs_are_one_line_errors() -> None:
    with pytest.raises(MonitoringError, match="two or more classes"):
        estimate_performance([[1.0]], ["a"])
    with pytest.raises(MonitoringError, match=r"shape \(1, 3\), expected rows × 2 classes"):
        estimate_performance([[0.2, 0.3, 0.5]], ["a", "b"])
    with pytest.raises(MonitoringError, match="'c' is not one of the classes"):
        estimate_performance([[0.2, 0.8]], ["a", "b"], predictions=["c"])


def send_labelled(url: str, X: Any, y: Any) -> None:
    rows, labels = records(X), list(y)
    for i in range(0, len(rows), 100):
        answer = post(url, "/predict", rows[i : i + 100])
        post(url, "/feedback", {"request_id": answer["request_id"], "label": labels[i : i + 100]})


def test_the_estimate_tracks_covariate_shift_and_misses_concept_shift(tmp_path: Path) -> None:
    X, y = logistic_data(2000, seed=0)
    bundle = fit_bundle(tmp_path / "bundle", X, y, "classification",
                        validation=logistic_data(2000, seed=1))  # fmt: skip
    server = Server(bundle, tmp_path / "log")
    try:
        url = url_of(server)
        feed, window = RecordFeed(url), MonitoringWindow(max_rows=ROWS)
        metadata = feed.metadata()
        seen = {}
        for phase, shifted in (
            ("reference", logistic_data(ROWS, seed=2)),
            ("covariate", logistic_data(ROWS, seed=3, shift=0.7)),
            ("concept", logistic_data(ROWS, seed=4, concept=True)),
        ):
            send_labelled(url, *shifted)
            assert refresh(feed, window).error is None and len(window) == ROWS
            estimated, real = (
                window_estimate(window, metadata),
                window_performance(window, metadata),
            )
            assert estimated is not None and real.labelled == ROWS
            seen[phase] = (estimated, real.get("accuracy").value, real.get("f1").value)  # type: ignore[union-attr]
    finally:
        server.stop()
    for phase in ("reference", "covariate"):
        estimated, accuracy, f1 = seen[phase]
        tolerance = 3 * estimated.accuracy_std_error + CALIBRATION_SLACK
        assert abs(estimated.accuracy - accuracy) <= tolerance, phase
        assert abs(estimated.f1 - f1) <= tolerance * 1.5, phase
    (before, real_before, _), (after, real_after, _) = seen["reference"], seen["covariate"]
    assert real_before - real_after > 0.1  # the shift really cost accuracy ...
    assert before.accuracy - after.accuracy > 0.1  # ... and the estimate saw it unlabelled
    assert before.training_accuracy == pytest.approx(real_before, abs=0.05)
    concept, real_concept, _ = seen["concept"]
    assert concept.accuracy - real_concept > 0.3  # concept shift: confident and wrong
