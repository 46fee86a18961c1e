"""A deployment's traffic as its watcher reads it from a real server's request log: per
version, requests, errors, latency, predictions, accuracy from labels that came later, and
unseen columns; read incrementally, late labels picked up."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.deploy.traffic import TrafficWindow
from tests.serving_helpers import CLEAN_STOP, Server, churn_rows, two_versions


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return two_versions(tmp_path_factory.mktemp("traffic"))


def test_traffic_per_version_with_errors_late_labels_and_unseen_columns(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    primary, challenger = bundles
    server = Server(
        primary, tmp_path / "log", extra=("--challenger", str(challenger), "--share", "0.5")
    )
    url = f"http://127.0.0.1:{server.port}"
    try:
        window = TrafficWindow(relabel_every=2)
        rows = churn_rows(20)
        answers = [server.call("POST", "/predict", row | {"new_feature": 1})[1] for row in rows]
        assert server.call("POST", "/predict", {"tenure_months": 1})[0] == 422
        first = {v.version: v for v in window.read(url).versions}  # poll 1: all so far
        # The refused request took the primary's turn: 21 turns at 0.5 give it 11.
        assert (first["1"].requests, first["1"].errors) == (11, 1)
        assert (first["2"].requests, first["2"].errors) == (10, 0)
        assert window.summary().unseen == {"new_feature": 20}
        assert first["1"].labelled == 0 and first["1"].accuracy is None
        assert first["1"].p50_ms is not None and first["1"].p99_ms >= first["1"].p50_ms
        assert sum(first["1"].predictions.values()) == 10

        expected: dict[str, list[bool]] = {"1": [], "2": []}
        for index, answer in enumerate(answers):
            [predicted] = answer["predictions"]
            right = index % 4 != 0  # every fourth label disagrees with the prediction
            label = predicted if right else next(c for c in answer["classes"] if c != predicted)
            status, _, _ = server.call(
                "POST", "/feedback", {"request_id": answer["request_id"], "label": label}
            )
            assert status == 200
            expected[str(answer["version"])].append(right)
        second = {v.version: v for v in window.read(url).versions}  # poll 2 re-reads the window
        for version, rights in expected.items():
            assert second[version].labelled == len(rights)
            assert second[version].accuracy == pytest.approx(sum(rights) / len(rights))
        third = {v.version: v for v in window.read(url).versions}  # nothing new: no duplicates
        assert third["1"].requests == 11 and third["2"].requests == 10
        assert window.last_id == max(a["request_id"] for a in answers) + 1
    finally:
        assert server.stop() == CLEAN_STOP
