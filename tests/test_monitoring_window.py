"""The record feed and the sliding window against a real served wine model on 127.0.0.1:
each record read once, paging bounded, labels arriving later replacing what the window
holds, the window's row and age limits, traffic, and a deployment that stops answering."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.monitoring.feed import MonitoringError, RecordFeed
from pipelines.monitoring.window import MonitoringWindow, refresh
from tests.serving_helpers import Server
from tests.test_monitoring_helpers import fit_bundle, post, records, sample, url_of

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[dict[str, Any]]]]:
    root = tmp_path_factory.mktemp("wine")
    X, y = sample("wine")
    bundle = fit_bundle(root / "bundle", X, y, "classification", name="wine")
    server = Server(bundle, root / "log", token=TOKEN)
    try:
        yield server, records(X)
    finally:
        server.stop()


def send(server: Server, body: Any) -> dict[str, Any]:
    return post(url_of(server), "/predict", body, TOKEN)


def test_the_feed_reads_each_record_once_and_pages_until_caught_up(wine: Any) -> None:
    server, rows = wine
    feed = RecordFeed(url_of(server), TOKEN, page=10)
    feed.pull()  # whatever earlier tests logged
    first = feed.after
    ids = [send(server, rows[i])["request_id"] for i in range(25)]
    ids.append(send(server, rows[25:28])["request_id"])
    got = feed.pull()
    assert [r["id"] for r in got] == ids and got[-1]["rows"] == 3
    assert feed.pull() == [] and feed.after == ids[-1] > first
    again = RecordFeed(url_of(server), TOKEN, after=first, page=5, max_pages=2)
    assert [r["id"] for r in again.pull()] == ids[:10]  # bounded per call ...
    assert again.behind == 16
    assert [r["id"] for r in again.pull(limit=3)] == ids[10:13]  # ... and by `limit`
    assert [r["id"] for r in again.reread(first, ids[2])] == ids[:3]
    assert again.after == ids[12]  # a re-read does not move the feed
    with pytest.raises(MonitoringError, match="its request log was replaced"):
        RecordFeed(url_of(server), TOKEN, after=10**6).pull()  # a server with a new log


def test_a_label_arriving_later_reaches_the_window(wine: Any) -> None:
    server, rows = wine
    feed = RecordFeed(url_of(server), TOKEN)
    feed.pull()
    window = MonitoringWindow(max_rows=1000)
    single = send(server, rows[0])
    batch = send(server, rows[100:102])
    later = send(server, rows[150])
    assert refresh(feed, window).new == 3
    assert window.oldest_unlabelled_id() == single["request_id"]
    assert window.labelled() == ([], [], None)
    labels = {batch["request_id"]: ["class_1", "class_2"], single["request_id"]: "class_0"}
    for request_id, label in labels.items():
        answer = post(url_of(server), "/feedback", {"request_id": request_id, "label": label},
                      TOKEN)  # fmt: skip
        assert answer["request_id"] == request_id
    waited = refresh(feed, window, label_wait_s=0.0)  # no longer waiting: nothing re-read
    assert waited.reread == 0 and window.labelled() == ([], [], None)
    done = refresh(feed, window)
    assert done.new == 0 and done.reread >= 2
    y_true, y_pred, proba = window.labelled()
    assert y_true == ["class_0", "class_1", "class_2"]
    assert y_pred == single["predictions"] + batch["predictions"]
    assert proba is not None and proba[0] == single["probabilities"][0]
    assert window.oldest_unlabelled_id() == later["request_id"]
    table = window.predictions()
    assert list(table["labelled"]) == [True, True, True, False]
    assert list(table["request_id"])[1:3] == [batch["request_id"]] * 2
    assert list(window.features()["alcohol"]) == [rows[i]["alcohol"] for i in (0, 100, 101, 150)]
    probabilities = window.probabilities()
    assert probabilities is not None
    assert list(probabilities.columns) == ["class_0", "class_1", "class_2"]
    assert list(window.features(["alcohol", "absent"]).columns) == ["alcohol", "absent"]
    assert len(window.of_version("1")) == 4 and len(window.of_version("2")) == 0


def test_the_window_keeps_the_last_rows_and_the_last_seconds(wine: Any) -> None:
    server, rows = wine
    feed = RecordFeed(url_of(server), TOKEN)
    feed.pull()
    for i in range(8):
        send(server, rows[i])
    send(server, rows[8:11])  # one request of three rows
    window = MonitoringWindow(max_rows=6)
    refresh(feed, window)
    assert len(window) == 6  # the three-row request and the three before it
    assert [e.rows for e in window.entries] == [1, 1, 1, 3]
    window.max_rows = 3
    window.trim()
    assert len(window) == 3 and len(window.entries) == 1
    newest = window.entries[-1].at
    assert newest is not None
    aged = MonitoringWindow(max_rows=None, max_age_s=30)
    aged.extend(feed.reread(feed.after - 9, feed.after), now=newest + timedelta(seconds=10))
    assert len(aged) == 11
    aged.trim(now=newest + timedelta(seconds=31))
    assert len(aged) == 0 and aged.oldest_unlabelled_id() is None
    with pytest.raises(MonitoringError, match="at least one row"):
        MonitoringWindow(max_rows=0)


def test_traffic_counts_rate_latency_errors_and_unseen_columns(wine: Any) -> None:
    server, rows = wine
    feed = RecordFeed(url_of(server), TOKEN)
    feed.pull()
    for i in range(5):
        send(server, {**rows[i], "coupon": "X1"} if i % 2 else rows[i])
    missing = {k: v for k, v in rows[5].items() if k != "alcohol"}
    assert "alcohol" in send(server, missing)["detail"]
    window = MonitoringWindow()
    refresh(feed, window)
    traffic = window.traffic()
    assert (traffic.requests, traffic.rows, traffic.errors) == (6, 6, 1)
    assert traffic.statuses == {200: 5, 422: 1} and traffic.server_errors == 0
    assert traffic.error_rate == pytest.approx(1 / 6)
    assert traffic.versions == {"1": 6}
    assert traffic.p50_ms is not None and traffic.p99_ms is not None
    assert 0 < traffic.p50_ms <= traffic.p99_ms
    assert traffic.rate_per_s > 0
    assert window.unseen_counts() == {"coupon": 2}
    assert list(window.features().columns)[-1] == "coupon"
    assert len(window.features()) == 5 and len(window.refused()) == 1
    assert MonitoringWindow().traffic().error_rate == 0.0


def test_a_bad_token_and_a_deployment_that_stops_answering_are_one_line(
    wine: Any, tmp_path: Path
) -> None:
    server, rows = wine
    with pytest.raises(MonitoringError, match=r"answered 401: a valid bearer token") as info:
        RecordFeed(url_of(server), "wrong").pull()
    assert "\n" not in str(info.value)
    X, y = sample("wine")
    bundle = fit_bundle(tmp_path / "bundle", X, y, "classification")
    other = Server(bundle, tmp_path / "log")
    feed, window = RecordFeed(url_of(other)), MonitoringWindow()
    try:
        post(url_of(other), "/predict", rows[:2])
        assert refresh(feed, window).error is None and len(window) == 2
        assert feed.metadata()["task"] == "classification"
    finally:
        other.stop()
    result = refresh(feed, window)
    assert result.error is not None and "does not answer" in result.error
    assert "\n" not in result.error and len(window) == 2  # the window keeps what it has
    with pytest.raises(MonitoringError, match="does not answer"):
        feed.pull()
