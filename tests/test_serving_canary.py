"""A canary on one server: the challenger answers exactly its share of requests, every
answer and log record names the version that answered, and incompatible pairs are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.serving.canary import Lane, Router
from pipelines.serving.served import load_served
from tests.serving_helpers import CLEAN_STOP, Server, churn_rows, two_versions


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return two_versions(tmp_path_factory.mktemp("canary"))


def test_the_challenger_answers_exactly_its_share_and_the_log_says_who(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    primary, challenger = bundles
    server = Server(
        primary, tmp_path / "log", extra=("--challenger", str(challenger), "--share", "0.25")
    )
    try:
        _, health, _ = server.call("GET", "/health")
        assert health["canary"] == {"version": "2", "share": 0.25}
        answered = [server.call("POST", "/predict", row)[1]["version"] for row in churn_rows(40)]
        assert answered.count("2") == 10 and answered.count("1") == 30
        _, page, _ = server.call("GET", "/monitoring/records?after=0&limit=100")
        logged = [r["version"] for r in page["records"] if r["status"] == 200]
        assert logged[-40:] == answered
        _, metadata, _ = server.call("GET", "/metadata")
        assert metadata["version"] == "1" and metadata["canary"]["version"] == "2"
    finally:
        assert server.stop() == CLEAN_STOP


def test_a_share_outside_0_1_and_a_challenger_of_another_task_are_refused(
    bundles: tuple[Path, Path],
) -> None:
    primary, challenger = bundles
    lane = Lane(load_served(primary), None, "primary")
    other = Lane(load_served(challenger), None, "challenger")
    with pytest.raises(ValueError, match="share must be above 0 and below 1"):
        Router(lane, other, 1.0)
    data = other.served.manifest.to_dict() | {"task": "regression"}
    from dataclasses import replace

    from pipelines.serving.bundle import BundleManifest

    regression = Lane(replace(other.served, manifest=BundleManifest.from_dict(data)), None, "c")
    with pytest.raises(ValueError, match="is a regression model, the primary a classification one"):
        Router(lane, regression, 0.5)
