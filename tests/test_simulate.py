"""Simulated traffic against real servers on 127.0.0.1: each scenario's shift where it
should be, labels arriving the set delay after their predictions, the run bounded in count
and time, loopback only, and `workbench simulate` end to end on a local deployment of a
registered model, its rows drawn from the run's held-out data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from pipelines.monitoring.feed import MonitoringError, RecordFeed
from pipelines.monitoring.simulate import NEW_COLUMN, Progress, check_loopback, simulate
from tests.serving_helpers import Server, free_port
from tests.test_monitoring_helpers import fit_bundle, records, sample, url_of


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list, list]]:
    root = tmp_path_factory.mktemp("wine")
    X, y = sample("wine")
    server = Server(fit_bundle(root / "bundle", X, y, "classification"), root / "log")
    try:
        yield url_of(server), records(X), list(y)
    finally:
        server.stop()


def logged(url: str, ids: tuple[int, ...]) -> list[dict[str, Any]]:
    found = RecordFeed(url).reread(ids[0] - 1, ids[-1])
    assert [r["id"] for r in found] == list(ids)
    return found


def source_of(inputs: dict[str, Any], rows: list[dict[str, Any]], shifted: tuple) -> int:
    """The position of the row a sent record came from (matched on the unshifted columns)."""
    [match] = [
        i
        for i, row in enumerate(rows)
        if all(inputs[k] == v for k, v in row.items() if k not in shifted)
    ]
    return match


def test_a_sudden_shift_starts_at_half_time_and_labels_follow_after_the_delay(wine: Any) -> None:
    url, rows, labels = wine
    summary = simulate(url, rows, labels, scenario="sudden", rate=100, count=20,
                       labels_after_s=0.3, seed=1)  # fmt: skip
    assert (summary.sent, summary.answered, summary.labels_sent) == (20, 20, 20)
    assert len(summary.shifted_columns) == 3 and summary.ended == "count"
    scales = {c: _std([r[c] for r in rows]) for c in summary.shifted_columns}
    for position, record in enumerate(logged(url, summary.request_ids)):
        [sent] = record["inputs"]
        origin = source_of(sent, rows, summary.shifted_columns)
        level = 1.0 if position >= 10 else 0.0
        for column in summary.shifted_columns:
            moved = (sent[column] - rows[origin][column]) / scales[column]
            assert moved == pytest.approx(2.0 * level)
        assert record["label"] == labels[origin]
        delay = datetime.fromisoformat(record["labelled_at"]) - datetime.fromisoformat(record["at"])
        assert delay.total_seconds() >= 0.3


def test_a_gradual_shift_grows_and_a_new_column_arrives_at_half_time(wine: Any) -> None:
    url, rows, labels = wine
    gradual = simulate(url, rows, None, scenario="gradual", rate=200, count=30, seed=2)
    column = gradual.shifted_columns[0]
    scale = _std([r[column] for r in rows])
    moves = []
    for record in logged(url, gradual.request_ids):
        [sent] = record["inputs"]
        origin = source_of(sent, rows, gradual.shifted_columns)
        moves.append((sent[column] - rows[origin][column]) / scale)
        assert record["label"] is None  # no labels asked for
    assert moves == pytest.approx([2.0 * i / 30 for i in range(30)], abs=0.07)
    added = simulate(url, rows, labels, scenario="new-column", rate=200, count=10,
                     labels_after_s=0)  # fmt: skip
    assert added.shifted_columns == (NEW_COLUMN,)
    unseen = [record["unseen"] for record in logged(url, added.request_ids)]
    assert unseen == [[]] * 5 + [[NEW_COLUMN]] * 5


def test_a_selected_shift_sends_rows_unchanged_drawn_from_the_highest_ranking(wine: Any) -> None:
    url, rows, labels = wine
    summary = simulate(url, rows, labels, scenario="sudden", shift="select", rate=200,
                       count=40, labels_after_s=0, seed=3)  # fmt: skip
    assert summary.shift == "select" and len(summary.shifted_columns) == 3
    scales = {c: _std([r[c] for r in rows]) for c in summary.shifted_columns}
    means = {c: sum(r[c] for r in rows) / len(rows) for c in summary.shifted_columns}
    scores = []
    for record in logged(url, summary.request_ids):
        [sent] = record["inputs"]
        [origin] = [i for i, row in enumerate(rows) if row == sent]  # sent as it is
        assert record["label"] == labels[origin]  # the label follows the row
        scores.append(sum((sent[c] - means[c]) / scales[c] for c in scales))
    first, second = scores[:20], scores[20:]
    cutoff = sorted(
        (sum((r[c] - means[c]) / scales[c] for c in scales) for r in rows), reverse=True
    )[round(0.3 * len(rows)) - 1]
    assert min(second) >= cutoff - 1e-9  # every row after half-time is from the top 30% ...
    assert sum(second) / 20 > sum(first) / 20 + 1.0  # ... so the columns' mean moved


def test_the_run_is_bounded_in_time_and_shows_progress(wine: Any) -> None:
    url, rows, labels = wine
    seen: list[Progress] = []
    summary = simulate(url, rows, labels, rate=20, duration_s=0.6, labels_after_s=0.1,
                       on_progress=seen.append)  # fmt: skip
    assert summary.ended == "duration" and 8 <= summary.sent <= 13
    assert summary.labels_sent == summary.answered == summary.sent
    assert summary.duration_s < 1.5
    assert seen and seen[-1].sent == summary.sent and seen[-1].labels_waiting == 0
    assert seen[-1].line().startswith(f"{summary.sent} requests ({summary.sent} answered")
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()  # a demo or a screen stopping it
    stopped = simulate(url, rows, labels, rate=20, count=1000, labels_after_s=5, stop=stop)
    assert stopped.ended == "stopped" and 3 <= stopped.sent <= 9 and stopped.duration_s < 1


def test_only_loopback_and_sane_bounds_are_accepted(wine: Any) -> None:
    url, rows, labels = wine
    for outside in ("http://10.1.2.3:8000", "http://example.com", "file:///etc/passwd"):
        with pytest.raises(MonitoringError, match=r"only to 127\.0\.0\.1 or localhost"):
            check_loopback(outside)
    assert check_loopback("http://localhost:9/") == "http://localhost:9"
    with pytest.raises(MonitoringError, match=r"only to 127\.0\.0\.1"):
        simulate("http://192.168.0.1:80", rows, labels)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"rate": 0}, "--rate must be above 0"),
        ({"count": 0}, "--count must be 1 to"),
        ({"duration_s": 99999}, "--duration must be above 0 and at most"),
        ({"labels_after_s": -1}, "--labels-after must be"),
        ({"scenario": "chaos"}, "unknown scenario 'chaos'"),
        ({"scenario": "gradual", "shift": "twist"}, "unknown shift 'twist'"),
    ]
    for arguments, message in bad:
        with pytest.raises(MonitoringError, match=message):
            simulate(url, rows, labels, **arguments)
    with pytest.raises(MonitoringError, match="2 labels for 3 rows"):
        simulate(url, rows[:3], labels[:2])
    with pytest.raises(MonitoringError, match="no numeric column to shift"):
        simulate(url, [{"colour": "red"}] * 3, None, scenario="gradual")


def test_a_deployment_that_does_not_answer_ends_the_run_in_one_line(wine: Any) -> None:
    _, rows, labels = wine
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(MonitoringError, match=r"does not answer .*stopped after 2 requests") as e:
        simulate(url, rows, labels, rate=100, count=10)
    assert "\n" not in str(e.value)


def _std(values: list[float]) -> float:
    import statistics

    return statistics.pstdev(values)
