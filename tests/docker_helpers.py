"""A real Docker engine for image and container tests, and a real model to put in them.

The tests skip with the reason where no engine answers, unless WORKBENCH_REQUIRE_DOCKER=1
(CI sets it, after starting an engine and building the local base image): there a missing
engine or base image is a failure, not a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REQUIRE = os.environ.get("WORKBENCH_REQUIRE_DOCKER") == "1"
BASE_IMAGE = os.environ.get("WORKBENCH_TEST_BASE_IMAGE", "workbench-base/python:3.11")


def engine_or_skip() -> Any:
    from pipelines.packaging.engine import EngineError, connect, image_info

    try:
        client = connect(timeout_s=5)
    except EngineError as exc:
        if REQUIRE:
            pytest.fail(f"WORKBENCH_REQUIRE_DOCKER=1 but {exc}")
        pytest.skip(str(exc))
    if image_info(client, BASE_IMAGE) is None:
        message = f"no base image {BASE_IMAGE} (build it with .ci/base-image.sh)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    return client


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    client = engine_or_skip()
    yield client
    client.close()


@dataclass(frozen=True)
class TrainedModel:
    root: Path  # a workspace holding one finished wine sweep
    run_id: int


@pytest.fixture(scope="session")
def trained_wine(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """A real 2-trial random-forest sweep on wine, whose best run keeps its model."""
    from pipelines.runs.details import list_runs
    from pipelines.sweeps.lifecycle import create_sweep
    from pipelines.sweeps.worker import run_worker
    from storage.handle import open_workspace
    from tests.sweep_helpers import add_sample

    root = tmp_path_factory.mktemp("trained") / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
        spec = {"dataset": "wine", "target": "cultivar", "model": "random_forest"}
        spec |= {"metric": "accuracy", "trials": 2, "folds": 3, "pruner": "none"}
        sweep_id = create_sweep(ws, spec).sweep.id
        run_worker(ws, sweep_id)
        kept = [r for r in list_runs(ws, sweep_id=sweep_id) if r.artifact_sha]
    finally:
        ws.close()
    assert kept, "the sweep kept no model"
    return TrainedModel(root, kept[0].id)
