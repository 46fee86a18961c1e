"""The shortcuts a live refresh takes must give what the plain computation gives: the
watch's incrementally built features frame equals the window's own frame after requests
arrive, are evicted and are re-read with labels (a batch of only missing values included);
column-wise schema drift equals the row-by-row check; numpy accuracy and F1 equal
scikit-learn's."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from pipelines.drift import DriftOptions, PreparedReference
from pipelines.monitoring.performance import real_performance
from pipelines.monitoring.schema_drift import frame_schema_drift, schema_drift
from pipelines.monitoring.window import MonitoringWindow
from pipelines.watch.reference import DeploymentFacts
from pipelines.watch.watcher import REQUEST, DeploymentWatch, WatchSettings

SCHEMA = {
    "columns": [
        {"name": "amount", "kind": "numeric", "required": True, "categories": None},
        {"name": "plan", "kind": "categorical", "required": True, "categories": ["a", "b"]},
        {"name": "visits", "kind": "numeric", "required": False, "categories": None},
    ]
}


def record(i: int, rng: random.Random, status: int = 200, label: Any = None) -> dict[str, Any]:
    row: dict[str, Any] = {"amount": rng.gauss(0, 1), "plan": rng.choice("abc")}
    row["visits"] = None if i % 7 == 0 else rng.randint(0, 9)
    if i % 5 == 0:
        row["promo"] = "x"  # a column the model never saw
    if status != 200:
        row["amount"] = "lots"
    answered = status == 200
    return {
        "id": i, "at": "2026-12-01T10:00:00+00:00", "version": "1", "status": status,
        "latency_ms": 2.0, "rows": 1, "inputs": [row],
        "predictions": ["a"] if answered else None,
        "probabilities": [{"a": 0.6, "b": 0.4}] if answered else None,
        "unseen": ["promo"] if "promo" in row else [], "error": None if answered else "bad",
        "label": label,
    }  # fmt: skip


def watch_of(window_rows: int) -> DeploymentWatch:
    reference = pd.DataFrame({"amount": np.arange(50.0), "plan": ["a", "b"] * 25})
    reference["visits"] = np.arange(50) % 9
    facts = DeploymentFacts("d", "http://127.0.0.1:9", None, "m:1", "r@D0", "classification",
                            "y", (), ("amount", "plan", "visits"), ("plan",), {})  # fmt: skip
    prepared = PreparedReference.prepare(reference, DriftOptions(columns=facts.features))
    return DeploymentWatch(facts, prepared, "r@D0", None, WatchSettings(max_rows=window_rows))


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[REQUEST], errors="ignore").reset_index(drop=True)


def test_the_incremental_frame_equals_the_windows_own_as_rows_come_and_go() -> None:
    rng = random.Random(1)
    watch = watch_of(window_rows=40)
    next_id = 1
    for batch in (25, 10, 30, 3, 40):
        records = [
            record(i, rng, 422 if i % 11 == 0 else 200) for i in range(next_id, next_id + batch)
        ]
        if batch == 3:  # a batch of only missing values in a numeric column
            for r in records:
                r["inputs"][0]["visits"] = None
        next_id += batch
        watch.window.extend(records)
        mine = plain(watch.features())
        theirs = watch.window.features()
        pd.testing.assert_frame_equal(mine[list(theirs.columns)], theirs, check_dtype=False)
        assert mine["visits"].dtype.kind == "f"  # still numbers
    relabelled = [dict(r, label="a") for r in [record(i, rng) for i in range(next_id - 5, next_id)]]
    watch.window.extend(relabelled)
    assert len(plain(watch.features())) == len(watch.window.features())


def test_column_wise_schema_drift_equals_the_row_by_row_check() -> None:
    rng = random.Random(2)
    window = MonitoringWindow(max_rows=None)
    window.extend([record(i, rng, 422 if i % 9 == 0 else 200) for i in range(1, 300)])
    frame = pd.DataFrame.from_records([row for e in window.answered() for row in e.inputs or []])
    refused = [(e.status, row) for e in window.refused() for row in e.inputs or []]
    fast, slow = frame_schema_drift(frame, refused, SCHEMA), schema_drift(window, SCHEMA)
    assert fast.unseen == slow.unseen and fast.new_categories == slow.new_categories
    assert fast.type_changes == slow.type_changes and fast.rows == slow.rows
    assert fast.refused_rows == slow.refused_rows and fast.new_categories["plan"]["c"] > 0


@pytest.mark.parametrize("classes", [["no", "yes"], ["a", "b", "c", "d"]])
def test_numpy_accuracy_and_f1_equal_scikit_learns(classes: list[str]) -> None:
    rng = np.random.default_rng(3)
    y_true = list(rng.choice(classes, 2000))
    y_pred = [t if rng.random() < 0.7 else rng.choice(classes[:-1]) for t in y_true]
    scored = real_performance("classification", y_true, y_pred, classes=classes)
    f1 = (
        f1_score(y_true, y_pred, average="binary", pos_label=classes[1])
        if len(classes) == 2
        else f1_score(y_true, y_pred, average="macro")
    )
    assert scored.get("accuracy").value == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    assert scored.get("f1").value == pytest.approx(f1, abs=1e-12)
