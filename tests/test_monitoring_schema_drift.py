"""Schema drift against a real served churn model (numeric and categorical columns): an
unseen column arriving, a required column missing, text in a numeric column and a
category never seen in training, read from what the server logged, answered or refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.monitoring.feed import RecordFeed
from pipelines.monitoring.schema_drift import rows_schema_drift, schema_drift
from pipelines.monitoring.window import MonitoringWindow, refresh
from tests.serving_helpers import CHURN, FEATURES, Server
from tests.test_monitoring_helpers import fit_bundle, post, records, url_of


def test_unseen_missing_mistyped_and_new_categories_are_counted_and_said(
    tmp_path: Path,
) -> None:
    frame = pd.read_csv(CHURN, float_precision="round_trip")
    X, y = frame[FEATURES], frame["churned"]
    server = Server(fit_bundle(tmp_path / "bundle", X, y, "classification"), tmp_path / "log")
    try:
        url, rows = url_of(server), records(X.head(12))
        feed, window = RecordFeed(url), MonitoringWindow()
        post(url, "/predict", rows[:4])
        refresh(feed, window)
        metadata = feed.metadata()
        clean = schema_drift(window, metadata["schema"])
        assert not clean.drifted and clean.rows == 4
        assert clean.sentences() == ["all 4 rows fit the model's schema"]
        post(url, "/predict", [{**r, "promo\x1bcode": "VIP"} for r in rows[4:7]])  # answered
        no_region = {k: v for k, v in rows[7].items() if k != "region"}
        assert post(url, "/predict", no_region)["detail"].startswith("input does not fit")
        texty = [{**r, "monthly_charges": "12,50"} for r in rows[8:10]]
        assert "monthly_charges" in post(url, "/predict", texty)["detail"]
        post(url, "/predict", {**rows[10], "region": "Mars"})  # answered: any scalar category
        refresh(feed, window)
    finally:
        server.stop()
    drift = schema_drift(window, metadata["schema"])
    assert drift.drifted and drift.rows == 11 and drift.refused_rows == 3
    assert drift.unseen == {"promo\x1bcode": 3}
    assert drift.missing == {"region": 1}
    [change] = drift.type_changes
    assert (change.column, change.expected, change.seen, change.rows) == (
        "monthly_charges", "numeric", "text", 2
    )  # fmt: skip
    assert change.example == "'12,50'"
    assert drift.new_categories == {"region": {"Mars": 1}}
    said = drift.sentences()
    assert said[0] == "required column region is missing from 1 rows"
    assert said[1] == "monthly_charges expects numeric values but 2 rows sent text (e.g. '12,50')"
    assert any("column promo" in s and "never saw, is in 3 rows" in s for s in said)
    assert all("\x1b" not in s for s in said)  # a control character is shown, not sent
    assert said[-1].startswith("region has 1 rows with categories never seen in training: Mars")


def test_an_empty_window_and_odd_values_are_said_plainly() -> None:
    schema = {"columns": [{"name": "x", "kind": "numeric"}, {"name": "t", "kind": "time"}]}
    assert rows_schema_drift([], schema).sentences() == ["no requests in the window yet"]
    odd = [(422, {"x": True, "t": 3}), (422, {"x": [1], "t": False}), (200, {"x": None, "t": None})]
    odd.append((200, {"x": "trusted: the server answered it", "t": None}))
    drift = rows_schema_drift(odd, schema)
    assert [(c.column, c.seen, c.rows) for c in drift.type_changes] == [
        ("x", "booleans", 1), ("x", "lists", 1), ("t", "booleans", 1)
    ]  # fmt: skip
    assert drift.rows == 4 and drift.refused_rows == 2
    assert drift.missing == {} and drift.unseen == {}
